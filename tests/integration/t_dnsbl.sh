#!/bin/bash
# DNSBL, DNSWL and RHSBL through a real postern and the shared resolver,
# against a real unbound on loopback serving the test lists: clients on
# 127.0.0.X (swaks binds to them) are listed or not; return codes count
# with their own weights (codes) or by bits (mask); an answer outside
# 127/8 is ignored; an allow list lowers the score; HELO, sender and From
# domains hit a domain list the policy acts on by name; a list that does
# not answer is a tempfail that follows on_error; the client's lookups start
# at connect, without holding the greeting, and are ready by MAIL.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd swaks smtp-sink

start_unbound ub \
	'2.0.0.127.bl.test. A 127.0.0.2' \
	'9.0.0.127.bl.test. A 10.0.0.1' \
	'3.0.0.127.multi.test. A 127.0.0.2' \
	'3.0.0.127.multi.test. A 127.0.0.10' \
	'4.0.0.127.multi.test. A 127.0.0.10' \
	'5.0.0.127.multi.test. A 127.0.0.99' \
	'6.0.0.127.bits.test. A 127.0.0.4' \
	'7.0.0.127.bits.test. A 127.0.0.2' \
	'8.0.0.127.wl.test. A 127.0.0.2' \
	'8.0.0.127.bl.test. A 127.0.0.2' \
	'bad.example.dbl.test. A 127.0.1.2' \
	'worse.example.dbl.test. A 127.0.1.2'

start_sink sink
start_px px "$sink_port" "
dns: { servers: [ 127.0.0.1:$ub_port ], timeout: 1s, attempts: 1 }
filters:
  bl:
    type: dnsbl
    lists:
      - { zone: bl.test, check: client, weight: 10 }
      - { zone: multi.test, check: client, codes: { 127.0.0.2: 5, 127.0.0.10: 1 } }
      - { zone: bits.test, check: client, mask: 4, weight: 2 }
      - { zone: wl.test, check: client, weight: -7 }
      - { name: dbl, zone: dbl.test, check: [ helo, sender, from ], weight: 1 }
  slow: { type: dnsbl, lists: [ { zone: slow.example, check: client } ] }
  slow_tf: { type: dnsbl, on_error: tempfail, lists: [ { zone: slow.example, check: client } ] }
policies:
  - name: default
    chain: [ bl ]
    spam: { tag: 0.5, reject: 6 }
    dnsbl: { dbl: reject }
  - { name: early, match: { client: 127.0.0.20 }, chain: [ slow ] }
  - { name: once, match: { sender_domain: worse.example }, chain: [ bl ], spam: { tag: 0.5 } }
  - { name: slow, match: { sender_domain: slow.test }, chain: [ slow ] }
  - { name: slow_tf, match: { sender_domain: slowtf.test }, chain: [ slow_tf ] }"

send() { # CLIENT-IP [SWAKS-ARGS...] -> the transaction's log line; replies in $T/out
	local ip=$1
	shift
	swaks --server "127.0.0.1:$px_port" --local-interface "$ip" --to b@sink.test \
		--helo client.test "$@" --body x >"$T/out" 2>&1
	grep -E "event=transaction .*client=$ip:" "$T/px.log" | tail -n 1
}

line=$(send 127.0.0.1 --from a@client.test)
check_match "not listed: accepted, no findings" "$line" 'status=250 .*action=accept findings=-$'
line=$(send 127.0.0.2 --from a@client.test)
check_match "listed: rejected on the list's weight" "$line" \
	'status=550 .*action=reject findings=bl\.dnsbl=bl\.test\(10\.0\)$'
check_match "listed: 550 5.7.1 at MAIL" "$(cat "$T/out")" '^<\*\* 550 5\.7\.1 '
check_not_contains "listed: no RCPT was sent" "$(cat "$T/out")" 'RCPT TO'

line=$(send 127.0.0.3 --from a@client.test)
check_match "codes: both answers, each its weight" "$line" \
	'status=550 .*findings=bl\.dnsbl=multi\.test\(6\.0\)$'
line=$(send 127.0.0.4 --from a@client.test)
check_match "codes: 127.0.0.10 alone weighs 1, tagged" "$line" \
	'status=250 .*action=tag findings=bl\.dnsbl=multi\.test\(1\.0\)$'
check_match "codes: X-Spam-Status names the list" "$(cat "$(ls -t "$sink_dir"/m.* | head -n 1)")" \
	'^X-Spam-Status: Yes, score=1\.0 tag=0\.5 reject=6\.0 tests=bl\.multi\.test\(1\.0\)'
