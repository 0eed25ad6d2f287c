#!/bin/bash
# Message content: 8-bit octets, dot-stuffing edge cases, an empty message,
# 998-octet lines, and exactly what goes on the wire to the backend: dot-
# stuffed CRLF lines with DATA, the bare content with BDAT, CRLF line endings
# after bare_newline: normalize, and client BDAT turned into DATA.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink

start_sink sink
px_port=$(free_port)
postern_config "$px_port" "$sink_port" >"$T/px.yaml"
start_postern px "$px_port" "$T/px.yaml"

# send PORT FILE [MAIL-PARAMETERS]: one message by DATA; prints the replies.
send() {
	smtp "$1" R 'S:EHLO client.test\r\n' R "S:MAIL FROM:<content@client.test>${3:+ $3}\r\n" R \
		'S:RCPT TO:<rcpt@sink.test>\r\n' R 'S:DATA\r\n' R "D:$2" R 'S:QUIT\r\n' R
}

# through_sink NAME FILE [MAIL-PARAMETERS]: send FILE through postern to
# smtp-sink and compare what smtp-sink dumped with it.
through_sink() {
	local name=$1 file=$2 out f
	rm -f "$sink_dir"/m.*
	out=$(send "$px_port" "$file" "${3:-}")
	check_match "$name: accepted" "$out" '^250 2\.0\.0 Ok$'
	check_eq "$name: one message at smtp-sink" 1 "$(sink_count sink)"
	f=$(sink_files sink | head -n 1)
	[ -n "$f" ] || return
	sink_body "$f" >"$T/got.$name"
	check_file_eq "$name: arrives byte for byte" "$file" "$T/got.$name"
}

printf '%b\n' 'Subject: 8-bit \xe9t\xe9 \xc3\xa9' 'Content-Type: text/plain; charset=utf-8' \
	'Content-Transfer-Encoding: 8bit' '' 'UTF-8: \xc3\xa4\xc3\xb6\xc3\xbc \xe2\x82\xac \xf0\x9f\x93\xa7' \
	'Latin-1: \xe4\xf6\xfc' 'all high octets: \x80\x81\x82\x9f\xa0\xbf\xc0\xdf\xe0\xef\xf0\xfe\xff' \
	'nul-free, tab\there, DEL \x7f' >"$T/eight"
through_sink 8bit "$T/eight" BODY=8BITMIME

printf '.starts with a dot right after DATA\nSubject: dots\n\n.\n..\n...\n. \n.x\nx.\n\n.\n' >"$T/dots"
through_sink dots "$T/dots"

: >"$T/empty"
through_sink empty "$T/empty"

{
	printf 'Subject: long lines\n\n'
	head -c 998 /dev/zero | tr '\0' a
	printf '\nshort\n'
	head -c 998 /dev/zero | tr '\0' b
	printf '\n'
} >"$T/long"
through_sink long998 "$T/long"

# --- the wire, as a recording backend receives it.
crlf() { sed 's/$/\r/' "$1"; }
start_rawsink rawd --caps "PIPELINING,8BITMIME,ENHANCEDSTATUSCODES"
start_rawsink rawc --caps "PIPELINING,8BITMIME,ENHANCEDSTATUSCODES,CHUNKING"
pd=$(free_port)
postern_config "$pd" "$rawd_port" >"$T/pd.yaml"
start_postern pd "$pd" "$T/pd.yaml"
pc=$(free_port)
postern_config "$pc" "$rawc_port" >"$T/pc.yaml"
start_postern pc "$pc" "$T/pc.yaml"

out=$(send "$pd" "$T/dots")
check_match "DATA backend: accepted" "$out" '^250 2\.0\.0 Ok: queued$'
crlf "$T/dots" | sed 's/^\./../' >"$T/dots.stuffed"
check_file_eq "DATA backend: the wire carries dot-stuffed CRLF lines" "$T/dots.stuffed" \
	"$rawd_dir/msg-1.wire"
check_match "DATA backend: postern used DATA" "$(cat "$rawd_dir/commands.log")" '^[0-9]+: DATA$'

