#!/bin/bash
# The filter chain and policies, reply by reply: the test filter (./configure
# --enable-test-filter) refuses a sender or a recipient, and at end of data
# rejects, tempfails, tags, scores, discards or takes its time, as the message
# asks in "X-Test-Action:". Checked: the exact replies, what the backend gets
# (smtp-sink's dumps, the commands a recording backend saw), the transaction
# log line, filter timeouts with on_error tempfail and continue, a pending
# filter not holding up other sessions, monitor mode, a recipient with another
# policy, a client vanishing while a filter is pending; and the errors
# `postern -t` gives for a bad chain or policy, at their file:line:column.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink

POLICY=$(
	cat <<'EOF'
filters:
  t: { type: test, timeout: 1s, on_error: tempfail }
  slow: { type: test, timeout: 5s, on_error: tempfail }
  lax: { type: test, timeout: 1s, on_error: continue }
policies:
  - name: default
    chain: [ t ]
    spam: { tag: 5, reject: 10 }
  - name: watch
    match: { rcpt_domain: [ monitor.test ] }
    mode: monitor
    chain: [ t ]
  - name: patient
    match: { rcpt_domain: [ slow.test ] }
    chain: [ slow ]
  - name: lenient
    match: { rcpt_domain: [ lax.test ] }
    chain: [ lax ]
EOF
)
{
	postern_config 2525 10025
	printf '%s\n' "$POLICY"
} >"$T/probe.yaml"
if ! "$POSTERN" -t -c "$T/probe.yaml" >"$T/probe.out" 2>&1; then
	grep -q 'unknown filter type "test"' "$T/probe.out" && skip "built without --enable-test-filter"
	fail "the chain configuration loads" "$(cat "$T/probe.out")"
	it_done
fi

# --- postern -t: each problem in a chain or a policy, at its line and column.
# bad_config NAME 'FILE:LINE:COL: MESSAGE' <YAML: exit 1 and exactly that error
# ("FILE" stands for the file's path).
bad_config() {
	local file=$T/$1.yaml out status
	cat >"$file"
	out=$(timeout 10 "$POSTERN" -t -c "$file" 2>&1)
	status=$?
	check_eq "postern -t, $1: exit status 1" 1 "$status"
	check_eq "postern -t, $1: the error" "${2/#FILE/$file}" "$out"
}
bad_config chain-unknown-filter \
	'FILE:10:17: policy default: chain names "nosuch", which is not in filters:' <<'EOF'
hostname: postern.test
listen:
  - address: 127.0.0.1:2525
backend:
  address: 127.0.0.1:10025
filters:
  t: { type: test }
policies:
  - name: default
    chain: [ t, nosuch ]
EOF
bad_config unknown-type 'FILE:8:14: filters.x: unknown filter type "nosuch"' <<'EOF'
hostname: postern.test
listen:
  - address: 127.0.0.1:2525
backend:
  address: 127.0.0.1:10025
filters:
  t: { type: test }
  x: { type: nosuch }
policies:
  - name: default
    chain: [ t ]
EOF
bad_config bad-cidr \
	'FILE:15:11: match.client: "10.0.0.1/33" is not a network (e.g. 192.0.2.0/24, 2001:db8::/32, 192.0.2.1)' <<'EOF'
hostname: postern.test
listen:
  - address: 127.0.0.1:2525
backend:
  address: 127.0.0.1:10025
filters:
  t: { type: test }
policies:
  - name: default
    chain: [ t ]
  - name: nets
    match:
      client:
        - 192.0.2.0/24
        - 10.0.0.1/33
    chain: [ t ]
EOF
bad_config spam-thresholds \
	'FILE:9:30: spam: reject (5) must be above tag (10), or nothing is ever tagged' <<'EOF'
hostname: postern.test
listen:
  - address: 127.0.0.1:2525
backend:
  address: 127.0.0.1:10025
policies:
  - name: default
    chain: []
    spam: { tag: 10, reject: 5 }
EOF
bad_config rule-action \
	'FILE:12:13: spf.fail: "bounce" is not an action (accept, tag, quarantine, discard, tempfail, reject)' <<'EOF'
hostname: postern.test
listen:
  - address: 127.0.0.1:2525
backend:
  address: 127.0.0.1:10025
filters:
  t: { type: test }
policies:
  - name: default
    chain: [ t ]
    spf:
      fail: bounce
      softfail: tag
EOF

