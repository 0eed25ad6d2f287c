#!/bin/bash
# SIGTERM: the listener closes at once, a session in the middle of DATA may
# finish and its message is delivered, an idle session is ended with 421 once
# timeouts.shutdown has passed, and postern exits 0.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink

start_sink sink
start_px px "$sink_port" $'timeouts:\n  shutdown: 3s\n  client: 30s'

printf 'Subject: in flight\n\nthe first half\n' >"$T/half1"
printf 'the second half\n' >"$T/half2"
cat "$T/half1" "$T/half2" >"$T/whole"
sed 's/$/\r/' "$T/half1" >"$T/half1.crlf"

# A session in the middle of DATA, which sends the rest 1.5 s later.
smtp "$px_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<flight@client.test>\r\n' R \
	'S:RCPT TO:<r@sink.test>\r\n' R 'S:DATA\r\n' R "F:$T/half1.crlf" Z:1.5 "D:$T/half2" R \
	'S:QUIT\r\n' R E >"$T/flight.out" 2>"$T/flight.err" &
flight=$!
# An idle session.
SMTP_TIMEOUT=15 smtp "$px_port" R 'S:EHLO client.test\r\n' R E >"$T/idle.out" 2>"$T/idle.err" &
idle=$!

check_true "in-flight session reached DATA" wait_until 5 grep -q '^354 ' "$T/flight.out"
check_true "idle session greeted" wait_until 5 grep -q '^250 ' "$T/idle.out"
start=$(date +%s%N)
kill -TERM "$px_pid"
check_true "the listener is closed at once after SIGTERM" wait_until 1 eval "! port_listening $px_port"
out=$(smtp "$px_port" R)
check_match "a new connection is refused" "$out" '^<CONNECT-FAILED'

wait "$flight"
out=$(cat "$T/flight.out")
check_match "in-flight message accepted after SIGTERM" "$out" '^250 2\.0\.0 Ok$'
wait_until 3 test "$(sink_count sink)" -ge 1
check_eq "in-flight message delivered intact" "$(digest "$T/whole" "<flight@client.test>") 1" \
	"$(sink_digest sink)"

wait "$idle"
out=$(cat "$T/idle.out")
check_match "idle session ended with 421" "$(tail -n 2 <<<"$out" | head -n 1)" '^421 4\.[0-9]\.[0-9] '
check_eq "idle session then closed" "<EOF>" "$(tail -n 1 <<<"$out")"

# postern exits by itself, with status 0, about timeouts.shutdown after SIGTERM.
for ((i = 0; i < 100; i++)); do
	kill -0 "$px_pid" 2>/dev/null || break
	sleep 0.1
done
elapsed=$((($(date +%s%N) - start) / 1000000))
kill -0 "$px_pid" 2>/dev/null
check_eq "postern has exited" 1 $?
wait "$px_pid"
check_eq "postern's exit status" 0 $?
check_true "it waited for timeouts.shutdown (3 s), not much longer (took $elapsed ms)" \
	test "$elapsed" -ge 2500 -a "$elapsed" -le 8000

it_done
