#!/bin/bash
# Load and pipelining: 100 messages over 10 parallel sessions with
# smtp-source, swaks --pipeline, and 10 parallel sessions that pipeline 10
# transactions each (DATA and BDAT from the client); every message must
# arrive at smtp-sink exactly once and byte for byte.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink smtp-source swaks sha256sum

start_sink sink
px_port=$(free_port)
postern_config "$px_port" "$sink_port" >"$T/px.yaml"
start_postern px "$px_port" "$T/px.yaml"

# --- smtp-source: 10 sessions, 100 messages, several per session.
"$PYTHON" "$SMTPTOOL" genmsg --size 3000 --seed 7 --dots >"$T/src.msg"
timeout 60 smtp-source -s 10 -m 100 -d -F "$T/src.msg" -f source@client.test \
	-t rcpt@sink.test "127.0.0.1:$px_port" >"$T/smtp-source.out" 2>&1
check_eq "smtp-source exit status" 0 $?
wait_until 5 test "$(sink_count sink)" -ge 100
check_eq "100 messages at smtp-sink" 100 "$(sink_count sink)"
# smtp-source sends an empty line before the final dot.
{ cat "$T/src.msg"; echo; } >"$T/src.expected"
want=$(digest "$T/src.expected" "<source@client.test>")
got=$(sink_digest sink | sort | uniq -c | sed 's/^ *//')
check_eq "all 100 arrive intact, one recipient each" "100 $want 1" "$got"
check_eq "100 transactions logged" 100 "$(grep -c 'event=transaction.*status=250' "$px_log")"
rm -f "$sink_dir"/m.*

# --- swaks --pipeline with several recipients.
{ cat "$T/src.msg"; echo .; } >"$T/src.swaks"
sw=$(swaks --pipeline --server 127.0.0.1 --port "$px_port" --helo client.test \
	--from swaks@client.test --to a@sink.test,b@sink.test,c@sink.test --data @"$T/src.swaks" 2>&1)
check_eq "swaks --pipeline exit status" 0 $?
check_match "swaks pipelined its commands" "$sw" '^ -> RCPT TO:<c@sink\.test>$'
check_eq "replies in order" "$(joined "250 2.1.0 Ok" "250 2.1.5 Ok" "250 2.1.5 Ok" "250 2.1.5 Ok" \
	"354 End data with <CR><LF>.<CR><LF>" "250 2.0.0 Ok" "221 2.0.0 Bye")" \
	"$(sed -n '/^<-  250 2\.1\.0/,$s/^<-  //p' <<<"$sw" | tr '\n' '|' | sed 's/|$//')"
check_eq "swaks message arrives intact, 3 recipients" "$(digest "$T/src.msg" "<swaks@client.test>") 3" \
	"$(sink_digest sink)"
rm -f "$sink_dir"/m.*

# --- 10 parallel sessions, each pipelining 10 transactions: after EHLO the
# client writes everything it may without waiting. Odd sessions use DATA and
# must wait for the 354, so the next transaction's commands go out together
# with the message; even ones use BDAT (postern offers CHUNKING and turns it
# into DATA for smtp-sink) and wait for nothing.
for s in $(seq 1 10); do
	for m in $(seq 1 10); do
		echo "$((500 + 997 * m + 131 * s)) $((100 * s + m)) $T/s$s.m$m"
	done
done | "$PYTHON" "$SMTPTOOL" genmsgs --dots
: >"$T/expected"
for s in $(seq 1 10); do
	steps=(R 'S:EHLO client.test\r\n' R)
	for m in $(seq 1 10); do
		f="$T/s$s.m$m"
		digest "$f" "<s$s.m$m@client.test>" >>"$T/expected"
		if [ $((s % 2)) = 1 ]; then
			# The previous message's final reply comes first, then MAIL, RCPT, 354.
			steps+=("S:MAIL FROM:<s$s.m$m@client.test>\r\nRCPT TO:<r$s@sink.test>\r\nDATA\r\n"
				"R$((m == 1 ? 3 : 4))" "D:$f")
		else
			steps+=("S:MAIL FROM:<s$s.m$m@client.test>\r\nRCPT TO:<r$s@sink.test>\r\n"
				"B:$f:1000")
		fi
	done
	steps+=('S:QUIT\r\n' E)
	smtp "$px_port" "${steps[@]}" >"$T/session$s.out" 2>"$T/session$s.err" &
	pids[s]=$!
