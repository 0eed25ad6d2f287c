#!/bin/bash
# A 20 MB message arrives intact while postern's memory stays bounded: past
# limits.spool_memory the message goes to an (unlinked) file in spool_dir,
# postern's peak resident size (VmHWM) stays well below the message size, and
# nothing is left in spool_dir afterwards.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink sha256sum

size=$((20 * 1024 * 1024))
max_hwm_kb=16384

start_sink sink
mkdir -p "$T/spool"
px_port=$(free_port)
{
	postern_config "$px_port" "$sink_port"
	cat <<EOF
limits:
  max_message_size: 30M
  spool_memory: 256K
spool_dir: $T/spool
timeouts:
  backend_data: 60s
EOF
} >"$T/px.yaml"
start_postern px "$px_port" "$T/px.yaml"

"$PYTHON" "$SMTPTOOL" genmsg --size "$size" --seed 20 --dots >"$T/big"
SMTP_TIMEOUT=90 smtp "$px_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<big@client.test>\r\n' R \
	'S:RCPT TO:<rcpt@sink.test>\r\n' R 'S:DATA\r\n' R "D:$T/big" R 'S:QUIT\r\n' R \
	>"$T/client.out" 2>"$T/client.err" &
client=$!

# While the message streams in, postern holds it in a file under spool_dir.
spooled=no
for ((i = 0; i < 300; i++)); do
	for fd in "/proc/$px_pid/fd/"*; do
		[[ $(readlink "$fd" 2>/dev/null) == "$T/spool/"* ]] && spooled=yes
	done
	[ $spooled = yes ] && break
	kill -0 "$client" 2>/dev/null || break
	sleep 0.05
done
wait "$client"
check_eq "client exit status" 0 $?
out=$(cat "$T/client.out")
check_match "20 MB message accepted" "$out" '^250 2\.0\.0 Ok$'
check_eq "the message was spooled to a file in spool_dir" yes "$spooled"

wait_until 10 test "$(sink_count sink)" -ge 1
check_eq "one message at smtp-sink" 1 "$(sink_count sink)"
check_eq "20 MB message arrives intact" "$(digest "$T/big" "<big@client.test>") 1" "$(sink_digest sink)"

hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$px_pid/status")
echo "postern VmHWM after a $size-octet message: ${hwm:-?} kB"
if grep -q __asan_init "$POSTERN"; then
	echo "note - postern is built with AddressSanitizer; the memory bound is not checked"
else
	check_le "postern's peak resident memory (kB) stays below $max_hwm_kb" "$max_hwm_kb" "${hwm:-999999}"
fi
check_eq "nothing left in spool_dir" "" "$(ls -A "$T/spool")"
check_match "transaction logged with the size" "$(cat "$px_log")" \
	"event=transaction .*from=[<\"]big@client\.test[>\"] .*size=[0-9]{8} .*status=250"

it_done
