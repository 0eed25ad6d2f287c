#!/bin/bash
# Both directions at once: postern calls postern-milter as an external milter
# (type: milter), and postern-milter runs the test filter: its verdicts and
# edits come back over the milter protocol and are applied by postern to what
# smtp-sink receives.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink swaks
need_postern_milter

pm_port=$(free_port)
cat >"$T/pm.yaml" <<EOF2
hostname: inner.test
milter: { socket: "inet:127.0.0.1:$pm_port" }
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
wait_port "$pm_port" "$pm_pid" || { fail "start postern-milter" "$(cat "$T/pm.log")"; it_done; }

start_sink sink
start_px px "$sink_port" "filters:
  inner: { milter: \"inet:127.0.0.1:$pm_port\", on_error: tempfail }
policies:
  - name: default
    chain: [ inner ]"

send() {
	swaks --server "127.0.0.1:$px_port" --from a@client.test --to b@sink.test \
		--header "X-Test-Action: $1" --body "both ways" 2>&1 | grep -E '^<'
}
n=$(sink_count sink)
out=$(send reject)
check_match "the inner policy's reject reaches the client" "$out" '^<\*\* 550 5\.7\.1 Message rejected by policy'
check_match "logged by postern as the milter's verdict" "$(cat "$px_log")" \
	'event=transaction .*status=550 .*findings=inner\.milter=reject'
out=$(send "tag add=X-Inner:yes from=new@sender.test")
check_match "tagged: delivered" "$out" '^<.* 250 2\.0\.0 Ok'
check_eq "one message at the backend" $((n + 1)) "$(sink_count sink)"
f=$(ls -t "$sink_dir"/m.* | head -n 1)
body=$(sink_body "$f")
check_contains "the inner filter's header" "$body" "X-Inner: yes"
check_contains "the inner postern-milter's tag header" "$body" "X-Postern-Action: tag (t=tag)"
check_contains "the inner sender change" "$(cat "$f")" "X-Mail-Args: <new@sender.test>"
kill -TERM "$pm_pid"
wait_until 10 sh -c "! kill -0 $pm_pid 2>/dev/null"
check_no_match "postern-milter: no sanitizer report" "$(cat "$T/pm.log")" \
	'ERROR: (Address|Leak)Sanitizer|runtime error: |WARNING: .*Sanitizer'
it_done
