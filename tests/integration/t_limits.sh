#!/bin/bash
# Each limit of the limits: section, at and past its value.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink

start_sink sink
mkdir -p "$T/spool"

# smtp PORT steps, in the background, its replies in FILE.
smtp_bg() { # FILE PORT STEPS...
	local file=$1
	shift
	smtp "$@" >"$file" 2>"$file.err" &
	IT_BG=$!
}
wait_greeted() { # FILE: until the session has its greeting
	wait_until 5 grep -q '^220 ' "$1"
}

# --- max_sessions: the third concurrent session gets 421 and is closed.
start_px pa "$sink_port" $'limits:\n  max_sessions: 2\n  max_sessions_per_client: 10'
smtp_bg "$T/held1" "$pa_port" R Z:2 'S:QUIT\r\n' R
h1=$IT_BG
smtp_bg "$T/held2" "$pa_port" R Z:2 'S:QUIT\r\n' R
h2=$IT_BG
check_true "max_sessions: first session greeted" wait_greeted "$T/held1"
check_true "max_sessions: second session greeted" wait_greeted "$T/held2"
out=$(smtp "$pa_port" E)
check_eq "max_sessions: third session refused" \
	"421 4.7.0 postern.test Error: too many connections|<EOF>" "$(tr '\n' '|' <<<"$out" | sed 's/|$//')"
wait "$h1" "$h2"
check_match "max_sessions: held sessions were not disturbed" "$(cat "$T/held1" "$T/held2")" \
	'^221 2\.0\.0 Bye$'
check_match "max_sessions: a new session is greeted once the others left" \
	"$(smtp "$pa_port" R 'S:QUIT\r\n' R)" '^220 postern\.test ESMTP postern$'

# --- max_sessions_per_client: per client address.
start_px pb "$sink_port" $'limits:\n  max_sessions: 10\n  max_sessions_per_client: 1'
smtp_bg "$T/held3" "$pb_port" R Z:2 'S:QUIT\r\n' R
h3=$IT_BG
check_true "max_sessions_per_client: first session greeted" wait_greeted "$T/held3"
out=$(smtp "$pb_port" E)
check_eq "max_sessions_per_client: second session from 127.0.0.1 refused" \
	"421 4.7.0 postern.test Error: too many connections|<EOF>" "$(tr '\n' '|' <<<"$out" | sed 's/|$//')"
out=$(SMTP_BIND=127.0.0.2 smtp "$pb_port" R 'S:QUIT\r\n' R)
check_match "max_sessions_per_client: a session from 127.0.0.2 is greeted" "$out" \
	'^220 postern\.test ESMTP postern$'
wait "$h3"

# --- the per-message and per-line limits.
start_px pc "$sink_port" "limits:
  max_recipients: 3
  max_message_size: 100K
  max_command_line: 512
  max_text_line: 1000
  max_errors: 3
  spool_memory: 1K
spool_dir: $T/spool"

check_match "max_message_size: EHLO offers SIZE 102400 (smtp-sink has no SIZE)" \
	"$(smtp "$pc_port" R 'S:EHLO client.test\r\n' R 'S:QUIT\r\n' R)" '^250[- ]SIZE 102400$'

