#!/bin/bash
# SIGHUP under load. postern starts with config A (greeting a.test, backend
# sink1, no chain for the default policy); while 20 smtp-source sessions keep
# sending, plus 4 that stay connected, the file is replaced by config B
# (greeting b.test, backend sink2, the test filter in the default policy's
# chain) and reloaded, then by a broken file and reloaded again. No load
# client may see a 4xx or 5xx and every message must arrive; new sessions
# follow B, also after the broken reload (refused with file:line:column);
# sessions that started under A, one of them waiting for a filter across both
# reloads, finish under A; and postern still exits 0 on SIGTERM.
# Needs ./configure --enable-test-filter.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink smtp-source

start_sink sink1
start_sink sink2
px_port=$(free_port)

# Line 13 of config B names the chain; the broken file adds a filter that is
# not defined there.
config_a() {
	cat <<EOF
hostname: a.test
listen:
  - address: 127.0.0.1:$px_port
backend:
  address: 127.0.0.1:$sink1_port
log:
  level: ${POSTERN_LOG_LEVEL:-info}
limits: { max_sessions_per_client: 0 }
filters:
  t: { type: test, timeout: 10s, on_error: tempfail }
policies:
  - name: default
  - name: patient
    match: { rcpt_domain: [ slow.test ] }
    chain: [ t ]
EOF
}
config_b() { # HOSTNAME CHAIN
	cat <<EOF
hostname: $1
listen:
  - address: 127.0.0.1:$px_port
backend:
  address: 127.0.0.1:$sink2_port
log:
  level: ${POSTERN_LOG_LEVEL:-info}
limits: { max_sessions_per_client: 0 }
filters:
  u: { type: test, timeout: 10s, on_error: tempfail }
policies:
  - name: default
    chain: [ $2 ]
EOF
}
# install_config WRITER ARGS...: replace px.yaml at once, as an editor or a
# configuration manager would.
install_config() {
	"$@" >"$T/px.yaml.new" && mv "$T/px.yaml.new" "$T/px.yaml"
}

install_config config_a
if ! "$POSTERN" -t -c "$T/px.yaml" >"$T/probe.out" 2>&1; then
	grep -q 'unknown filter type "test"' "$T/probe.out" && skip "built without --enable-test-filter"
	fail "config A loads" "$(cat "$T/probe.out")"
	# it_done: SIGTERM, and postern must exit 0 (and with no sanitizer report).
it_done
fi
config_b b.test u >"$T/b.yaml"
if out=$("$POSTERN" -t -c "$T/b.yaml" 2>&1); then
	pass "config B passes postern -t"
else
	fail "config B passes postern -t" "$out"
fi
start_postern px "$px_port" "$T/px.yaml"

# msg NAME ACTION: a message for the test filter, in $T/NAME.msg.
msg() {
	printf '%s\n' "Subject: reload $1" "X-Test-Action: $2" '' "The body of $1." >"$T/$1.msg"
}
msg reject reject
msg plain ""

# probe FROM ACTION-FILE: greeting, then the replies to one transaction, "|"-joined.
probe() {
	smtp "$px_port" R 'S:HELO client.test\r\n' R "S:MAIL FROM:<$1>\r\n" R \
		'S:RCPT TO:<b@example.com>\r\n' R 'S:DATA\r\n' R "D:$2" R 'S:QUIT\r\n' R \
		2>/dev/null | paste -sd'|'
}

# count_from SINK SENDER: messages from SENDER that SINK has dumped.
count_from() {
	local dir="${1}_dir"
	grep -rlF --include='m.*' "X-Mail-Args: <$2>" "${!dir}" | wc -l
}

# log_line ERE: the number of the first line of postern's log matching ERE.
log_line() {
	grep -nE -m 1 -- "$1" "$px_log" | cut -d: -f1
}

