#!/bin/bash
# The rspamd filter against a real rspamd on loopback (a minimal config of
# our own in $T, one normal worker on a free port, DNS pointed at a port
# where nothing answers): GTUBE is rejected with 550 5.7.1,
# sample-nonspam.txt is delivered with its score in X-Spam-Score, with
# use_action rspamd's own action decides, the
# envelope reaches rspamd as headers, a connection rspamd closes is opened
# again, and rspamd down follows on_error (tempfail, continue).
. "$(dirname "$0")/lib.sh"
it_init
need_cmd rspamd swaks smtp-sink curl

examples=/usr/share/doc/spamassassin/examples
for f in sample-spam.txt sample-nonspam.txt; do
	if [ -f "$examples/$f" ]; then
		cp "$examples/$f" "$T/$f"
	elif [ -f "$examples/$f.gz" ]; then
		zcat "$examples/$f.gz" >"$T/$f"
	else
		skip "no $examples/$f"
	fi
done

rs_port=$(free_port)
no_dns=$(free_port)
mkdir -p "$T/rs/local"
cat >"$T/rs/rspamd.conf" <<EOF
.include "\$CONFDIR/common.conf"
options {
    pidfile = "$T/rs/rspamd.pid";
    .include "\$CONFDIR/options.inc"
    dns { nameserver = ["127.0.0.1:$no_dns"]; timeout = 0.2s; retransmits = 1; }
}
logging { type = "file"; filename = "$T/rs/rspamd.log"; level = "info"; }
worker "normal" { bind_socket = "127.0.0.1:$rs_port"; count = 1; task_timeout = 20s; }
EOF
user=()
[ "$(id -u)" = 0 ] && user=(-u root -g root)
rspamd -f "${user[@]}" -c "$T/rs/rspamd.conf" --var "DBDIR=$T/rs" --var "RUNDIR=$T/rs" \
	--var "LOCAL_CONFDIR=$T/rs/local" >"$T/rspamd.out" 2>&1 &
it_track $!
IT_LOGS+=("$T/rs/rspamd.log" "$T/rspamd.out")
ping_rspamd() {
	curl -s -m 2 "http://127.0.0.1:$rs_port/ping" 2>/dev/null | grep -q pong
}
if ! wait_until 60 ping_rspamd; then
	fail "rspamd answers /ping within 60 s" "$(tail -n 20 "$T/rspamd.out")"
	it_done
fi
pass "rspamd answers /ping"
dead_port=$(free_port)

start_sink sink
start_px px "$sink_port" "
filters:
  rs: { type: rspamd, address: 127.0.0.1:$rs_port, timeout: 20s, max_connections: 4 }
  rs_act: { type: rspamd, address: 127.0.0.1:$rs_port, timeout: 20s, use_action: true }
  rs_down: { type: rspamd, address: 127.0.0.1:$dead_port, on_error: tempfail }
  rs_down_ok: { type: rspamd, address: 127.0.0.1:$dead_port, on_error: continue }
policies:
  - name: default
    chain: [ rs ]
    spam: { tag: 5, reject: 10 }
  - { name: act, match: { rcpt_domain: act.test }, chain: [ rs_act ] }
  - { name: down, match: { rcpt_domain: down.test }, chain: [ rs_down ] }
  - { name: down_ok, match: { rcpt_domain: downok.test }, chain: [ rs_down_ok ] }"

send() { # FILE RCPT -> the server's replies
	swaks --server "127.0.0.1:$px_port" --from sender@client.test --to "$2" --data "$1" 2>&1 |
		grep -E '^<'
}
last_message() {
	cat "$(ls -t "$sink_dir"/m.* | head -n 1)"
}

n=$(sink_count sink)
out=$(send "$T/sample-spam.txt" b@sink.test)
check_match "GTUBE: 550 5.7.1" "$out" '^<\*\* 550 5\.7\.1 '
check_eq "GTUBE: nothing reached the backend" "$n" "$(sink_count sink)"
check_match "GTUBE: rspamd's action and score are the finding" "$(cat "$px_log")" \
	'action=reject findings=rs\.spam=reject\(15\.0\)'

out=$(send "$T/sample-nonspam.txt" b@sink.test)
check_match "sample-nonspam: delivered" "$out" '^<-  250 2\.0\.0 Ok'
check_eq "sample-nonspam: at the backend" $((n + 1)) "$(sink_count sink)"
msg=$(last_message)
check_match "sample-nonspam: X-Spam-Score header" "$msg" '^X-Spam-Score: -?[0-9]+\.[0-9]'
check_match "sample-nonspam: X-Spam-Status No, rspamd's finding" "$msg" \
	'^X-Spam-Status: No, score=-?[0-9.]+ tag=5\.0 reject=10\.0 tests=rs\.no-action\('
check_match "the envelope reached rspamd (From, Rcpt, IP)" "$(cat "$T/rs/rspamd.log")" \
	'ip: 127\.0\.0\.1.*rcpts: <b@sink\.test>.*|smtp_from: <sender@client\.test>|from: <sender@client\.test>'

out=$(send "$T/sample-spam.txt" b@act.test)
check_match "use_action, no thresholds: rspamd's reject rejects" "$out" '^<\*\* 550 5\.7\.1 '
check_match "use_action: the finding's own action decided" "$(cat "$px_log")" \
	'policy=act action=reject findings=rs_act\.spam=reject\(15\.0\)'
out=$(send "$T/sample-nonspam.txt" b@act.test)
check_match "use_action: no action, delivered" "$out" '^<-  250 2\.0\.0 Ok'

check_match "postern's transaction id reached rspamd as Queue-Id" "$(cat "$T/rs/rspamd.log")" \
	'queue-id: <[0-9A-F]+0001>'

# postern asks for keep-alive and reuses its connection; rspamd 3.4's normal
# worker answers "Connection: close" to every request, so each message must
# find the connection closed by the engine and open it again.
n=$(sink_count sink)
for i in 1 2 3 4 5; do
	send "$T/sample-nonspam.txt" b@sink.test >/dev/null
done
check_eq "after rspamd closed the connection: five more messages delivered" $((n + 5)) \
	"$(sink_count sink)"
check_not_contains "after rspamd closed the connection: no error" "$(cat "$px_log")" \
	'event=rspamd_error filter=rs '

out=$(send "$T/sample-nonspam.txt" b@down.test)
check_match "rspamd down, on_error tempfail: 451" "$out" '^<\*\* 451 4\.7\.1 '
check_match "rspamd down: logged" "$(cat "$px_log")" \
	"event=rspamd_error filter=rs_down address=127\.0\.0\.1:$dead_port reason=rspamd-unavailable"
n=$(sink_count sink)
out=$(send "$T/sample-nonspam.txt" b@downok.test)
check_match "rspamd down, on_error continue: delivered" "$out" '^<-  250 2\.0\.0 Ok'
check_not_contains "rspamd down, on_error continue: no score header" "$(last_message)" 'X-Spam-Score'
check_match "rspamd down: the error is a finding" "$(cat "$px_log")" \
	'policy=down_ok action=accept findings=rs_down_ok\.error=rspamd-unavailable'

it_done
