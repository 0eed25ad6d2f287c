#!/bin/bash
# Faults: a backend that is down, refuses, greets with 4xx/5xx or refuses
# XCLIENT (451 to MAIL, the session goes on); a backend that closes or stalls
# mid-session (421 and close); backend 4xx/5xx replies relayed unchanged,
# multi-line ones too; a client that idles (421) or vanishes mid-DATA
# (nothing reaches the backend).
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink

TIMEOUTS='timeouts:
  client: 2s
  backend_connect: 2s
  backend_reply: 1s
  backend_data: 1s'

printf 'Subject: fault\n\nbody\n' >"$T/msg"

# --- the backend cannot be used: MAIL gets 451 4.4.1, the session goes on.
unavailable() { # DESC PORT
	local out
	out=$(smtp "$2" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<a@client.test>\r\n' R \
		'S:NOOP\r\n' R 'S:MAIL FROM:<a@client.test>\r\n' R 'S:QUIT\r\n' R)
	mapfile -t got < <(sed -n '/^250 /,$p' <<<"$out")
	check_eq "$1: MAIL" "451 4.4.1 Error: backend not available" "${got[1]:-<nothing>}"
	check_eq "$1: the session goes on (NOOP)" "250 2.0.0 Ok" "${got[2]:-<nothing>}"
	check_eq "$1: MAIL again" "451 4.4.1 Error: backend not available" "${got[3]:-<nothing>}"
	check_eq "$1: QUIT" "221 2.0.0 Bye" "${got[4]:-<nothing>}"
}

down_port=$(free_port)
start_px pdown "$down_port" "$TIMEOUTS"
unavailable "backend not listening" "$pdown_port"

start_rawsink rclose --close-at CONNECT
start_px pclose "$rclose_port" "$TIMEOUTS"
unavailable "backend closes at once" "$pclose_port"

start_rawsink r421 --greeting "421 4.3.2 backend.test Service not available"
start_px p421 "$r421_port" "$TIMEOUTS"
unavailable "backend greets with 421" "$p421_port"

start_sink s450 -r CONNECT
start_px p450 "$s450_port" "$TIMEOUTS"
unavailable "smtp-sink greets with 450" "$p450_port"

start_rawsink r554 --greeting "554 5.3.2 backend.test No SMTP service here"
start_px p554 "$r554_port" "$TIMEOUTS"
unavailable "backend greets with 554" "$p554_port"

start_rawsink rxc --caps "PIPELINING,ENHANCEDSTATUSCODES,XCLIENT ADDR NAME PORT PROTO HELO" \
	--reply "XCLIENT=550 5.7.0 Error: insufficient authorization"
start_px pxc "$rxc_port" "$TIMEOUTS" xclient
unavailable "backend refuses XCLIENT" "$pxc_port"
check_no_match "backend refused XCLIENT: no MAIL reached it" "$(cat "$rxc_dir/commands.log")" \
	'^[0-9]+: MAIL '

# --- the backend goes away mid-session: 421 4.4.2 and the client is closed.
lost() { # DESC PORT EXPECTED-ERE STEPS...
	local desc=$1 port=$2 ere=$3 out start elapsed
	shift 3
	start=$(date +%s%N)
	out=$(smtp "$port" R 'S:EHLO client.test\r\n' R "$@" E)
	elapsed=$((($(date +%s%N) - start) / 1000000))
	mapfile -t got <<<"$out"
	check_match "$desc: 421" "${got[-2]:-}" "$ere"
	check_eq "$desc: then the connection is closed" "<EOF>" "${got[-1]:-}"
	check_le "$desc: within 5 s (ms)" 5000 "$elapsed"
}
lost_ere='^421 4\.4\.2 postern\.test Error: lost connection to backend$'
either_ere='^421 4\.4\.2 postern\.test Error: (backend timed out|lost connection to backend)$'

start_sink sq -q RCPT
start_px psq "$sq_port" "$TIMEOUTS"
lost "smtp-sink drops the connection at RCPT" "$psq_port" "$lost_ere" \
	'S:MAIL FROM:<a@client.test>\r\n' R 'S:RCPT TO:<b@sink.test>\r\n' R

start_rawsink rdata --close-at DATA
start_px prdata "$rdata_port" "$TIMEOUTS"
lost "backend closes at DATA" "$prdata_port" "$lost_ere" \
	'S:MAIL FROM:<a@client.test>\r\n' R 'S:RCPT TO:<b@sink.test>\r\n' R 'S:DATA\r\n' R \
	"D:$T/msg" R

start_rawsink rdot --close-at DOT
start_px prdot "$rdot_port" "$TIMEOUTS"
lost "backend closes after the message" "$prdot_port" "$lost_ere" \
	'S:MAIL FROM:<a@client.test>\r\n' R 'S:RCPT TO:<b@sink.test>\r\n' R 'S:DATA\r\n' R \
	"D:$T/msg" R

start_sink sw -W RCPT:6
start_px psw "$sw_port" "$TIMEOUTS"
lost "smtp-sink stalls at RCPT (backend_reply 1s)" "$psw_port" "$either_ere" \
	'S:MAIL FROM:<a@client.test>\r\n' R 'S:RCPT TO:<b@sink.test>\r\n' R

start_rawsink rslow --delay DOT=6
start_px prslow "$rslow_port" "$TIMEOUTS"
lost "backend stalls after the message (backend_data 1s)" "$prslow_port" "$either_ere" \
	'S:MAIL FROM:<a@client.test>\r\n' R 'S:RCPT TO:<b@sink.test>\r\n' R 'S:DATA\r\n' R \
	"D:$T/msg" R

# --- backend 4xx/5xx replies reach the client as the backend wrote them.
# relayed DESC PORT EXPECTED STEPS...: the replies after EHLO, joined by "|".
relayed() {
	local desc=$1 port=$2 want=$3 out
	shift 3
	out=$(smtp "$port" R 'S:EHLO client.test\r\n' R "$@" 'S:QUIT\r\n' R)
	check_eq "$desc" "$want" "$(sed -n '/^250 /,$p' <<<"$out" | sed 1d | tr '\n' '|' | sed 's/|$//')"
}
full=('S:MAIL FROM:<a@client.test>\r\n' R 'S:RCPT TO:<b@sink.test>\r\n' R 'S:DATA\r\n' R
	"D:$T/msg" R)
accepted='250 2.1.0 Ok|250 2.1.5 Ok|354 End data with <CR><LF>.<CR><LF>'

start_rawsink rmail --reply "MAIL=451 4.3.0 <a@client.test>: Sender temporarily refused"
start_px prmail "$rmail_port" "$TIMEOUTS"
relayed "4xx to MAIL relayed" "$prmail_port" \
	"451 4.3.0 <a@client.test>: Sender temporarily refused|503 5.5.1 Error: need MAIL command|221 2.0.0 Bye" \
	'S:MAIL FROM:<a@client.test>\r\n' R 'S:RCPT TO:<b@sink.test>\r\n' R

start_rawsink rrcpt --reply \
	$'RCPT=550-5.1.1 <b@sink.test>: first line of a\r\n550-5.1.1 three-line\r\n550 5.1.1 rejection'
start_px prrcpt "$rrcpt_port" "$TIMEOUTS"
relayed "multi-line 5xx to RCPT relayed" "$prrcpt_port" \
	"$(joined "250 2.1.0 Ok" "550-5.1.1 <b@sink.test>: first line of a" "550-5.1.1 three-line" \
		"550 5.1.1 rejection" "554 5.5.1 Error: no valid recipients" "221 2.0.0 Bye")" \
	'S:MAIL FROM:<a@client.test>\r\n' R 'S:RCPT TO:<b@sink.test>\r\n' R 'S:DATA\r\n' R

start_sink sfr -f RCPT
start_px psfr "$sfr_port" "$TIMEOUTS"
relayed "smtp-sink's 5xx to RCPT relayed" "$psfr_port" \
	"250 2.1.0 Ok|500 5.3.0 Error: command failed|221 2.0.0 Bye" \
	'S:MAIL FROM:<a@client.test>\r\n' R 'S:RCPT TO:<b@sink.test>\r\n' R

start_rawsink rrdata --reply "DATA=554 5.3.0 backend.test: no DATA today"
start_px prrdata "$rrdata_port" "$TIMEOUTS"
relayed "5xx to DATA relayed after the message" "$prrdata_port" \
	"$accepted|554 5.3.0 backend.test: no DATA today|221 2.0.0 Bye" "${full[@]}"

start_rawsink rrdot --reply "DOT=452 4.3.1 Insufficient system storage"
start_px prrdot "$rrdot_port" "$TIMEOUTS"
relayed "4xx at the end of data relayed" "$prrdot_port" \
	"$accepted|452 4.3.1 Insufficient system storage|221 2.0.0 Bye" "${full[@]}"

start_sink sfd -f .
start_px psfd "$sfd_port" "$TIMEOUTS"
relayed "smtp-sink's 5xx at the end of data relayed" "$psfd_port" \
	"$accepted|500 5.3.0 Error: command failed|221 2.0.0 Bye" "${full[@]}"
wait_until 3 grep -q 'event=transaction' "$psfd_log"
check_match "the failed transaction is logged with the backend's reply" "$(cat "$psfd_log")" \
	'event=transaction .*status=500 .*reply="?500 5\.3\.0 Error: command failed'

# --- the client idles: 421 after timeouts.client, then close.
start_sink sink
start_px pidle "$sink_port" "$TIMEOUTS"
idle() { # DESC STEPS...
	local desc=$1 out start elapsed
	shift
	start=$(date +%s%N)
	out=$(smtp "$pidle_port" R "$@" E)
	elapsed=$((($(date +%s%N) - start) / 1000000))
	mapfile -t got <<<"$out"
	check_eq "$desc: 421" "421 4.4.2 postern.test Error: timeout exceeded" "${got[-2]:-}"
	check_eq "$desc: then the connection is closed" "<EOF>" "${got[-1]:-}"
	check_true "$desc: after about 2 s (took $elapsed ms)" test "$elapsed" -ge 1500 -a "$elapsed" -le 6000
}
idle "idle client after EHLO" 'S:EHLO client.test\r\n' R
idle "idle client in the middle of DATA" 'S:EHLO client.test\r\n' R \
	'S:MAIL FROM:<idle@client.test>\r\n' R 'S:RCPT TO:<b@sink.test>\r\n' R 'S:DATA\r\n' R \
	'S:Subject: half\r\n\r\nhalf a mess'

# --- the client vanishes mid-DATA: nothing reaches the backend.
out=$(smtp "$pidle_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<vanish@client.test>\r\n' R \
	'S:RCPT TO:<b@sink.test>\r\n' R 'S:DATA\r\n' R 'S:Subject: half\r\n\r\nfirst line\r\n' \
	Z:0.3 X)
check_match "vanishing client got 354" "$out" '^354 '
sleep 1
check_eq "nothing reached smtp-sink from the idle or vanished clients" 0 "$(sink_count sink)"
out=$(smtp "$pidle_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<after@client.test>\r\n' R \
	'S:RCPT TO:<b@sink.test>\r\n' R 'S:DATA\r\n' R "D:$T/msg" R 'S:QUIT\r\n' R)
check_match "postern still relays afterwards" "$out" '^250 2\.0\.0 Ok$'
check_eq "and only that message reached smtp-sink" "<after@client.test>" \
	"$(sink_digest sink | cut -d' ' -f1)"

it_done