accepted() { # HOSTNAME: the replies to probe, message accepted
	joined "220 $1 ESMTP postern" "250 $1" "250 2.1.0 Ok" "250 2.1.5 Ok" \
		"354 End data with <CR><LF>.<CR><LF>" "250 2.0.0 Ok" "221 2.0.0 Bye"
}
REFUSED=$(joined "220 b.test ESMTP postern" "250 b.test" "250 2.1.0 Ok" "250 2.1.5 Ok" \
	"354 End data with <CR><LF>.<CR><LF>" "550 5.7.1 Message rejected by policy" "221 2.0.0 Bye")

# --- config A.
check_eq "config A: X-Test-Action: reject accepted (no chain)" "$(accepted a.test)" \
	"$(probe a1@client.test "$T/reject.msg")"
check_eq "config A: delivered to sink1" 1 "$(count_from sink1 a1@client.test)"

# --- the load: 4 sessions that stay connected (a message a second each), and
# rounds of 20 sessions with one message each, until told to stop. The short
# pause between rounds keeps the count of dump files to a few hundred (their
# names end in a random 32-bit number).
smtp-source -s 4 -d -m 16 -w 1 -f persist@client.test -t r@example.com \
	"127.0.0.1:$px_port" >"$T/persist.out" 2>&1 &
persist=$!
it_track "$persist"
load_rounds() {
	local i
	for ((i = 0; i < 300 && SECONDS < 25; i++)); do
		[ -e "$T/stop" ] && return 0
		if ! smtp-source -s 20 -m 20 -f load@client.test -t r@example.com \
			"127.0.0.1:$px_port" >>"$T/load.out" 2>&1; then
			echo "round $i: smtp-source failed" >>"$T/load.out"
			return 1
		fi
		echo "$i" >>"$T/rounds"
		sleep 0.02
	done
	echo "rounds: stopped by the bound, not by the test" >>"$T/load.out"
}
: >"$T/rounds"
rounds_done() {
	wc -l <"$T/rounds"
}
load_rounds &
load=$!
it_track "$load"

# All 4 persistent sessions are connected (each has sent a message).
persist_sessions() {
	grep -F 'from=<persist@client.test>' "$px_log" | sed -n 's/.* session=\([0-9a-f]*\) .*/\1/p' |
		sort -u | wc -l
}
check_true "the 4 persistent sessions are sending" wait_until 10 at_least 4 persist_sessions
check_true "the load rounds are flowing" wait_until 10 at_least 2 rounds_done

# Two sessions that start under A and end after both reloads: one waits for
# its filter (policy patient) meanwhile, one is idle between EHLO and MAIL.
msg slow delay=4000
smtp "$px_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<slow@client.test>\r\n' R \
	'S:RCPT TO:<s@slow.test>\r\n' R 'S:DATA\r\n' R "D:$T/slow.msg" R 'S:QUIT\r\n' R \
	>"$T/slow.out" 2>/dev/null &
slow=$!
smtp "$px_port" R 'S:EHLO client.test\r\n' R Z:4 'S:MAIL FROM:<idle@client.test>\r\n' R \
	'S:RCPT TO:<b@example.com>\r\n' R 'S:DATA\r\n' R "D:$T/reject.msg" R 'S:QUIT\r\n' R \
	>"$T/idle.out" 2>/dev/null &
idle=$!
check_true "the slow session is waiting for its filter" wait_until 5 grep -q '^354 ' "$T/slow.out"
check_true "the idle session said EHLO" wait_until 5 grep -q '^250 ' "$T/idle.out"

# --- a good reload: config B.
install_config config_b b.test u
kill -HUP "$px_pid"
check_true "good reload logged" wait_until 5 grep -q 'event=reload status=ok' "$px_log"
check_eq "after the good reload: greeting b.test, X-Test-Action: reject refused" "$REFUSED" \
	"$(probe b1@client.test "$T/reject.msg")"
check_eq "after the good reload: a plain message accepted" "$(accepted b.test)" \
	"$(probe b2@client.test "$T/plain.msg")"
check_eq "after the good reload: delivered to sink2" "0 1" \
	"$(count_from sink1 b2@client.test) $(count_from sink2 b2@client.test)"
