#!/bin/bash
# postern-milter reloads its -c file on SIGHUP, as postern does: a message the
# enforcing policy rejects is accepted once the file says monitor mode, while
# a connection opened before the reload keeps the old configuration; a broken
# file is logged (event=reload_failed, file:line:column) and changes nothing;
# several SIGHUPs at once do not stop it (libmilter's own signal thread would
# take SIGHUP as "stop"); it exits 0 on SIGTERM at the end. Driven by
# miltertest with milter/reload.lua.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd miltertest
need_postern_milter

port=$(free_port)
write_config() { # MODE
	cat >"$T/pm.yaml.new" <<EOF2
hostname: postern.test
milter: { socket: "inet:127.0.0.1:$port" }
filters:
  t: { type: test }
policies:
  - name: default
    mode: $1
    chain: [ t ]
EOF2
	mv "$T/pm.yaml.new" "$T/pm.yaml"
}
write_config enforce
if ! "$POSTERN_MILTER" -t -c "$T/pm.yaml" >"$T/t.out" 2>&1; then
	grep -q 'unknown filter type "test"' "$T/t.out" && skip "built without --enable-test-filter"
	fail "config loads" "$(cat "$T/t.out")"
	it_done
fi
"$POSTERN_MILTER" -c "$T/pm.yaml" 2>"$T/pm.log" &
pm_pid=$!
IT_POSTERNS+=("milter $pm_pid $T/pm.log")
IT_LOGS+=("$T/pm.log")
wait_port "$port" "$pm_pid" || { fail "start postern-milter" "$(cat "$T/pm.log")"; it_done; }

# mt WANT [HOLD]: one miltertest connection; its output in $T/mt.out
mt() {
	env MILTER_SOCKET="inet:$port@127.0.0.1" WANT="$1" ${2:+HOLD="$2"} \
		timeout 60 miltertest -s "$IT_DIR/milter/reload.lua" >"$T/mt.out" 2>&1
}
reloads() { grep -c "$1" "$T/pm.log"; }

mt reject
check_eq "enforce: the message is rejected" 0 $?
check_contains "enforce: with the policy's 550" "$(cat "$T/mt.out")" "ok - the policy's 550 5.7.1"

# A connection opened now is in flight across the reload.
(mt reject "$T/go"; echo $? >"$T/held.rc"; cp "$T/mt.out" "$T/held.out") &
held=$!
wait_until 30 test -e "$T/go.connected"
check_true "the held connection is open" test -e "$T/go.connected"

write_config monitor
kill -HUP "$pm_pid"
wait_until 20 grep -q 'event=reload status=ok' "$T/pm.log"
check_match "reload logged" "$(cat "$T/pm.log")" "event=reload status=ok source=$T/pm.yaml"
mt accept
check_eq "after the reload: monitor mode, the same message is accepted" 0 $?
check_contains "accepted at end of message" "$(cat "$T/mt.out")" "ok - accepted"

touch "$T/go"
wait_until 40 test -e "$T/held.rc"
wait "$held"
check_eq "the connection in flight kept the enforcing configuration: rejected" 0 \
	"$(cat "$T/held.rc" 2>/dev/null)"
check_contains "in flight: the policy's 550" "$(cat "$T/held.out" 2>/dev/null)" \
	"ok - the policy's 550 5.7.1"

cat >"$T/pm.yaml" <<EOF2
hostname: postern.test
milter: { socket: "inet:127.0.0.1:$port" }
filters:
  t: { type: test }
policies:
  - name: default
    mode: sometimes
    chain: [ t ]
EOF2
kill -HUP "$pm_pid"
wait_until 20 grep -q 'event=reload_failed' "$T/pm.log"
check_match "a broken file: reload_failed with file:line:column" "$(cat "$T/pm.log")" \
	"event=reload_failed diag=\"$T/pm.yaml:7:11: mode: .*sometimes.* is not enforce or monitor\""
check_true "postern-milter still runs" kill -0 "$pm_pid"
mt accept
check_eq "after the broken file: still monitor mode, accepted" 0 $?

# Five SIGHUPs at once on a good file: every one a reload or merged, none a stop.
write_config enforce
ok_before=$(reloads 'event=reload status=ok')
for i in 1 2 3 4 5; do kill -HUP "$pm_pid"; done
wait_until 20 sh -c "[ \$(grep -c 'event=reload status=ok' '$T/pm.log') -gt $ok_before ]"
check_true "several SIGHUPs reload" test "$(reloads 'event=reload status=ok')" -gt "$ok_before"
sleep 0.5
check_true "several SIGHUPs do not stop postern-milter" kill -0 "$pm_pid"
check_no_match "libmilter never stopped" "$(cat "$T/pm.log")" 'event=stopped'
mt reject
check_eq "enforcing again: rejected" 0 $?
it_done
