#!/bin/bash
# The plain relay: postern's own replies, EHLO, one message and a
# multi-recipient message through to smtp-sink, the transaction log line, and
# how the client address reaches the backend in each backend.xclient mode.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink swaks

start_sink sink
px_port=$(free_port)
{
	postern_config "$px_port" "$sink_port"
	printf 'limits:\n  max_errors: 100\n'
} >"$T/px.yaml"
start_postern px "$px_port" "$T/px.yaml"

# --- postern's own replies, in protocol order.
out=$(smtp "$px_port" R \
	'S:MAIL FROM:<a@client.test>\r\n' R \
	'S:HELO client.test\r\n' R \
	'S:RCPT TO:<b@sink.test>\r\n' R \
	'S:DATA\r\n' R \
	'S:MAIL FROM:<a@client.test>\r\n' R \
	'S:MAIL FROM:<c@client.test>\r\n' R \
	'S:DATA\r\n' R \
	'S:RSET\r\n' R \
	'S:NOOP\r\n' R \
	'S:FOO bar\r\n' R \
	'S:VRFY root\r\n' R \
	'S:EXPN staff\r\n' R \
	'S:STARTTLS\r\n' R \
	'S:AUTH PLAIN AGZvbwBiYXI=\r\n' R \
	'S:XCLIENT ADDR=192.0.2.1\r\n' R \
	'S:XFORWARD ADDR=192.0.2.1\r\n' R \
	'S:QUIT\r\n' R E)
mapfile -t got <<<"$out"
expect=(
	"greeting|220 postern.test ESMTP postern"
	"MAIL before HELO|503 5.5.1 Error: send HELO/EHLO first"
	"HELO|250 postern.test"
	"RCPT before MAIL|503 5.5.1 Error: need MAIL command"
	"DATA before MAIL|503 5.5.1 Error: need MAIL command"
	"MAIL relayed from smtp-sink|250 2.1.0 Ok"
	"nested MAIL|503 5.5.1 Error: nested MAIL command"
	"DATA before RCPT|503 5.5.1 Error: need RCPT command"
	"RSET|250 2.0.0 Ok"
	"NOOP|250 2.0.0 Ok"
	"unknown command|500 5.5.2 Error: command not recognized"
	"VRFY|502 5.5.1 Error: command not implemented"
	"EXPN|502 5.5.1 Error: command not implemented"
	"STARTTLS|502 5.5.1 Error: command not implemented"
	"AUTH|502 5.5.1 Error: command not implemented"
	"XCLIENT from a client|502 5.5.1 Error: command not implemented"
	"XFORWARD from a client|502 5.5.1 Error: command not implemented"
	"QUIT|221 2.0.0 Bye"
	"connection closed after QUIT|<EOF>"
)
for i in "${!expect[@]}"; do
	check_eq "local reply: ${expect[i]%%|*}" "${expect[i]#*|}" "${got[i]:-<nothing>}"
done
check_eq "no replies beyond the expected ones" "${#expect[@]}" "${#got[@]}"

# --- one message, through swaks, arrives byte for byte.
printf '%s\n' 'From: <sender@client.test>' 'To: <rcpt@sink.test>' 'Subject: basic relay' '' \
	'Line one.' '.A line that starts with a dot.' '..Two dots.' '' 'Last line.' >"$T/msg1"
{ cat "$T/msg1"; echo .; } >"$T/msg1.swaks"
sw=$(swaks --server 127.0.0.1 --port "$px_port" --helo client.test --from sender@client.test \
	--to rcpt@sink.test --data @"$T/msg1.swaks" 2>&1)
check_eq "swaks exit status" 0 $?
check_match "final reply is smtp-sink's, relayed" "$sw" '^<-  250 2\.0\.0 Ok$'
check_eq "one message at smtp-sink" 1 "$(sink_count sink)"
f=$(sink_files sink | head -n 1)
sink_body "$f" >"$T/got1"
check_file_eq "message arrives byte for byte" "$T/msg1" "$T/got1"
check_match "smtp-sink saw the envelope sender" "$(cat "$f")" '^X-Mail-Args: <sender@client.test>'

# --- several recipients, in order.
rm -f "$sink_dir"/m.*
sw=$(swaks --server 127.0.0.1 --port "$px_port" --helo client.test --from multi@client.test \
	--to r1@sink.test,r2@sink.test,r3@sink.test --data @"$T/msg1.swaks" 2>&1)
check_eq "swaks exit status (3 recipients)" 0 $?
check_eq "three RCPT replies relayed" 3 "$(grep -c '^<-  250 2\.1\.5 Ok' <<<"$sw")"
check_eq "one message for three recipients" 1 "$(sink_count sink)"
f=$(sink_files sink | head -n 1)
check_eq "recipients in order" "<r1@sink.test> <r2@sink.test> <r3@sink.test>" \
	"$(sed -n 's/^X-Rcpt-Args: //p' "$f" | tr '\n' ' ' | sed 's/ $//')"