check_true "after the good reload: the load goes on, to sink2" \
	wait_until 10 at_least 40 count_from sink2 load@client.test

# --- a broken file: refused, B kept.
install_config config_b c.test 'u, nosuch'
kill -HUP "$px_pid"
check_true "broken reload logged" wait_until 5 grep -q 'event=reload status=failed' "$px_log"
check_true "the broken reload's error, at its file:line:column" grep -qFx \
	"$T/px.yaml:13:17: policy default: chain names \"nosuch\", which is not in filters:" "$px_log"
failed_at=$(log_line 'event=reload status=failed')
kill -0 "$slow" 2>/dev/null
check_eq "the slow session is still waiting for its filter after both reloads" 0 $?
check_eq "after the broken reload: still B (b.test, reject refused)" "$REFUSED" \
	"$(probe c1@client.test "$T/reject.msg")"
check_eq "after the broken reload: a plain message accepted" "$(accepted b.test)" \
	"$(probe c2@client.test "$T/plain.msg")"
check_eq "after the broken reload: delivered to sink2" "0 1" \
	"$(count_from sink1 c2@client.test) $(count_from sink2 c2@client.test)"
n=$(count_from sink2 load@client.test)
check_true "after the broken reload: the load goes on" \
	wait_until 10 at_least $((n + 40)) count_from sink2 load@client.test

# --- stop the load; nothing lost, nothing refused.
touch "$T/stop"
wait "$load"
check_eq "load rounds: every smtp-source succeeded, none printed anything" "" "$(cat "$T/load.out")"
rounds=$(rounds_done)
wait "$persist"
check_eq "persistent sessions: smtp-source succeeded" 0 $?
check_eq "persistent sessions: nothing printed" "" "$(cat "$T/persist.out")"
sent=$((rounds * 20))
arrived() {
	echo $(($(count_from sink1 load@client.test) + $(count_from sink2 load@client.test)))
}
wait_until 10 at_least "$sent" arrived
check_eq "load: all $sent messages arrived" "$sent" "$(arrived)"
check_eq "load: no transaction answered 4xx or 5xx" "" \
	"$(grep 'event=transaction' "$px_log" | grep -E 'from=<(load|persist)@' | grep -v ' status=250 ')"
check_eq "persistent sessions (started under A): all 16 messages at sink1, none at sink2" "16 0" \
	"$(count_from sink1 persist@client.test) $(count_from sink2 persist@client.test)"
last_persist=$(grep -n 'event=transaction .*from=<persist@client.test>' "$px_log" | tail -n 1 |
	cut -d: -f1)
check_true "persistent sessions: sent messages after both reloads" \
	test "${last_persist:-0}" -gt "${failed_at:-0}"

# --- the sessions that started under A finish under A.
wait "$slow"
check_eq "the slow session (config A's chain) delivered" "250 2.0.0 Ok" \
	"$(grep -v '^250-' "$T/slow.out" | sed -n 6p)"
check_eq "the slow session: at sink1" "1 0" \
	"$(count_from sink1 slow@client.test) $(count_from sink2 slow@client.test)"
check_match "the slow session: logged with config A's policy" \
	"$(grep -F 'from=<slow@client.test>' "$px_log")" ' policy=patient action=accept findings=-'
wait "$idle"
check_eq "the idle session started under A" \
	"220 a.test ESMTP postern" "$(head -n 1 "$T/idle.out")"
check_eq "the idle session: X-Test-Action: reject accepted (config A, no chain)" "250 2.0.0 Ok" \
	"$(grep -v '^250-' "$T/idle.out" | sed -n 6p)"
check_eq "the idle session: at sink1" "1 0" \
	"$(count_from sink1 idle@client.test) $(count_from sink2 idle@client.test)"
idle_at=$(log_line 'from=<idle@client.test>')
check_true "the idle session's transaction came after the broken reload" \
	test "${idle_at:-0}" -gt "${failed_at:-0}"

# it_done: SIGTERM, and postern must exit 0 (and with no sanitizer report).
it_done
