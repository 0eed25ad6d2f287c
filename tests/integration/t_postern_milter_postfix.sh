#!/bin/bash
# postern-milter behind a real Postfix on loopback (smtpd_milters): each case
# is a message sent to Postfix with swaks and the reply Postfix must give;
# accepted ones are checked in Postfix's queue (postcat) for the headers
# postern-milter added. The test filter (--enable-test-filter) stands in for
# the real checks; to extend it with SPF-fail (filters/spf.c) or GTUBE
# (spamd), add the filter to the chain in the YAML below and a line to CASES.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd swaks smtp-source
POSTERN_MILTER=${POSTERN_MILTER:-${top_builddir:-.}/milter/postern-milter}
[ -x "$POSTERN_MILTER" ] || skip "no postern-milter at $POSTERN_MILTER"

port=$(free_port)
cat >"$T/pm.yaml" <<EOF2
hostname: postern.test
milter: { socket: "inet:127.0.0.1:$port" }
filters:
  t: { type: test }
policies:
  - name: default
    chain: [ t ]
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

# NAME|X-Test-Action|the reply Postfix gives at the end of DATA (ERE)|a header then in the queue
CASES=(
	"clean|result=spf:pass|^<-  250 2\.0\.0 Ok: queued|Authentication-Results: postern.test;"
	"reject|reject|^<\*\* 550 5\.7\.1 Message rejected by policy|"
	"tempfail|tempfail|^<\*\* 451 4\.7\.1 Message deferred by policy|"
	"tag|tag add=X-Tagged:yes|^<-  250 2\.0\.0 Ok: queued|X-Tagged: yes"
)
for c in "${CASES[@]}"; do
	IFS='|' read -r name action reply header <<<"$c"
	before=$(postfix_queue_ids pf | sort)
	out=$(swaks --server "127.0.0.1:$pf_port" --from alice@client.test --to user@backend.test \
		--header "X-Test-Action: $action" --body "case $name" 2>&1 | grep -E '^<')
	check_match "$name: Postfix replies as the policy decided" "$out" "$reply"
	[ -n "$header" ] || continue
	id=$(comm -13 <(printf '%s\n' "$before") <(postfix_queue_ids pf | sort) | head -n 1)
	check_contains "$name: in Postfix's queue with the header" \
		"$(postcat -c "$pf_conf" -hq "$id" 2>&1)" "$header"
done
# Ten sessions at once: libmilter's threads share the one chain thread.
before=$(postfix_queue_ids pf | wc -l)
timeout 60 smtp-source -s 10 -m 50 -l 2000 -f load@client.test -t user@backend.test \
	"127.0.0.1:$pf_port" >"$T/load.out" 2>&1
check_eq "50 messages through Postfix and postern-milter, 10 at a time" 0 $?
wait_until 20 sh -c "[ \$(postqueue -c '$pf_conf' -j 2>/dev/null | grep -c load@client.test) -ge 50 ]"
check_eq "all 50 held in Postfix's queue" 50 "$(postqueue -c "$pf_conf" -j 2>/dev/null | grep -c load@client.test)"
check_eq "postern-milter logged each of them" 50 "$(grep -c 'event=transaction .*from=<load@client\.test>.*status=250' "$T/pm.log")"
check_match "postern-milter logged the refusal" "$(cat "$T/pm.log")" \
	'event=transaction .* status=550 .*policy=default action=reject findings=t\.test=reject'
kill -TERM "$pm_pid"
wait_until 10 sh -c "! kill -0 $pm_pid 2>/dev/null"
check_true "postern-milter stops on SIGTERM" sh -c "! kill -0 $pm_pid 2>/dev/null"
check_no_match "postern-milter: no sanitizer report" "$(cat "$T/pm.log")" \
	'ERROR: (Address|Leak)Sanitizer|runtime error: |WARNING: .*Sanitizer'
it_done
