#!/bin/bash
# postern-milter behind a real Postfix on loopback (smtpd_milters): each case
# is a message sent to Postfix with swaks and the reply Postfix must give;
# accepted ones are checked in Postfix's queue (postcat) for the headers
# postern-milter added, refused ones must not be queued. The chain is the
# real spf filter (a real unbound serves the test zones; the client address
# is the one Postfix gives the milter, so a client bound to 127.0.0.2 fails
# where 127.0.0.1 passes), the test filter (--enable-test-filter: reject,
# tempfail, tag) and a real spamd (GTUBE is refused, clean mail scored).
# Then fifty messages ten at a time through the same chain.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd swaks smtp-source unbound spamd
need_postern_milter

start_unbound dns \
	'client.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"' \
	'fail.test. TXT "v=spf1 -all"' \
	'only-one.test. TXT "v=spf1 ip4:127.0.0.1 -all"'
start_spamd spamd

port=$(free_port)
# spf: the shipped default's rules (policies/default.yaml) without dmarc in
# the chain, so an SPF fail is refused at MAIL.
cat >"$T/pm.yaml" <<EOF2
hostname: postern.test
milter: { socket: "inet:127.0.0.1:$port" }
dns: { servers: [ 127.0.0.1:$dns_port ], timeout: 2s, attempts: 1 }
filters:
  spf: {}
  t: { type: test }
  sa: { type: spamd, address: 127.0.0.1:$spamd_port, timeout: 30s }
policies:
  - name: default
    chain: [ spf, t, sa ]
    spf: { fail: reject, softfail: tag, temperror: tempfail, permerror: tag }
    spam: { tag: 5, reject: 10 }
EOF2
"$POSTERN_MILTER" -t -c "$T/pm.yaml" >"$T/t.out" 2>&1 ||
	{ grep -q 'unknown filter type "test"' "$T/t.out" && skip "built without --enable-test-filter"; }
"$POSTERN_MILTER" -c "$T/pm.yaml" 2>"$T/pm.log" &
pm_pid=$!
it_track "$pm_pid"
IT_LOGS+=("$T/pm.log")
wait_port "$port" "$pm_pid" || { fail "start postern-milter" "$(cat "$T/pm.log")"; it_done; }
start_postfix pf "smtpd_milters = inet:127.0.0.1:$port" "milter_default_action = tempfail" \
	"milter_protocol = 6"

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
# NAME|client address|MAIL FROM|X-Test-Action|body (default "case NAME")|
#   the reply Postfix gives that ends the transaction (ERE)|
#   a header then in the queue (none: nothing may be queued)
CASES=(
	"clean|127.0.0.1|alice@client.test|||^<-  250 2\.0\.0 Ok: queued|Authentication-Results: postern.test; spf=pass smtp.mailfrom=client.test; spf=pass smtp.helo=client.test"
	"clean, scored|127.0.0.1|alice@client.test|||^<-  250 2\.0\.0 Ok: queued|X-Spam-Score: "
	"spf fail|127.0.0.1|x@fail.test|||^<\*\* 550 5\.7\.23 SPF fail for fail\.test|"
	"spf pass from 127.0.0.1|127.0.0.1|x@only-one.test|||^<-  250 2\.0\.0 Ok: queued|Authentication-Results: postern.test; spf=pass smtp.mailfrom=only-one.test;"
	"spf fail from 127.0.0.2|127.0.0.2|x@only-one.test|||^<\*\* 550 5\.7\.23 SPF fail for only-one\.test|"
	"gtube|127.0.0.1|alice@client.test||$GTUBE|^<\*\* 550 5\.7\.1 |"
	"reject|127.0.0.1|alice@client.test|reject||^<\*\* 550 5\.7\.1 Message rejected by policy|"
	"tempfail|127.0.0.1|alice@client.test|tempfail||^<\*\* 451 4\.7\.1 Message deferred by policy|"
	"tag|127.0.0.1|alice@client.test|tag add=X-Tagged:yes||^<-  250 2\.0\.0 Ok: queued|X-Tagged: yes"
)
for c in "${CASES[@]}"; do
	IFS='|' read -r name client from action body reply header <<<"$c"
	before=$(postfix_queue_ids pf | sort)
	extra=()
	[ -n "$action" ] && extra=(--header "X-Test-Action: $action")
	out=$(swaks --server "127.0.0.1:$pf_port" --local-interface "$client" --helo client.test \
		--from "$from" --to user@backend.test "${extra[@]}" --body "${body:-case $name}" 2>&1 |
		grep -E '^<')
	check_match "$name: Postfix replies as the policy decided" "$(printf '%s\n' "$out" | tail -n 2)" "$reply"
	new=$(comm -13 <(printf '%s\n' "$before") <(postfix_queue_ids pf | sort) | head -n 1)
	if [ -z "$header" ]; then
		check_eq "$name: nothing queued" "" "$new"
		continue
	fi
	# The header section, each field on one line (folds joined by a space).
	queued=$(postcat -c "$pf_conf" -hq "$new" 2>&1 | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n[[:space:]]\+/ /g')
	check_contains "$name: in Postfix's queue with the header" "$queued" "$header"
done
check_match "postern-milter logged the SPF refusal" "$(cat "$T/pm.log")" \
	'event=transaction .*from=<x@fail\.test>.* status=550 .*action=reject findings=spf\.spf=fail'
check_match "postern-milter logged spamd's GTUBE score" "$(cat "$T/pm.log")" \
	'event=transaction .* status=550 .*action=reject findings=.*sa\.spam=spam\(1000\.0\)'
check_match "Postfix refused at MAIL with postern's SPF reply" "$(cat "$pf_log")" \
	'NOQUEUE: milter-reject: MAIL from .*\[127\.0\.0\.2\]: 550 5\.7\.23 SPF fail for only-one\.test: only-one\.test does not designate 127\.0\.0\.2 '
# Ten sessions at once through the whole chain (spf, spamd): libmilter's
# threads share the one chain thread.
before=$(postfix_queue_ids pf | wc -l)
timeout 60 smtp-source -M client.test -s 10 -m 50 -l 2000 -f load@client.test -t user@backend.test \
	"127.0.0.1:$pf_port" >"$T/load.out" 2>&1
check_eq "50 messages through Postfix and postern-milter, 10 at a time" 0 $?
wait_until 20 sh -c "[ \$(postqueue -c '$pf_conf' -j 2>/dev/null | grep -c load@client.test) -ge 50 ]"
check_eq "all 50 held in Postfix's queue" 50 "$(postqueue -c "$pf_conf" -j 2>/dev/null | grep -c load@client.test)"
check_eq "postern-milter logged each of them" 50 "$(grep -c 'event=transaction .*from=<load@client\.test>.*status=250' "$T/pm.log")"
check_match "postern-milter logged the refusal" "$(cat "$T/pm.log")" \
	'event=transaction .* status=550 .*policy=default action=reject findings=(.*,)?t\.test=reject'
kill -TERM "$pm_pid"
wait_until 10 sh -c "! kill -0 $pm_pid 2>/dev/null"
check_true "postern-milter stops on SIGTERM" sh -c "! kill -0 $pm_pid 2>/dev/null"
check_no_match "postern-milter: no sanitizer report" "$(cat "$T/pm.log")" \
	'ERROR: (Address|Leak)Sanitizer|runtime error: |WARNING: .*Sanitizer'
it_done