done
for s in $(seq 1 10); do
	wait "${pids[s]}"
	check_eq "session $s: client exit status" 0 $?
	out=$(cat "$T/session$s.out")
	check_eq "session $s: 10 MAIL accepted" 10 "$(grep -c '^250 2\.1\.0 Ok$' <<<"$out")"
	if [ $((s % 2)) = 1 ]; then
		check_eq "session $s: 10 messages accepted" 10 "$(grep -c '^250 2\.0\.0 Ok$' <<<"$out")"
		check_eq "session $s: 10 times 354" 10 "$(grep -c '^354 ' <<<"$out")"
	else
		# One reply per chunk: postern's own for each but the last, then the
		# backend's final reply (smtp-sink: "250 2.0.0 Ok").
		chunks=0
		for m in $(seq 1 10); do
			chunks=$((chunks + ($(sed 's/$/\r/' "$T/s$s.m$m" | wc -c) + 999) / 1000))
		done
		check_eq "session $s: one reply per BDAT chunk" "$chunks" \
			"$(grep -E '^250 [0-9]\.[0-9]+\.[0-9]+' <<<"$out" | grep -vc '^250 2\.1\.')"
	fi
	check_no_match "session $s: no error reply" "$out" '^[45][0-9][0-9] '
	check_match "session $s: QUIT answered" "$out" '^221 2\.0\.0 Bye$'
done
wait_until 5 test "$(sink_count sink)" -ge 100
check_eq "100 pipelined messages at smtp-sink" 100 "$(sink_count sink)"
check_eq "each pipelined message arrives once and intact" "$(sort "$T/expected" | sed 's/$/ 1/')" \
	"$(sink_digest sink | sort)"

# --- BDAT from the client, fully pipelined (nothing to wait for), to a
# backend that offers CHUNKING: 5 sessions of 10 messages in chunks of 1000.
start_rawsink raw --caps "PIPELINING,8BITMIME,ENHANCEDSTATUSCODES,CHUNKING"
px2_port=$(free_port)
postern_config "$px2_port" "$raw_port" >"$T/px2.yaml"
start_postern px2 "$px2_port" "$T/px2.yaml"
out=$(smtp "$px2_port" R 'S:EHLO client.test\r\n' R 'S:QUIT\r\n' R)
check_match "EHLO offers CHUNKING when the backend does" "$out" '^250[- ]CHUNKING$'
: >"$T/expected.bdat"
for s in $(seq 1 5); do
	steps=(R 'S:EHLO client.test\r\n' R)
	for m in $(seq 1 10); do
		f="$T/s$s.m$m"
		sed 's/$/\r/' "$f" | sha256sum | cut -d' ' -f1 >>"$T/expected.bdat"
		steps+=("S:MAIL FROM:<b$s.m$m@client.test>\r\nRCPT TO:<r$s@sink.test>\r\n" "B:$f:1000")
	done
	steps+=('S:QUIT\r\n' E)
	smtp "$px2_port" "${steps[@]}" >"$T/bdat$s.out" 2>"$T/bdat$s.err" &
	pids[s]=$!
done
for s in $(seq 1 5); do
	wait "${pids[s]}"
	out=$(cat "$T/bdat$s.out")
	check_eq "BDAT session $s: 10 messages accepted" 10 "$(grep -c '^250 2\.0\.0 Ok: queued$' <<<"$out")"
	check_no_match "BDAT session $s: no error reply" "$out" '^[45][0-9][0-9] '
	check_match "BDAT session $s: QUIT answered" "$out" '^221 2\.0\.0 Bye$'
done
got=$(for f in "$raw_dir"/msg-*.wire; do sha256sum <"$f" | cut -d' ' -f1; done | sort)
check_eq "each BDAT message arrives once and intact" "$(sort "$T/expected.bdat")" "$got"
check_no_match "postern sent BDAT to the backend, not DATA" "$(cat "$raw_dir/commands.log")" \
	'^[0-9]+: DATA$'

it_done