sink_body "$f" >"$T/got2"
check_file_eq "multi-recipient message arrives byte for byte" "$T/msg1" "$T/got2"

# --- EHLO, answered from the backend's capabilities, without the ones
# postern does not relay (smtp-sink announces AUTH, XCLIENT and XFORWARD).
out=$(smtp "$px_port" R 'S:EHLO client.test\r\n' R 'S:QUIT\r\n' R)
check_match "EHLO first line" "$out" '^250-postern\.test$'
for kw in PIPELINING 8BITMIME ENHANCEDSTATUSCODES DSN; do
	check_match "EHLO offers $kw" "$out" "^250[- ]$kw\$"
done
for kw in STARTTLS AUTH XCLIENT XFORWARD; do
	check_no_match "EHLO does not offer $kw" "$out" "^250[- ]$kw( |\$)"
done

# --- one log line per transaction.
wait_until 3 grep -q 'event=transaction.*from=<multi@client.test>' "$px_log"
tl=$(grep 'event=transaction' "$px_log")
check_eq "two delivered transactions logged" 2 "$(grep -c 'status=250 ' <<<"$tl")"
check_match "transaction line for the multi-recipient message" "$tl" \
	'client=127\.0\.0\.1:[0-9]+ .*helo="?client\.test"? .*from=<multi@client\.test> '`
	`'.*rcpt=<r1@sink\.test>,<r2@sink\.test>,<r3@sink\.test> .*size=[0-9]+ .*status=250 '`
	`'.*reply="?250 2\.0\.0 Ok.* duration='

# --- the real client address reaches the backend (recording backend).
printf 'Subject: xclient\n\nbody\n' >"$T/msg2"
relay_one() { # PORT [BIND]
	local bind=()
	[ -n "${2:-}" ] && bind=(--bind "$2")
	"$PYTHON" "$SMTPTOOL" client "${bind[@]}" 127.0.0.1 "$1" R 'S:EHLO client.test\r\n' R \
		'S:MAIL FROM:<x@client.test>\r\n' R 'S:RCPT TO:<y@sink.test>\r\n' R 'S:DATA\r\n' R \
		"D:$T/msg2" R 'S:QUIT\r\n' R
}
modes=(
	"auto|XCLIENT ADDR NAME PORT PROTO HELO|XCLIENT"
	"auto|XFORWARD NAME ADDR PROTO HELO|XFORWARD"
	"xforward|XCLIENT ADDR NAME PORT PROTO HELO,XFORWARD NAME ADDR PROTO HELO|XFORWARD"
	"off|XCLIENT ADDR NAME PORT PROTO HELO,XFORWARD NAME ADDR PROTO HELO|none"
)
n=0
for m in "${modes[@]}"; do
	IFS='|' read -r mode caps want <<<"$m"
	n=$((n + 1))
	start_rawsink "raw$n" --caps "PIPELINING,8BITMIME,ENHANCEDSTATUSCODES,$caps"
	rport="raw${n}_port"
	rdir="raw${n}_dir"
	p=$(free_port)
	postern_config "$p" "${!rport}" "$mode" >"$T/pxr$n.yaml"
	start_postern "pxr$n" "$p" "$T/pxr$n.yaml"
	out=$(relay_one "$p" 127.0.0.5)
	what="xclient=$mode, backend offers ${caps%%,*}"
	check_match "$what: message accepted" "$out" '^250 2\.0\.0 Ok: queued$'
	cmds=$(cat "${!rdir}/commands.log" 2>/dev/null)
	case $want in
	XCLIENT)
		check_match "$what: XCLIENT with the client address" "$cmds" \
			'^[0-9]+: XCLIENT .*ADDR=127\.0\.0\.5( |$)'
		check_not_contains "$what: no XFORWARD" "$cmds" "XFORWARD"
		check_match "$what: EHLO again after XCLIENT" \
			"$(grep -A1 ': XCLIENT ' <<<"$cmds")" '^[0-9]+: EHLO '
		;;
	XFORWARD)
		check_match "$what: XFORWARD with the client address" "$cmds" \
			'^[0-9]+: XFORWARD .*ADDR=127\.0\.0\.5( |$)'
		check_not_contains "$what: no XCLIENT" "$cmds" "XCLIENT"
		;;
	none)
		check_not_contains "$what: no XCLIENT" "$cmds" "XCLIENT"
		check_not_contains "$what: no XFORWARD" "$cmds" "XFORWARD"
		;;
	esac
	check_true "$what: the backend got the message" test -f "${!rdir}/msg-1.wire"
done

it_done