out=$(smtp "$pc_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<many@client.test>\r\n' R \
	'S:RCPT TO:<r1@sink.test>\r\n' R 'S:RCPT TO:<r2@sink.test>\r\n' R \
	'S:RCPT TO:<r3@sink.test>\r\n' R 'S:RCPT TO:<r4@sink.test>\r\n' R 'S:DATA\r\n' R \
	'S:Subject: rcpt limit\r\n\r\nbody\r\n.\r\n' R 'S:QUIT\r\n' R)
check_eq "max_recipients: three accepted, the fourth refused" \
	"$(joined "250 2.1.5 Ok" "250 2.1.5 Ok" "250 2.1.5 Ok" "452 4.5.3 Error: too many recipients" \
		"354 End data with <CR><LF>.<CR><LF>" "250 2.0.0 Ok")" \
	"$(grep -E '^(250 2\.1\.5|452|354|250 2\.0\.0)' <<<"$out" | tr '\n' '|' | sed 's/|$//')"
wait_until 3 test "$(sink_count sink)" -ge 1
check_eq "max_recipients: delivered to the three" "<r1@sink.test> <r2@sink.test> <r3@sink.test>" \
	"$(sed -n 's/^X-Rcpt-Args: //p' "$sink_dir"/m.* | tr '\n' ' ' | sed 's/ $//')"
rm -f "$sink_dir"/m.*

out=$(smtp "$pc_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<big@client.test> SIZE=200000\r\n' R \
	'S:NOOP\r\n' R 'S:QUIT\r\n' R)
check_match "max_message_size: MAIL SIZE= over the limit" "$out" \
	'^552 5\.3\.4 Error: message size exceeds limit$'
check_match "max_message_size: the session goes on" "$out" '^250 2\.0\.0 Ok$'

"$PYTHON" "$SMTPTOOL" genmsg --size 150000 --seed 3 >"$T/150k"
"$PYTHON" "$SMTPTOOL" genmsg --size 60000 --seed 4 --dots >"$T/60k"
out=$(smtp "$pc_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<big@client.test>\r\n' R \
	'S:RCPT TO:<r@sink.test>\r\n' R 'S:DATA\r\n' R "D:$T/150k" R \
	'S:MAIL FROM:<fits@client.test>\r\n' R 'S:RCPT TO:<r@sink.test>\r\n' R 'S:DATA\r\n' R \
	"D:$T/60k" R 'S:QUIT\r\n' R)
mapfile -t got < <(grep -E '^(354|[245][0-9][0-9] )' <<<"$out" | sed -n '/^354 /{n;p}')
check_eq "max_message_size: a 150 KB message refused after the data" \
	"552 5.3.4 Error: message size exceeds limit" "${got[0]:-<nothing>}"
check_eq "max_message_size: a 60 KB message accepted (in spool_dir past 1K)" \
	"250 2.0.0 Ok" "${got[1]:-<nothing>}"
wait_until 3 test "$(sink_count sink)" -ge 1
check_eq "max_message_size: only the 60 KB message reached smtp-sink, intact" \
	"$(digest "$T/60k" "<fits@client.test>") 1" "$(sink_digest sink)"
check_eq "spool_memory: nothing left in spool_dir" "" "$(ls -A "$T/spool")"
rm -f "$sink_dir"/m.*

# max_command_line counts the CRLF: 512 octets pass, 513 do not.
addr512=$(printf 'RCPT TO:<%s@sink.test>' "$(head -c 490 /dev/zero | tr '\0' a)")
addr513=$(printf 'RCPT TO:<%s@sink.test>' "$(head -c 491 /dev/zero | tr '\0' a)")
out=$(smtp "$pc_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<long@client.test>\r\n' R \
	"S:$addr513\r\n" R 'S:NOOP\r\n' R "S:$addr512\r\n" R 'S:QUIT\r\n' R)
mapfile -t got < <(sed -n '/^250 2\.1\.0/,$p' <<<"$out")
check_eq "max_command_line: 513 octets refused" "500 5.5.2 Error: line too long" "${got[1]:-<nothing>}"
check_eq "max_command_line: the session goes on" "250 2.0.0 Ok" "${got[2]:-<nothing>}"
check_eq "max_command_line: 512 octets relayed" "250 2.1.5 Ok" "${got[3]:-<nothing>}"

# max_text_line counts the CRLF: a 999-octet line (1001 with CRLF) is refused.
{
	printf 'Subject: long line\n\n'
	head -c 999 /dev/zero | tr '\0' x
	printf '\nshort\n'
} >"$T/longline"
out=$(smtp "$pc_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<line@client.test>\r\n' R \
	'S:RCPT TO:<r@sink.test>\r\n' R 'S:DATA\r\n' R "D:$T/longline" R 'S:QUIT\r\n' R)
check_eq "max_text_line: refused after the data" "500 5.5.2 Error: message line too long" \
	"$(sed -n '/^354 /{n;p}' <<<"$out")"
sleep 0.5
check_eq "max_text_line: nothing reached smtp-sink" 0 "$(sink_count sink)"

# ... but the dot added for transparency does not count (RFC 5321
# 4.5.3.1.6): a 998-octet line that starts with "." is 1001 octets on the
# wire and must pass.
{
	printf 'Subject: long dot line\n\n.'
	head -c 997 /dev/zero | tr '\0' x
	printf '\nshort\n'
} >"$T/longdot"
out=$(smtp "$pc_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<dotline@client.test>\r\n' R \
	'S:RCPT TO:<r@sink.test>\r\n' R 'S:DATA\r\n' R "D:$T/longdot" R 'S:QUIT\r\n' R)
check_eq "max_text_line: the stuffing dot is not counted" "250 2.0.0 Ok" \
	"$(sed -n '/^354 /{n;p}' <<<"$out")"
wait_until 3 test "$(sink_count sink)" -ge 1
check_eq "max_text_line: the 998-octet dot line arrives intact" \
	"$(digest "$T/longdot" "<dotline@client.test>") 1" "$(sink_digest sink)"
rm -f "$sink_dir"/m.*

# max_errors: the third error is answered, then 421 and close.
unknown="500 5.5.2 Error: command not recognized"
out=$(smtp "$pc_port" R 'S:EHLO client.test\r\n' R 'S:FOO\r\nBAR\r\nBAZ\r\nQUX\r\n' E)
check_eq "max_errors: 3 errors, then 421 and close" \
	"$(joined "$unknown" "$unknown" "$unknown" "421 4.7.0 postern.test Error: too many errors" "<EOF>")" \
	"$(sed -n '/^250 /,$p' <<<"$out" | sed 1d | tr '\n' '|' | sed 's/|$//')"

# --- max_text_line: 0 turns the line limit off (a recording backend, which
# has no line limit of its own).
start_rawsink raw
start_px pd "$raw_port" $'limits:\n  max_text_line: 0'
{
	printf 'Subject: very long line\n\n'
	head -c 5000 /dev/zero | tr '\0' y
	printf '\n'
} >"$T/verylong"
out=$(smtp "$pd_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<line@client.test>\r\n' R \
	'S:RCPT TO:<r@sink.test>\r\n' R 'S:DATA\r\n' R "D:$T/verylong" R 'S:QUIT\r\n' R)
check_match "max_text_line 0: a 5000-octet line accepted" "$out" '^250 2\.0\.0 Ok: queued$'
sed 's/$/\r/' "$T/verylong" >"$T/verylong.wire"
check_file_eq "max_text_line 0: the line arrives intact" "$T/verylong.wire" "$raw_dir/msg-1.wire"

it_done
