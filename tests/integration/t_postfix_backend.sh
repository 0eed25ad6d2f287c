#!/bin/bash
# A real Postfix as the backend (a private instance that holds every message):
# its replies reach the client unchanged, it learns the real client address
# through XCLIENT, it gets the message by BDAT (it offers CHUNKING), 8-bit and
# SMTPUTF8 messages arrive intact, and a client that vanishes mid-DATA leaves
# no queue file.
. "$(dirname "$0")/lib.sh"
it_init
need_root
need_cmd swaks postfix postcat postqueue

start_postfix pf
px_port=$(free_port)
postern_config "$px_port" "$pf_port" >"$T/px.yaml"
start_postern px "$px_port" "$T/px.yaml"

queue_id() { # the ID in "250 2.0.0 Ok: queued as ID" ("Ok: N bytes queued as ID" after BDAT)
	sed -n 's/^\(<-  \)\{0,1\}250 2\.0\.0 Ok: .*queued as \([0-9A-F]*\)$/\2/p' <<<"$1" | head -n 1
}

# Print a queued message's header without the Received: header Postfix adds.
queued_header() {
	postcat -c "$pf_conf" -hq "$1" | awk 'NR == 1 && /^Received:/ { skip = 1; next }
		skip && /^[ \t]/ { next } { skip = 0; print }'
}

# --- Postfix's own RCPT rejection reaches the client unchanged.
rcpt_reject() { # PORT
	swaks --server 127.0.0.1 --port "$1" --helo client.test --from a@client.test \
		--to nosuchuser@localhost --quit-after RCPT 2>&1 | grep '^<\*\* '
}
direct=$(rcpt_reject "$pf_port")
via=$(rcpt_reject "$px_port")
check_eq "Postfix's 550 5.1.1 User unknown reaches swaks" \
	"<** 550 5.1.1 <nosuchuser@localhost>: Recipient address rejected: User unknown in local recipient table" \
	"$via"
check_eq "the rejection is exactly what Postfix says directly" "$direct" "$via"

# --- one good and one unknown recipient; the message is queued for the
# good one; the client connects from 127.0.0.5 and Postfix logs that address.
printf '%b\n' 'From: <sender@client.test>' 'To: <user@localhost>' \
	'Date: Thu, 1 Jan 2026 00:00:00 +0000' 'Message-ID: <xclient.1@client.test>' \
	'Subject: through postfix' '' 'body line' '.dot line' >"$T/msg1"
{ cat "$T/msg1"; echo .; } >"$T/msg1.swaks"
sw=$(swaks --server 127.0.0.1 --port "$px_port" --local-interface 127.0.0.5 --helo client.test \
	--from sender@client.test --to user@localhost,nosuchuser@localhost --data @"$T/msg1.swaks" 2>&1)
check_match "good recipient accepted" "$sw" '^<-  250 2\.1\.5 Ok$'
check_match "unknown recipient rejected by Postfix" "$sw" \
	'^<\*\* 550 5\.1\.1 <nosuchuser@localhost>: Recipient address rejected: User unknown in local recipient table$'
id=$(queue_id "$sw")
check_true "message queued by Postfix (swaks saw 'queued as ID')" test -n "$id"
id=${id:-NONE}
wait_until 5 grep -q "$id: client=" "$pf_log"
check_match "XCLIENT: Postfix logs the real client address" "$(cat "$pf_log")" \
	"$id: client=[^ ]*\[127\.0\.0\.5\]"
# postern keeps backend connections for the next session, so Postfix's
# "disconnect" line may come much later; its per-message lines say it all.
check_match "XCLIENT: Postfix's session shows the client, not postern" "$(cat "$pf_log")" \
	"hold: [A-Z]+ from [^ ]*\[127\.0\.0\.5\]: .*helo=<client\.test>"
check_match "postern relayed the message by BDAT (Postfix offers CHUNKING)" "$(cat "$pf_log")" \
	"hold: BDAT from [^ ]*\[127\.0\.0\.5\]"
check_match "postern's log names the real client" "$(cat "$px_log")" \
	'event=transaction .*client=127\.0\.0\.5:[0-9]+ .*from=[<"]sender@client\.test[>"] .*status=250'
check_eq "queued recipients" "recipient: user@localhost" \
	"$(postcat -c "$pf_conf" -eq "$id" | grep '^recipient: ')"
postcat -c "$pf_conf" -bq "$id" >"$T/got1.body"
sed -n '/^$/,$p' "$T/msg1" >"$T/msg1.body"
check_file_eq "queued body is the message body" "$T/msg1.body" "$T/got1.body"
queued_header "$id" >"$T/got1.head"
sed '/^$/,$d' "$T/msg1" >"$T/msg1.head"
check_file_eq "queued header is the message header" "$T/msg1.head" "$T/got1.head"

