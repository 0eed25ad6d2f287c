#!/bin/bash
# postern-milter driven by miltertest (OpenDKIM's milter test harness, Debian
# package miltertest) with the Lua script milter/postern.lua: a clean message,
# one the test filter rejects, one it tags and edits, one quarantined, one
# discarded, one with a new body and a recipient less, on one connection;
# the replies and the EOM modifications are checked by the script, the log
# line here.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd miltertest
need_postern_milter

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
if ! "$POSTERN_MILTER" -t -c "$T/pm.yaml" >"$T/t.out" 2>&1; then
	grep -q 'unknown filter type "test"' "$T/t.out" && skip "built without --enable-test-filter"
	fail "config loads" "$(cat "$T/t.out")"
	it_done
fi
"$POSTERN_MILTER" -c "$T/pm.yaml" 2>"$T/pm.log" &
pm_pid=$!
it_track "$pm_pid"
IT_LOGS+=("$T/pm.log")
wait_port "$port" "$pm_pid" || { fail "start postern-milter" "$(cat "$T/pm.log")"; it_done; }

MILTER_SOCKET="inet:$port@127.0.0.1" timeout 60 miltertest -s "$IT_DIR/milter/postern.lua" >"$T/mt.out" 2>&1
status=$?
check_eq "miltertest script passes" 0 "$status"
check_eq "every check of the script ran" 29 "$(grep -c '^ok - ' "$T/mt.out")"
check_contains "the last check ran" "$(cat "$T/mt.out")" "ok - recipient deleted"
[ "$status" = 0 ] || cat "$T/mt.out"
wait_until 5 grep -q 'status=550' "$T/pm.log"
check_match "the transaction log line, as postern's" "$(cat "$T/pm.log")" \
	'event=transaction session=[0-9a-f]+ client=127\.0\.0\.1:[0-9]+ helo="client\.test" from=<alice@client\.test> rcpt=<bob@example\.test> nrcpt=1 size=[0-9]+ status=550 .* policy=default action=reject findings=t\.test=reject'
check_contains "forged Authentication-Results logged" "$(cat "$T/pm.log")" 'event=forged_auth_results'
kill -TERM "$pm_pid"
wait_until 10 sh -c "! kill -0 $pm_pid 2>/dev/null"
check_true "postern-milter stops on SIGTERM" sh -c "! kill -0 $pm_pid 2>/dev/null"
check_no_match "no sanitizer report" "$(cat "$T/pm.log")" \
	'ERROR: (Address|Leak)Sanitizer|runtime error: |WARNING: .*Sanitizer'
it_done