out=$(send "$pc" "$T/dots")
check_match "CHUNKING backend: accepted" "$out" '^250 2\.0\.0 Ok: queued$'
crlf "$T/dots" >"$T/dots.crlf"
check_file_eq "CHUNKING backend: BDAT carries the content unstuffed" "$T/dots.crlf" \
	"$rawc_dir/msg-1.wire"
cmds=$(cat "$rawc_dir/commands.log")
check_no_match "CHUNKING backend: no DATA" "$cmds" '^[0-9]+: DATA$'
check_match "CHUNKING backend: BDAT ... LAST" "$cmds" '^[0-9]+: BDAT [0-9]+ LAST$'
check_eq "CHUNKING backend: BDAT sizes add up to the message" "$(wc -c <"$T/dots.crlf")" \
	"$(sed -n 's/^[0-9]*: BDAT \([0-9]*\).*/\1/p' <<<"$cmds" | awk '{ s += $1 } END { print s + 0 }')"

# --- client BDAT whose content holds "<CR><LF>.<CR><LF>" and a command; to a
# backend without CHUNKING postern must dot-stuff it into DATA.
printf 'Subject: bdat\n\nfirst\n.\nMAIL FROM:<evil@x>\n..two\nlast\n' >"$T/bdatmsg"
ehlo=$(smtp "$pd" R 'S:EHLO client.test\r\n' R 'S:QUIT\r\n' R)
check_match "CHUNKING offered even though the backend lacks it" "$ehlo" '^250[- ]CHUNKING$'
out=$(smtp "$pd" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<bdat@client.test>\r\n' R \
	'S:RCPT TO:<rcpt@sink.test>\r\n' R "B:$T/bdatmsg:7" 'S:QUIT\r\n' E)
check_match "BDAT to a DATA backend: accepted" "$out" '^250 2\.0\.0 Ok: queued$'
crlf "$T/bdatmsg" | sed 's/^\./../' >"$T/bdat.stuffed"
check_file_eq "BDAT to a DATA backend: dot-stuffed on the wire" "$T/bdat.stuffed" \
	"$rawd_dir/msg-2.wire"
check_no_match "BDAT to a DATA backend: no smuggled command" \
	"$(cat "$rawd_dir/commands.log")" 'MAIL FROM:<evil@x>'
out=$(smtp "$pc" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<bdat@client.test>\r\n' R \
	'S:RCPT TO:<rcpt@sink.test>\r\n' R "B:$T/bdatmsg:7" 'S:QUIT\r\n' E)
check_match "BDAT to a CHUNKING backend: accepted" "$out" '^250 2\.0\.0 Ok: queued$'
crlf "$T/bdatmsg" >"$T/bdat.crlf"
check_file_eq "BDAT to a CHUNKING backend: content as sent" "$T/bdat.crlf" "$rawc_dir/msg-2.wire"
check_no_match "BDAT to a CHUNKING backend: no smuggled command" \
	"$(cat "$rawc_dir/commands.log")" 'MAIL FROM:<evil@x>'

# --- bare_newline: normalize turns bare LF and bare CR into CRLF.
start_rawsink rawn --caps "PIPELINING,8BITMIME,ENHANCEDSTATUSCODES"
pn=$(free_port)
{
	postern_config "$pn" "$rawn_port"
	printf 'smtp:\n  bare_newline: normalize\n'
} >"$T/pn.yaml"
start_postern pn "$pn" "$T/pn.yaml"
out=$(smtp "$pn" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<n@client.test>\r\n' R \
	'S:RCPT TO:<rcpt@sink.test>\r\n' R 'S:DATA\r\n' R \
	'S:Subject: bare\r\n\r\nlf\ncr\rcrcrlf\r\r\nlflf\n\ncrlf\r\n.\r\n' R 'S:QUIT\r\n' R)
check_match "normalize: accepted" "$out" '^250 2\.0\.0 Ok: queued$'
printf 'Subject: bare\r\n\r\nlf\r\ncr\r\ncrcrlf\r\n\r\nlflf\r\n\r\ncrlf\r\n' >"$T/norm.expected"
check_file_eq "normalize: CRLF line endings on the wire" "$T/norm.expected" "$rawn_dir/msg-1.wire"

it_done