line=$(send 127.0.0.5 --from a@client.test)
check_match "codes: an answer not in codes does not count" "$line" 'status=250 .*findings=-$'
line=$(send 127.0.0.6 --from a@client.test)
check_match "mask 4: 127.0.0.4 counts" "$line" 'findings=bl\.dnsbl=bits\.test\(2\.0\)$'
line=$(send 127.0.0.7 --from a@client.test)
check_match "mask 4: 127.0.0.2 does not" "$line" 'status=250 .*findings=-$'
line=$(send 127.0.0.9 --from a@client.test)
check_match "an answer outside 127/8 is not a listing" "$line" 'status=250 .*findings=-$'
check_match "an answer outside 127/8 is logged" "$(cat "$T/px.log")" \
	'event=dnsbl_bad_answer filter=bl zone=bl\.test answer=10\.0\.0\.1'
line=$(send 127.0.0.8 --from a@client.test)
check_match "allow list: listed on both, the sum is under reject" "$line" \
	'status=250 .*findings=bl\.dnsbl=bl\.test\(10\.0\),bl\.dnsbl=wl\.test\(-7\.0\)$|status=250 .*findings=bl\.dnsbl=wl\.test\(-7\.0\),bl\.dnsbl=bl\.test\(10\.0\)$'

line=$(send 127.0.0.1 --from a@bad.example)
check_match "RHSBL sender domain: the policy rejects the list by name" "$line" \
	'status=550 .*action=reject findings=bl\.dnsbl=dbl\(1\.0\)$'
line=$(send 127.0.0.1 --from a@client.test --helo bad.example)
check_match "RHSBL HELO domain" "$line" 'status=550 .*findings=bl\.dnsbl=dbl\(1\.0\)$'
line=$(send 127.0.0.1 --from a@client.test --header 'From: Someone <x@bad.example>')
check_match "RHSBL From domain, at the end of the message" "$line" \
	'status=550 .*findings=bl\.dnsbl=dbl\(1\.0\)$'
line=$(send 127.0.0.1 --from a@worse.example --header 'From: <x@WORSE.example>')
check_match "RHSBL: a domain asked at MAIL is not asked (or counted) again for From" "$line" \
	'status=250 .*policy=once action=tag findings=bl\.dnsbl=dbl\(1\.0\)$'

start=$(date +%s%N)
line=$(send 127.0.0.1 --from a@slow.test)
ms=$((($(date +%s%N) - start) / 1000000))
check_match "a list that does not answer: on_error continue, delivered" "$line" \
	'status=250 .*findings=slow\.error=dns-tempfail$'
check_true "a list that does not answer: the resolver's timeout (1 s) waited (${ms} ms)" \
	test "$ms" -ge 900
check_match "a list that does not answer: logged" "$(cat "$T/px.log")" \
	'event=dnsbl_tempfail filter=slow zone=slow\.example name=1\.0\.0\.127\.slow\.example'
line=$(send 127.0.0.1 --from a@slowtf.test)
check_match "a list that does not answer: on_error tempfail, 451" "$line" \
	'status=451 .*action=tempfail findings=slow_tf\.error=dns-tempfail$'

# The client's lookups start at connect: the greeting does not wait for
# them, and a MAIL sent after the list's timeout has passed is answered at
# once (it would take another second if the lookup started at MAIL).
start=$(date +%s%N)
out=$(SMTP_BIND=127.0.0.20 smtp "$px_port" R 'S:QUIT\r\n' R)
ms=$((($(date +%s%N) - start) / 1000000))
check_match "connect: greeted" "$out" '^220 postern\.test'
check_true "connect: the greeting does not wait for the lists (${ms} ms)" test "$ms" -lt 700
start=$(date +%s%N)
out=$(SMTP_BIND=127.0.0.20 smtp "$px_port" R Z:1.5 'S:EHLO client.test\r\n' R \
	'S:MAIL FROM:<a@client.test>\r\n' R 'S:QUIT\r\n' R)
ms=$((($(date +%s%N) - start) / 1000000))
check_match "connect: MAIL accepted (on_error continue)" "$out" '^250 2\.1\.0'
check_true "connect: MAIL after 1.5 s found the lookup done (${ms} ms in all, < 2300)" \
	test "$ms" -lt 2300
check_match "connect: the lookup was the client's, from connect" "$(cat "$T/px.log")" \
	'event=dnsbl_tempfail filter=slow zone=slow\.example name=20\.0\.0\.127\.slow\.example'
start=$(date +%s%N)
line=$(send 127.0.0.20 --from a@client.test)
ms=$((($(date +%s%N) - start) / 1000000))
check_match "connect: a MAIL right away waits for the answer, then has it" "$line" \
	'status=250 .*policy=early action=accept findings=slow\.error=dns-tempfail$'
check_true "connect: ...having waited for the list's timeout (${ms} ms)" test "$ms" -ge 900

it_done