# --- DATA when Postfix rejected every recipient: postern's own 554, and
# nothing is queued.
out=$(smtp "$px_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<a@client.test>\r\n' R \
	'S:RCPT TO:<nosuchuser@localhost>\r\n' R 'S:DATA\r\n' R 'S:QUIT\r\n' R)
mapfile -t got <<<"$out"
check_match "RCPT rejected by Postfix" "${got[-3]}" '^550 5\.1\.1 <nosuchuser@localhost>: '
check_eq "DATA without a valid recipient" "554 5.5.1 Error: no valid recipients" "${got[-2]}"

# --- an 8-bit message (BODY=8BITMIME), UTF-8 and Latin-1 octets in header
# and body, arrives intact.
printf '%b\n' 'From: <sender@client.test>' 'To: <user@localhost>' \
	'Date: Thu, 1 Jan 2026 00:00:00 +0000' 'Message-ID: <8bit.1@client.test>' \
	'Subject: caf\xc3\xa9 \xe9t\xe9' '' 'UTF-8: \xc3\xa4\xc3\xb6\xc3\xbc \xe2\x82\xac \xf0\x9f\x93\xa7' \
	'Latin-1: \xe4\xf6\xfc \xa4' 'high octets: \x80\x81\xfe\xff' >"$T/msg8"
out=$(smtp "$px_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<eight@client.test> BODY=8BITMIME\r\n' R \
	'S:RCPT TO:<user@localhost>\r\n' R 'S:DATA\r\n' R "D:$T/msg8" R 'S:QUIT\r\n' R)
id=$(queue_id "$out")
check_true "8-bit message queued" test -n "$id"
postcat -c "$pf_conf" -bq "${id:-NONE}" >"$T/got8.body"
sed -n '/^$/,$p' "$T/msg8" >"$T/msg8.body"
check_file_eq "8-bit body intact" "$T/msg8.body" "$T/got8.body"
queued_header "${id:-NONE}" >"$T/got8.head"
sed '/^$/,$d' "$T/msg8" >"$T/msg8.head"
check_file_eq "8-bit header intact" "$T/msg8.head" "$T/got8.head"

# --- SMTPUTF8: UTF-8 addresses with the SMTPUTF8 parameter.
check_match "EHLO offers SMTPUTF8 (Postfix does)" \
	"$(smtp "$px_port" R 'S:EHLO client.test\r\n' R 'S:QUIT\r\n' R)" '^250[- ]SMTPUTF8$'
printf '%b\n' 'From: <j\xc3\xb6rg@ex\xc3\xa4mple.test>' 'To: <user@localhost>' \
	'Date: Thu, 1 Jan 2026 00:00:00 +0000' 'Message-ID: <utf8.1@ex\xc3\xa4mple.test>' \
	'Subject: gr\xc3\xbc\xc3\x9fe \xe2\x9c\x89' '' \
	'\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1' \
	>"$T/msgu"
out=$(smtp "$px_port" R 'S:EHLO client.test\r\n' R \
	'S:MAIL FROM:<j\xc3\xb6rg@ex\xc3\xa4mple.test> SMTPUTF8\r\n' R \
	'S:RCPT TO:<user@localhost>\r\n' R 'S:DATA\r\n' R "D:$T/msgu" R 'S:QUIT\r\n' R)
check_match "UTF-8 sender accepted" "$out" '^250 2\.1\.0 Ok$'
id=$(queue_id "$out")
check_true "SMTPUTF8 message queued" test -n "$id"
check_eq "queued with the UTF-8 sender" "$(printf 'sender: j\xc3\xb6rg@ex\xc3\xa4mple.test')" \
	"$(postcat -c "$pf_conf" -eq "${id:-NONE}" | grep '^sender: ')"
postcat -c "$pf_conf" -bq "${id:-NONE}" >"$T/gotu.body"
sed -n '/^$/,$p' "$T/msgu" >"$T/msgu.body"
check_file_eq "SMTPUTF8 body intact" "$T/msgu.body" "$T/gotu.body"
queued_header "${id:-NONE}" >"$T/gotu.head"
sed '/^$/,$d' "$T/msgu" >"$T/msgu.head"
check_file_eq "SMTPUTF8 header intact" "$T/msgu.head" "$T/gotu.head"
check_match "Postfix received it as SMTPUTF8" "$(postcat -c "$pf_conf" -hq "${id:-NONE}")" \
	'with UTF8E?SMTP'

# Without the parameter Postfix refuses the UTF-8 sender; that reply too is
# relayed as Postfix gives it.
no_param() { # PORT
	smtp "$1" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<j\xc3\xb6rg@ex\xc3\xa4mple.test>\r\n' R \
		'S:QUIT\r\n' R | tail -n 2 | head -n 1
}
direct=$(no_param "$pf_port")
via=$(no_param "$px_port")
check_match "UTF-8 sender without SMTPUTF8 refused by Postfix" "$via" '^5[0-9][0-9] 5\.'
check_eq "that refusal is exactly Postfix's" "$direct" "$via"

# --- the client vanishes in the middle of DATA: no queue file.
before=$(postfix_queue_ids pf | sort)
out=$(smtp "$px_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<vanish@client.test>\r\n' R \
	'S:RCPT TO:<user@localhost>\r\n' R 'S:DATA\r\n' R \
	'S:Subject: half a message\r\n\r\nthe first line\r\n' Z:0.3 X)
check_match "DATA accepted before the client vanished" "$out" '^354 '
sleep 1
check_eq "no queue file for the vanished client's message" "$before" "$(postfix_queue_ids pf | sort)"
check_no_match "Postfix never saw the vanished client's message" "$(cat "$pf_log")" \
	'hold: .*from=<vanish@client\.test>'
check_eq "postern still running" 0 "$(kill -0 "$px_pid" 2>/dev/null; echo $?)"
check_eq "every accepted message is on hold, nothing else" 3 "$(postfix_queue_ids pf | wc -l)"

it_done
