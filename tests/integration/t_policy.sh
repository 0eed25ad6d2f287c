#!/bin/bash
# The filter chain and policies through a real postern, with swaks and
# smtp-source as clients and smtp-sink as the backend: the test filter
# (./configure --enable-test-filter) rejects, tempfails, tags and delays on
# request; monitor mode delivers what enforce mode rejects; a recipient with
# another policy is deferred; SIGHUP with a good and with a broken file while
# 20 sessions are sending loses nothing.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink smtp-source swaks

start_sink sink
px_port=$(free_port)
write_config() { # hostname
	postern_config "$px_port" "$sink_port" | sed "s/^hostname: .*/hostname: $1/"
	cat <<'YAML'
limits: { max_sessions_per_client: 0 }
filters:
  t: { type: test, timeout: 2s, on_error: tempfail }
policies:
  - name: default
    chain: [ t ]
    spam: { tag: 5, reject: 10 }
  - name: watch
    match: { rcpt_domain: [ monitor.test ] }
    mode: monitor
    chain: [ t ]
YAML
}
write_config postern.test >"$T/px.yaml"
if ! "$POSTERN" -t -c "$T/px.yaml" >"$T/t.out" 2>&1; then
	grep -q 'unknown filter type "test"' "$T/t.out" && skip "built without --enable-test-filter"
	fail "config loads" "$(cat "$T/t.out")"
	it_done
fi
start_postern px "$px_port" "$T/px.yaml"

# send ACTION [TO] -> the replies swaks saw (last reply first line kept)
send() {
	swaks --server "127.0.0.1:$px_port" --from a@client.test --to "${2:-b@sink.test}" \
		--header "X-Test-Action: $1" --body "policy test" 2>&1 | grep -E '^<'
}

before=$(sink_count sink)
out=$(send reject)
check_match "reject: 550 from the policy" "$out" '550 5\.7\.1 Message rejected by policy'
out=$(send tempfail)
check_match "tempfail: 451" "$out" '451 4\.7\.1 Message deferred by policy, try again later'
out=$(send score=12)
check_match "score over reject: 550" "$out" '550 5\.7\.1 Message rejected by policy'
out=$(send discard)
check_match "discard: 250 from postern" "$out" '250 2\.0\.0 Ok: discarded by policy'
check_eq "nothing refused or discarded reached the backend" "$before" "$(sink_count sink)"

out=$(send tag)
check_match "tag: delivered" "$out" '250 2\.0\.0 Ok'
check_eq "tagged message at the backend" $((before + 1)) "$(sink_count sink)"
check_contains "tag header added" "$(cat $(sink_files sink | tail -n 1))" 'X-Postern-Action: tag (t=tag)'

# A delay is waited for; a filter that outlives its timeout follows on_error.
start=$(date +%s%N)
out=$(send delay=300)
ms=$((($(date +%s%N) - start) / 1000000))
check_match "delay 300 ms: delivered" "$out" '250 2\.0\.0 Ok'
check_true "delay 300 ms: took at least 300 ms (${ms} ms)" test "$ms" -ge 300
out=$(send delay=4000)
check_match "filter timeout, on_error tempfail: 451" "$out" '451 4\.7\.1'
check_contains "filter timeout logged" "$(cat "$px_log")" 'event=filter_timeout filter=t'

# A pending filter blocks nobody else: a whole message goes through meanwhile.
send delay=1500 >"$T/slow.out" &
slow=$!
sleep 0.2
start=$(date +%s%N)
out=$(send "")
ms=$((($(date +%s%N) - start) / 1000000))
check_match "another session while one waits: delivered" "$out" '250 2\.0\.0 Ok'
check_true "another session while one waits: not held up (${ms} ms)" test "$ms" -lt 1200
wait "$slow"
check_match "the delayed one: delivered" "$(cat "$T/slow.out")" '250 2\.0\.0 Ok'

# Monitor mode delivers what enforce mode rejects, and says so.
n=$(sink_count sink)
out=$(send reject c@monitor.test)
check_match "monitor: delivered" "$out" '250 2\.0\.0 Ok'
check_eq "monitor: at the backend" $((n + 1)) "$(sink_count sink)"
check_match "monitor: logged what it would do" "$(cat "$px_log")" 'event=monitor .*policy=watch would=reject'
check_match "monitor: transaction line" "$(cat "$px_log")" 'policy=watch\(monitor\) action=reject findings=t\.test=reject'

# Recipients: the filter's per-recipient verdict, and a recipient with another policy.
out=$(swaks --server "127.0.0.1:$px_port" --from a@client.test \
	--to b@sink.test,reject-me@sink.test,d@monitor.test --body x 2>&1 | grep -E '^<')
check_match "RCPT refused by the filter" "$out" '550 5\.7\.1 test filter: recipient refused'
check_match "recipient with another policy: 450" "$out" \
	'450 4\.3\.0 Error: this recipient has another policy; send it in a transaction of its own'
check_match "the rest delivered" "$out" '250 2\.0\.0 Ok'
out=$(swaks --server "127.0.0.1:$px_port" --from reject-mail@client.test --to b@sink.test \
	--body x 2>&1 | grep -E '^<')
check_match "MAIL refused by the filter" "$out" '550 5\.7\.1 test filter: sender refused'

# SIGHUP while 20 sessions send: a good file, then a broken one.
n=$(sink_count sink)
timeout 60 smtp-source -s 20 -m 400 -l 1000 -f load@client.test -t r@sink.test \
	"127.0.0.1:$px_port" >"$T/load.out" 2>&1 &
load=$!
sleep 0.3
write_config reloaded.test >"$T/px.yaml"
kill -HUP "$px_pid"
sleep 0.3
printf 'limits:\n  max_recipients: many\n' >"$T/px.yaml"
kill -HUP "$px_pid"
wait "$load"
status=$?
check_eq "load during reloads: smtp-source succeeded" 0 "$status"
check_eq "load during reloads: no errors" "" "$(grep -iE 'error|fail|[45][0-9][0-9] ' "$T/load.out")"
wait_until 10 test "$(sink_count sink)" -ge $((n + 400))
check_eq "load during reloads: all 400 messages arrived" $((n + 400)) "$(sink_count sink)"
check_match "good reload logged" "$(cat "$px_log")" 'event=reload status=ok'
check_match "broken reload refused with file:line:column" "$(cat "$px_log")" \
	'px\.yaml:2:19: limits\.max_recipients'
check_match "broken reload keeps the running config" "$(cat "$px_log")" \
	'event=reload status=failed'
out=$(smtp "$px_port" R 'S:QUIT\r\n' R E)
check_match "new sessions use the good reloaded config" "$out" '^220 reloaded\.test ESMTP postern'

it_done
