#!/bin/bash
# SMTP smuggling: a message whose data holds a false end of data (<LF>.<LF>,
# <CR>.<CR>, <LF>.<CR><LF>, <CR><LF>.<LF>, <CR><LF>.<CR>) followed by a
# smuggled "MAIL FROM:<evil@x>" transaction.
#
# Two backends: a private Postfix left lenient (smtpd_forbid_bare_newline =
# no, CHUNKING not offered so postern must use DATA), which does take a bare
# LF for a line end and would queue the smuggled message if postern passed
# the bytes on (the last check shows it does, sent the payload directly); and
# a recording backend that shows the exact octets on the wire.
#
# With bare_newline: reject postern answers 521 and closes, and nothing
# reaches the backend. With normalize the whole thing is one message,
# delivered with CRLF line endings; the backend never gets a second message
# nor the evil sender.
. "$(dirname "$0")/lib.sh"
it_init
export SMTP_TIMEOUT=5

have_postfix=no
if [ "$(id -u)" = 0 ] && command -v postfix >/dev/null 2>&1; then
	have_postfix=yes
	start_postfix pf "smtpd_forbid_bare_newline = no" "smtpd_discard_ehlo_keywords = chunking"
	start_px pr "$pf_port" $'smtp:\n  bare_newline: reject'
	start_px pn "$pf_port" $'smtp:\n  bare_newline: normalize'
else
	echo "note - not root or no Postfix: only the recording backend is used"
fi
start_rawsink rawr
start_rawsink rawn
start_px prr "$rawr_port" $'smtp:\n  bare_newline: reject'
start_px prn "$rawn_port" $'smtp:\n  bare_newline: normalize'

variants=(
	'LF.LF|\n.\n'
	'CR.CR|\r.\r'
	'LF.CRLF|\n.\r\n'
	'CRLF.LF|\r\n.\n'
	'CRLF.CR|\r\n.\r'
)
smuggled='MAIL FROM:<evil@x>\r\nRCPT TO:<user@localhost>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil body\r\n.\r\n'
printf 'Subject: second\n\na legitimate second message\n' >"$T/second"
# What normalize must deliver: the false "." line is content, unstuffed like
# any dot line (so it becomes an empty line), and every line ends in CRLF.
printf '%s\r\n' 'Subject: legit' '' hello '' 'MAIL FROM:<evil@x>' 'RCPT TO:<user@localhost>' DATA \
	'Subject: smuggled' '' 'evil body' >"$T/normalized.wire"
sed -n '/^\r$/,$p' "$T/normalized.wire" | tr -d '\r' >"$T/normalized.body"

start_transaction=(R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<good@client.test>\r\n' R
	'S:RCPT TO:<user@localhost>\r\n' R 'S:DATA\r\n' R)
second=('S:MAIL FROM:<second@client.test>\r\n' R 'S:RCPT TO:<user@localhost>\r\n' R
	'S:DATA\r\n' R "D:$T/second" R 'S:QUIT\r\n' R E)
lines() { tr '\n' '|' | sed 's/|$//'; }
go_ahead="354 End data with <CR><LF>.<CR><LF>"

n=0
for v in "${variants[@]}"; do
	name=${v%%|*}
	payload="S:Subject: legit\r\n\r\nhello${v#*|}$smuggled"
	n=$((n + 1))

	# --- reject: 521, close, nothing reaches the backend.
	pxs=(prr)
	[ $have_postfix = yes ] && pxs+=(pr) && before=$(postfix_queue_ids pf | sort)
	for px in "${pxs[@]}"; do
		port="${px}_port"
		out=$(smtp "${!port}" "${start_transaction[@]}" "$payload" E)
		check_eq "reject $name ($px): 521 then close" \
			"354 End data with <CR><LF>.<CR><LF>|521 5.5.2 postern.test Error: bare <CR> or <LF> received|<EOF>" \
			"$(tail -n 3 <<<"$out" | lines)"
	done
	check_eq "reject $name: no message at the recording backend" "" \
		"$(find "$rawr_dir" -name 'msg-*' | head -n 1)"
	check_no_match "reject $name: the recording backend got no DATA or BDAT" \
		"$(cat "$rawr_dir/commands.log" 2>/dev/null)" '^[0-9]+: (DATA|BDAT)'
	check_eq "reject $name: no octet of the evil transaction reached the backend" "" \
		"$(grep -l 'evil' "$rawr_dir"/conn-*.in 2>/dev/null)"
	if [ $have_postfix = yes ]; then
		check_eq "reject $name: nothing queued by Postfix" "$before" "$(postfix_queue_ids pf | sort)"
	fi

	# --- normalize: one message with CRLF endings, then a legitimate second
	# one; nothing smuggled.
	out=$(smtp "$prn_port" "${start_transaction[@]}" "$payload" R 'S:QUIT\r\n' R)
	check_eq "normalize $name (recording backend): replies" \
		"354 End data with <CR><LF>.<CR><LF>|250 2.0.0 Ok: queued|221 2.0.0 Bye" \
		"$(sed -n '/^354 /,$p' <<<"$out" | lines)"
	check_file_eq "normalize $name: CRLF line endings on the wire" "$T/normalized.wire" \
		"$rawn_dir/msg-$n.wire"
	check_true "normalize $name: no further message at the recording backend" \
		test ! -e "$rawn_dir/msg-$((n + 1)).wire"
	check_no_match "normalize $name: the evil sender never sent as a command" \
		"$(cat "$rawn_dir/commands.log")" '^[0-9]+: MAIL FROM:<evil@x>'

	[ $have_postfix = yes ] || continue
	before=$(postfix_queue_ids pf | sort)
	out=$(smtp "$pn_port" "${start_transaction[@]}" "$payload" R "${second[@]}")
	check_eq "normalize $name (Postfix): replies" \
		"$(joined "$go_ahead" "250 2.0.0 Ok: queued as ID" "250 2.1.0 Ok" "250 2.1.5 Ok" \
			"$go_ahead" "250 2.0.0 Ok: queued as ID" "221 2.0.0 Bye" "<EOF>")" \
		"$(sed -n '/^354 /,$p' <<<"$out" | sed 's/queued as [0-9A-F]*$/queued as ID/' | lines)"
	new=$(comm -13 <(echo "$before") <(postfix_queue_ids pf | sort))
	senders=$(for id in $new; do postcat -c "$pf_conf" -eq "$id" | sed -n 's/^sender: //p'; done |
		sort | lines)
	check_eq "normalize $name (Postfix): exactly the two legitimate messages queued" \
		"good@client.test|second@client.test" "$senders"
	for id in $new; do
		postcat -c "$pf_conf" -eq "$id" | grep -q '^sender: good@' || continue
		postcat -c "$pf_conf" -bq "$id" >"$T/got.$n"
		check_file_eq "normalize $name (Postfix): the message as normalized" \
			"$T/normalized.body" "$T/got.$n"
	done
done

if [ $have_postfix = yes ]; then
	check_no_match "Postfix never logged the evil sender" "$(cat "$pf_log")" 'from=<evil@x>'
	# Control: sent straight to this Postfix, the payload does smuggle.
	payload="S:Subject: legit\r\n\r\nhello\n.\n${smuggled//evil@x/control@x}"
	smtp "$pf_port" "${start_transaction[@]}" "$payload" R 'S:QUIT\r\n' R >/dev/null
	check_match "control: this Postfix queues a smuggled message when sent directly" \
		"$(postqueue -c "$pf_conf" -j)" '"sender": "control@x"'
fi

it_done