# --- the daemon: px relays to smtp-sink, pxr to a recording backend.
start_sink sink
start_rawsink raw
start_px px "$sink_port" "$POLICY"
start_px pxr "$raw_port" "$POLICY"

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# msg NAME ACTION: a message asking the test filter for ACTION, in $T/NAME.msg.
msg() {
	printf '%s\n' 'From: <a@client.test>' 'To: <b@example.com>' "Subject: chain $1" \
		"X-Test-Action: $2" '' "The body of $1." >"$T/$1.msg"
}

# session PORT STEP...: smtptool steps after EHLO, then QUIT; prints the
# replies after EHLO's, joined by "|".
session() {
	local port=$1
	shift
	smtp "$port" R 'S:EHLO client.test\r\n' R "$@" 'S:QUIT\r\n' R 2>/dev/null |
		sed -e '1,/^250 /d' | paste -sd'|'
}

# txn_steps FROM RCPT[,RCPT...] FILE: the steps of one transaction.
txn_steps() {
	local r
	steps=("S:MAIL FROM:<$1>\r\n" R)
	for r in ${2//,/ }; do
		steps+=("S:RCPT TO:<$r>\r\n" R)
	done
	steps+=('S:DATA\r\n' R "D:$3" R)
}

# deliver PORT FROM RCPT[,RCPT...] FILE: one transaction in a session.
deliver() {
	local steps
	txn_steps "$2" "$3" "$4"
	session "$1" "${steps[@]}"
}

# txn_line FROM: the transaction log line of the (unique) sender FROM;
# logged FROM: whether there is one yet.
txn_line() {
	grep -F "event=transaction " "$px_log" | grep -F " from=<$1> "
}
logged() {
	txn_line "$1" >/dev/null
}

# dump_of SENDER: the smtp-sink dump of the message from SENDER.
dump_of() {
	grep -lF "X-Mail-Args: <$1>" "$sink_dir"/m.* 2>/dev/null
}

OK1="250 2.1.0 Ok"
OK2="250 2.1.5 Ok"
GO="354 End data with <CR><LF>.<CR><LF>"
BYE="221 2.0.0 Bye"
REJECTED="550 5.7.1 Message rejected by policy"
DEFERRED="451 4.7.1 Message deferred by policy, try again later"

# --- MAIL: the filter refuses the sender; the backend never sees that MAIL,
# and the session goes on.
msg plain ""
out=$(session "$pxr_port" 'S:MAIL FROM:<reject-mail@client.test>\r\n' R \
	'S:MAIL FROM:<tempfail-mail@client.test>\r\n' R 'S:RSET\r\n' R)
check_eq "MAIL refused, MAIL tempfailed, then RSET" \
	"$(joined "550 5.7.1 test filter: sender refused" "451 4.7.1 test filter: try later" \
		"250 2.0.0 Ok" "$BYE")" "$out"
txn_steps after-refusal@client.test b@example.com "$T/plain.msg"
out=$(session "$pxr_port" 'S:MAIL FROM:<reject-mail@client.test>\r\n' R "${steps[@]}")
check_eq "after a refused MAIL the session goes on" \
	"$(joined "550 5.7.1 test filter: sender refused" "$OK1" "$OK2" "$GO" \
		"250 2.0.0 Ok: queued" "$BYE")" "$out"
cmds=$(cat "$raw_dir/commands.log")
check_not_contains "the backend never saw the refused MAIL" "$cmds" "reject-mail@"
check_not_contains "the backend never saw the tempfailed MAIL" "$cmds" "tempfail-mail@"
check_contains "the backend saw the next MAIL" "$cmds" "MAIL FROM:<after-refusal@client.test>"
wait_until 3 grep -q 'from=<reject-mail@client.test>' "$pxr_log"
check_match "refused MAIL: transaction line" "$(cat "$pxr_log")" \
	'event=transaction .* from=<reject-mail@client\.test> .*status=550 reply="550 5\.7\.1 test filter: sender refused" .* policy=default action=reject findings=t\.test=reject'

# --- RCPT: refused and tempfailed recipients; the others go through.
: >"$raw_dir/commands.log"
out=$(deliver "$pxr_port" rcpts@client.test \
	reject-me@example.com,b@example.com,tempfail-me@example.com,c@example.com "$T/plain.msg")
check_eq "RCPT refused and tempfailed by the filter, the others accepted" \
	"$(joined "$OK1" "550 5.7.1 test filter: recipient refused" "$OK2" \
		"451 4.7.1 test filter: try later" "$OK2" "$GO" "250 2.0.0 Ok: queued" "$BYE")" "$out"
check_eq "the backend got only the accepted recipients" \
	"$(printf '%s\n' 'RCPT TO:<b@example.com>' 'RCPT TO:<c@example.com>')" \
	"$(sed -n 's/^[0-9]*: \(RCPT .*\)/\1/p' "$raw_dir/commands.log")"

# --- end of data, one action each, through smtp-sink.
declare -A final=(
	[reject]=$REJECTED
	[tempfail]=$DEFERRED
	[score=12]=$REJECTED
	[discard]="250 2.0.0 Ok: discarded by policy"
)
before=$(sink_count sink)
for action in reject tempfail score=12 discard; do
	name=eom-${action/=/}
	msg "$name" "$action"
	out=$(deliver "$px_port" "$name@client.test" b@example.com "$T/$name.msg")
	check_eq "X-Test-Action: $action" "$(joined "$OK1" "$OK2" "$GO" "${final[$action]}" "$BYE")" "$out"
done
check_eq "nothing rejected, tempfailed or discarded reached smtp-sink" "$before" "$(sink_count sink)"
wait_until 3 logged eom-discard@client.test
check_contains "reject: transaction line" "$(txn_line eom-reject@client.test)" \
	" status=550 reply=\"$REJECTED\" "
check_contains "reject: policy, action and findings logged" "$(txn_line eom-reject@client.test)" \
	" policy=default action=reject findings=t.test=reject"
check_contains "tempfail: policy, action and findings logged" \
	"$(txn_line eom-tempfail@client.test)" " policy=default action=tempfail findings=t.test=tempfail"
check_contains "score over spam.reject: logged" "$(txn_line eom-score12@client.test)" \
	" policy=default action=reject findings=t.spam=scored(12.0)"
check_contains "discard: logged" "$(txn_line eom-discard@client.test)" \
	" status=250 reply=\"250 2.0.0 Ok: discarded by policy\" "

# The same in one session to the recording backend: the open transaction is
# reset, no DATA is sent, and the last message, accepted, is the only one.
: >"$raw_dir/commands.log"
steps_all=()
for action in reject tempfail discard; do
	txn_steps "$action@client.test" b@example.com "$T/eom-$action.msg"
	steps_all+=("${steps[@]}")
done
msg last ""
txn_steps last@client.test b@example.com "$T/last.msg"
steps_all+=("${steps[@]}")
nwire=$(find "$raw_dir" -name 'msg-*.wire' | wc -l)
out=$(session "$pxr_port" "${steps_all[@]}")
check_eq "reject, tempfail, discard, accept in one session" \
	"$(joined "$OK1" "$OK2" "$GO" "$REJECTED" "$OK1" "$OK2" "$GO" "$DEFERRED" \
		"$OK1" "$OK2" "$GO" "250 2.0.0 Ok: discarded by policy" \
		"$OK1" "$OK2" "$GO" "250 2.0.0 Ok: queued" "$BYE")" "$out"
check_eq "the backend: each refused transaction reset, DATA only for the last" \
	"$(printf '%s\n' MAIL RCPT RSET MAIL RCPT RSET MAIL RCPT RSET MAIL RCPT DATA)" \
	"$(sed -n 's/^[0-9]*: \([A-Z]*\).*/\1/p' "$raw_dir/commands.log" | grep -v -e EHLO -e XCLIENT -e XFORWARD)"
check_eq "the backend got one message more" $((nwire + 1)) \
	"$(find "$raw_dir" -name 'msg-*.wire' | wc -l)"
check_contains "...the accepted one" "$(cat "$raw_dir/msg-$((nwire + 1)).wire" 2>/dev/null)" \
	"Subject: chain last"

# --- tag and score: delivered with postern's headers on top, the rest intact
# (X-Spam-Score and X-Spam-Status whenever a finding had a score).
# tagged NAME ACTION HEADER...: the message arrives as HEADER... + the original.
tagged() {
	local name=$1 action=$2 f
	shift 2
	msg "$name" "$action"
	out=$(deliver "$px_port" "$name@client.test" b@example.com "$T/$name.msg")
	check_eq "X-Test-Action: $action: delivered" \
		"$(joined "$OK1" "$OK2" "$GO" "250 2.0.0 Ok" "$BYE")" "$out"
	f=$(dump_of "$name@client.test")
	[ $# -gt 0 ] && printf '%s\n' "$@" >"$T/$name.want"
	cat "$T/$name.msg" >>"$T/$name.want"
	sink_body "$f" >"$T/$name.got" 2>/dev/null
	check_file_eq "X-Test-Action: $action: at smtp-sink as expected" "$T/$name.want" "$T/$name.got"
}
tagged tag tag 'X-Postern-Action: tag (t=tag)'
tagged score7 score=7 'X-Spam-Score: 7.0' \
	'X-Spam-Status: Yes, score=7.0 tag=5.0 reject=10.0 tests=t.scored(7.0)' \
	'X-Postern-Action: tag (score=7.0)' 'X-Postern-Score: 7.0'
tagged score3 score=3 'X-Spam-Score: 3.0' \
	'X-Spam-Status: No, score=3.0 tag=5.0 reject=10.0 tests=t.scored(3.0)'
wait_until 3 logged score3@client.test
check_contains "tag: logged" "$(txn_line tag@client.test)" \
	" policy=default action=tag findings=t.test=tag"
check_contains "score below spam.tag: accepted" "$(txn_line score3@client.test)" \
	" policy=default action=accept findings=t.spam=scored(3.0)"

# --- a filter that takes its time.
msg delay300 delay=300
start=$(now_ms)
out=$(deliver "$px_port" delay300@client.test b@example.com "$T/delay300.msg")
ms=$(($(now_ms) - start))
check_eq "delay=300: delivered" "$(joined "$OK1" "$OK2" "$GO" "250 2.0.0 Ok" "$BYE")" "$out"
check_true "delay=300: answered after at least 300 ms ($ms ms)" test "$ms" -ge 300
check_true "delay=300: at smtp-sink" test -n "$(dump_of delay300@client.test)"

# Past the filter's timeout (1 s): on_error tempfail, and the session goes on.
msg delay3000 delay=3000
txn_steps timeout@client.test b@example.com "$T/delay3000.msg"
steps_all=("${steps[@]}")
txn_steps after-timeout@client.test b@example.com "$T/plain.msg"
start=$(now_ms)
out=$(session "$px_port" "${steps_all[@]}" "${steps[@]}")
ms=$(($(now_ms) - start))
check_eq "filter timeout, on_error tempfail: 451, then the next message goes through" \
	"$(joined "$OK1" "$OK2" "$GO" "$DEFERRED" "$OK1" "$OK2" "$GO" "250 2.0.0 Ok" "$BYE")" "$out"
check_true "filter timeout: after about 1 s, not 3 ($ms ms)" test "$ms" -ge 1000 -a "$ms" -lt 2800
check_match "filter timeout logged" "$(cat "$px_log")" 'event=filter_timeout filter=t( |$)'
check_eq "the timed-out message did not reach smtp-sink" "" "$(dump_of timeout@client.test)"

# on_error: continue: the message is delivered when the filter times out.
start=$(now_ms)
out=$(deliver "$px_port" lax@client.test b@lax.test "$T/delay3000.msg")
ms=$(($(now_ms) - start))
check_eq "filter timeout, on_error continue: delivered" \
	"$(joined "$OK1" "$OK2" "$GO" "250 2.0.0 Ok" "$BYE")" "$out"
check_true "on_error continue: after about 1 s ($ms ms)" test "$ms" -ge 1000 -a "$ms" -lt 2800
check_true "on_error continue: at smtp-sink" test -n "$(dump_of lax@client.test)"
check_match "on_error continue: the timeout logged" "$(cat "$px_log")" \
	'event=filter_timeout filter=lax( |$)'

# A pending filter holds up no one: a whole session runs meanwhile.
msg delay2000 delay=2000
start=$(now_ms)
smtp "$px_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<slow@client.test>\r\n' R \
	'S:RCPT TO:<s@slow.test>\r\n' R 'S:DATA\r\n' R "D:$T/delay2000.msg" R 'S:QUIT\r\n' R \
	>"$T/slow.out" 2>/dev/null &
slow=$!
check_true "the slow session sent its message" wait_until 5 grep -q '^354 ' "$T/slow.out"
fast_start=$(now_ms)
out=$(deliver "$px_port" fast@client.test b@example.com "$T/plain.msg")
fast_ms=$(($(now_ms) - fast_start))
kill -0 "$slow" 2>/dev/null
check_eq "the slow session is still waiting for its filter" 0 $?
check_eq "meanwhile another session delivers a message" \
	"$(joined "$OK1" "$OK2" "$GO" "250 2.0.0 Ok" "$BYE")" "$out"
check_true "...without waiting ($fast_ms ms)" test "$fast_ms" -lt 1500
wait "$slow"
ms=$(($(now_ms) - start))
check_eq "the slow session: delivered after its delay" "250 2.0.0 Ok" \
	"$(grep -v '^250-' "$T/slow.out" | sed -n 6p)"
check_true "the slow session: took at least 2 s ($ms ms)" test "$ms" -ge 2000
check_true "both messages at smtp-sink" \
	test -n "$(dump_of fast@client.test)" -a -n "$(dump_of slow@client.test)"
check_true "the fast transaction was logged before the slow one" eval \
	'grep -E "from=<(fast|slow)@client.test>" "$px_log" | head -n 1 | grep -q "from=<fast@"'

# A client that vanishes while its filter is pending: nothing is delivered and
# postern carries on.
msg delay800 delay=800
smtp "$px_port" R 'S:EHLO client.test\r\n' R 'S:MAIL FROM:<vanish@client.test>\r\n' R \
	'S:RCPT TO:<v@slow.test>\r\n' R 'S:DATA\r\n' R "D:$T/delay800.msg" Z:0.2 X \
	>/dev/null 2>&1
sleep 1
out=$(deliver "$px_port" after-vanish@client.test b@example.com "$T/plain.msg")
check_eq "after a client vanished with its filter pending, postern carries on" \
	"$(joined "$OK1" "$OK2" "$GO" "250 2.0.0 Ok" "$BYE")" "$out"
check_eq "the vanished client's message was not delivered" "" "$(dump_of vanish@client.test)"

# --- monitor mode: evaluated and logged, delivered.
msg monitor reject
out=$(deliver "$px_port" monitor@client.test c@monitor.test "$T/monitor.msg")
check_eq "monitor mode: what enforce would reject is delivered" \
	"$(joined "$OK1" "$OK2" "$GO" "250 2.0.0 Ok" "$BYE")" "$out"
check_true "monitor mode: at smtp-sink" test -n "$(dump_of monitor@client.test)"
wait_until 3 logged monitor@client.test
check_match "monitor mode: what it would have done is logged" "$(cat "$px_log")" \
	'event=monitor .*policy=watch would=reject( |$)'
check_contains "monitor mode: transaction line" "$(txn_line monitor@client.test)" \
	" policy=watch(monitor) action=reject findings=t.test=reject"
msg monitor-discard discard
out=$(deliver "$px_port" monitor-discard@client.test c@monitor.test "$T/monitor-discard.msg")
check_eq "monitor mode: what enforce would discard is delivered" \
	"$(joined "$OK1" "$OK2" "$GO" "250 2.0.0 Ok" "$BYE")" "$out"
check_true "monitor mode, discard: at smtp-sink" test -n "$(dump_of monitor-discard@client.test)"

# --- a recipient with another policy than the transaction's first one.
msg mixed tag
out=$(deliver "$px_port" mixed@client.test b@example.com,c@monitor.test "$T/mixed.msg")
other="450 4.3.0 Error: this recipient has another policy; send it in a transaction of its own"
check_eq "second recipient with another policy: 450, the first delivered" \
	"$(joined "$OK1" "$OK2" "$other" "$GO" "250 2.0.0 Ok" "$BYE")" "$out"
f=$(dump_of mixed@client.test)
check_eq "only the first recipient at smtp-sink" "X-Rcpt-Args: <b@example.com>" \
	"$(grep '^X-Rcpt-Args:' "$f" 2>/dev/null)"
check_contains "the first recipient's policy applied (tag)" "$(cat "$f" 2>/dev/null)" \
	"X-Postern-Action: tag (t=tag)"
out=$(deliver "$px_port" mixed2@client.test c@monitor.test,b@example.com "$T/plain.msg")
check_eq "the other way round: the example.com recipient gets the 450" \
	"$(joined "$OK1" "$OK2" "$other" "$GO" "250 2.0.0 Ok" "$BYE")" "$out"
check_eq "only the monitor.test recipient at smtp-sink" "X-Rcpt-Args: <c@monitor.test>" \
	"$(grep '^X-Rcpt-Args:' "$(dump_of mixed2@client.test)" 2>/dev/null)"

it_done
