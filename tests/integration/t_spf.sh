#!/bin/bash
# SPF through a real postern, with a real unbound on loopback serving the test
# zones (lib.sh start_unbound) and smtp-sink as the backend. Postern runs the
# shipped default policy (it includes policies/default.yaml): every result
# (pass, fail with the domain's explanation, softfail, neutral, none,
# temperror from a server that never answers, permerror), the HELO identity
# and the null sender, each with the SMTP reply and the Authentication-Results
# the backend receives; a second postern adds Received-SPF fields. The
# default chain has dkim and dmarc too, so SPF waits for DMARC: a fail or
# temperror is refused at the end of the message (these test messages have
# no From, so DMARC cannot pass and forgive it; t_dmarc.sh shows that).
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink smtp-source unbound

start_unbound dns \
	'pass.test. TXT "v=spf1 ip4:192.0.2.9 ip4:127.0.0.0/8 -all"' \
	'fail.test. TXT "v=spf1 ip4:192.0.2.1 -all exp=why.fail.test"' \
	'why.fail.test. TXT "%{i} may not send mail for %{d}"' \
	'plain-fail.test. TXT "v=spf1 -all"' \
	'softfail.test. TXT "v=spf1 ~all"' \
	'neutral.test. TXT "v=spf1 ?all"' \
	'none.test. A 192.0.2.1' \
	'permerror.test. TXT "v=spf1 ip4:300.1.1.1 -all"' \
	'temperror.test. TXT "v=spf1 include:spf.dead.example -all"' \
	'helo-pass.test. TXT "v=spf1 a -all"' \
	'helo-pass.test. A 127.0.0.1' \
	'helo-fail.test. TXT "v=spf1 -all"'
start_sink sink

# Lookups of the dead zone are temporary errors after dns.timeout.
dns_yaml="dns: { servers: [ 127.0.0.1:$dns_port ], timeout: 2s, attempts: 1 }"
start_px dflt "$sink_port" "include: [ $top_srcdir/policies/default.yaml ]
$dns_yaml"
start_px rspf "$sink_port" "$dns_yaml
filters:
  spf: { received_spf: true, receiver: mx.postern.test }
policies:
  - name: default
    chain: [ spf ]
    spf: { fail: reject, temperror: tempfail }"

n=0
# send PORT HELO FROM: out= the replies to MAIL and to the message, joined by
# "|"; each message has a Subject of its own ("spf test N"), for last_msg.
send() {
	n=$((n + 1))
	printf 'Subject: spf test %d\n\nbody\n' "$n" >"$T/msg.txt"
	out=$(smtp "$1" R "S:HELO $2\r\n" R "S:MAIL FROM:<$3>\r\n" R "S:RCPT TO:<user@sink.test>\r\n" R \
		"S:DATA\r\n" R "D:$T/msg.txt" R "S:QUIT\r\n" R 2>>"$T/smtp.log")
	# The greeting, HELO, MAIL, RCPT, DATA and the message's replies, one line each.
	out=$(joined "$(printf '%s\n' "$out" | sed -n '3p')" "$(printf '%s\n' "$out" | sed -n '6p')")
}

# The backend's copy of the last message sent.
last_msg() {
	local f
	f=$(grep -lE "^Subject: spf test $n[[:space:]]*\$" $(sink_files sink) 2>/dev/null | head -n 1)
	[ -n "$f" ] && sink_body "$f"
}

delivered=0
# expect_delivered DESC REPLIES AUTH_RESULTS_PART
expect_delivered() {
	delivered=$((delivered + 1))
	check_match "$1: accepted" "$2" '^250 .*\|250 '
	check_eq "$1: at the backend" "$delivered" "$(sink_count sink)"
	check_contains "$1: Authentication-Results" "$(last_msg)" "$3"
}

send "$dflt_port" helo-pass.test a@pass.test
expect_delivered "pass" "$out" "spf=pass smtp.mailfrom=pass.test"
check_contains "pass: the HELO identity too" "$(last_msg)" "spf=pass smtp.helo=helo-pass.test"
check_match "pass: one Authentication-Results field, ours" "$(last_msg)" \
	'^Authentication-Results: postern\.test;'

send "$dflt_port" helo-pass.test a@fail.test
check_match "fail: refused at the end of data with 550 5.7.23 and the domain's explanation" "$out" \
	'^250 [^|]*\|550 5\.7\.23 SPF fail for fail\.test: 127\.0\.0\.1 may not send mail for fail\.test$'
check_eq "fail: nothing at the backend" "$delivered" "$(sink_count sink)"

send "$dflt_port" helo-pass.test a@plain-fail.test
check_match "fail without exp=: the default explanation" "$out" \
	'\|550 5\.7\.23 SPF fail for plain-fail\.test: plain-fail\.test does not designate 127\.0\.0\.1 as a permitted sender'

send "$dflt_port" helo-pass.test a@softfail.test
expect_delivered "softfail" "$out" "spf=softfail smtp.mailfrom=softfail.test"
check_contains "softfail: tagged" "$(last_msg)" "X-Postern-Action: tag (spf=softfail)"

send "$dflt_port" helo-pass.test a@neutral.test
expect_delivered "neutral" "$out" "spf=neutral smtp.mailfrom=neutral.test"
check_not_contains "neutral: not tagged" "$(last_msg)" "X-Postern-Action"

send "$dflt_port" helo-pass.test a@none.test
expect_delivered "none (no record)" "$out" "spf=none smtp.mailfrom=none.test"

send "$dflt_port" helo-pass.test a@nxdomain.test
expect_delivered "none (no such domain)" "$out" "spf=none smtp.mailfrom=nxdomain.test"

send "$dflt_port" helo-pass.test a@permerror.test
expect_delivered "permerror" "$out" "spf=permerror smtp.mailfrom=permerror.test"
check_contains "permerror: tagged" "$(last_msg)" "X-Postern-Action: tag (spf=permerror)"

start=$(date +%s)
send "$dflt_port" helo-pass.test a@temperror.test
took=$(($(date +%s) - start))
check_match "temperror (a server that never answers): 451 4.7.24 at the end of data" "$out" \
	'\|451 4\.7\.24 SPF temperror for temperror\.test: .*try again later$'
check_le "temperror: within the DNS timeout and some (${took} s)" 8 "$took"
send "$dflt_port" helo-pass.test a@host.dead.example
check_match "temperror: the sender's own domain unanswered" "$out" '\|451 4\.7\.24 SPF temperror for host\.dead\.example'
check_eq "temperror: nothing at the backend" "$delivered" "$(sink_count sink)"

# The HELO identity (RFC 7208 2.3): a HELO name whose record fails is refused.
send "$dflt_port" helo-fail.test a@pass.test
check_match "HELO fail: refused" "$out" '\|550 5\.7\.23 SPF fail for helo-fail\.test'
send "$dflt_port" none.test a@pass.test
expect_delivered "HELO none, MAIL FROM pass" "$out" "spf=none smtp.helo=none.test"

# The null sender: the identity is postmaster@ the HELO name (section 2.4).
send "$dflt_port" helo-pass.test ""
expect_delivered "null sender, HELO passes" "$out" "spf=pass smtp.mailfrom=helo-pass.test"
check_not_contains "null sender: HELO not checked twice" "$(last_msg)" "smtp.helo="
send "$dflt_port" helo-fail.test ""
check_match "null sender, HELO fails: refused" "$out" '\|550 5\.7\.23 SPF fail for helo-fail\.test'

# Received-SPF (RFC 7208 9.1), one per identity checked.
send "$rspf_port" helo-pass.test a@pass.test
expect_delivered "Received-SPF: pass" "$out" "spf=pass smtp.mailfrom=pass.test"
rspf=$(last_msg | tr -d '\r')
check_contains "Received-SPF for MAIL FROM" "$rspf" \
	'Received-SPF: pass (mx.postern.test: domain of a@pass.test designates 127.0.0.1 as permitted sender)
	client-ip=127.0.0.1; envelope-from=a@pass.test;
	helo=helo-pass.test; identity=mailfrom; receiver=mx.postern.test;'
check_contains "Received-SPF for HELO" "$rspf" \
	'Received-SPF: pass (mx.postern.test: host helo-pass.test designates 127.0.0.1 as permitted sender)
	client-ip=127.0.0.1; envelope-from=postmaster@helo-pass.test;
	helo=helo-pass.test; identity=helo; receiver=mx.postern.test;'
# A sender RFC 5321 allows with a quoted local part: escaped in the field.
# (smtptool decodes backslash escapes: \\ is one backslash on the wire)
send "$rspf_port" helo-pass.test '"odd (local) \\"part\\""@pass.test'
expect_delivered "Received-SPF: a quoted local part" "$out" "spf=pass smtp.mailfrom=pass.test"
check_contains "Received-SPF: the comment and the value escaped" "$(last_msg | tr -d '\r')" \
	'domain of "odd \(local\) \\"part\\""@pass.test designates'
check_contains "Received-SPF: envelope-from quoted" "$(last_msg | tr -d '\r')" \
	'envelope-from="\"odd (local) \\\"part\\\"\"@pass.test";'
# A HELO that is no domain: none, and written so it cannot pass for more.
send "$dflt_port" "x;dkim=pass" a@pass.test
expect_delivered "HELO with a ';' in it" "$out" 'spf=none smtp.helo="x;dkim=pass"'
check_not_contains "HELO with a ';': no result of its own" "$(last_msg)" "; dkim=pass"
send "$rspf_port" helo-pass.test a@softfail.test
expect_delivered "Received-SPF: softfail" "$out" "spf=softfail"
check_contains "Received-SPF softfail" "$(last_msg)" 'Received-SPF: softfail (mx.postern.test: domain of a@softfail.test is not quite sure that 127.0.0.1 is a permitted sender)'

# A chain without dmarc decides an SPF fail at once, at MAIL.
send "$rspf_port" helo-pass.test a@fail.test
check_match "chain without dmarc: fail refused at MAIL" "$out" '^550 5\.7\.23 SPF fail for fail\.test'

# Many sessions at once: the checks share the workers and the resolver's cache.
before=$(sink_count sink)
timeout 60 smtp-source -s 10 -m 60 -l 200 -M helo-pass.test -f load@pass.test -t user@sink.test \
	"127.0.0.1:$dflt_port" >"$T/source.log" 2>&1
check_eq "60 messages over 10 sessions at once: smtp-source succeeded" 0 "$?"
wait_until 10 test "$(sink_count sink)" -ge $((before + 60))
check_eq "60 messages over 10 sessions at once: all at the backend" $((before + 60)) "$(sink_count sink)"
check_eq "each with its SPF result" 60 \
	"$(grep -l 'spf=pass smtp.mailfrom=pass.test' $(sink_files sink) | xargs grep -l 'load@pass.test' | wc -l)"
delivered=$((before + 60))

# --dns replaces the configured servers (here: a port where nothing answers);
# --explain plays a message through the same chain offline.
nobody=$(free_port)
sed "s/127\.0\.0\.1:$dns_port/127.0.0.1:$nobody/" "$T/dflt.yaml" >"$T/nodns.yaml"
out=$("$POSTERN" -c "$T/nodns.yaml" --dns "127.0.0.1:$dns_port" --explain "$T/msg.txt" \
	--client-ip 192.0.2.9 --helo none.test --from a@pass.test --rcpt user@sink.test 2>&1)
check_contains "--dns and --explain: the MAIL FROM check" "$out" "spf=pass (smtp.mailfrom=pass.test)"
check_contains "--dns and --explain: the HELO check" "$out" "spf=none (smtp.helo=none.test)"
out=$("$POSTERN" -c "$T/nodns.yaml" --explain "$T/msg.txt" --client-ip 192.0.2.9 \
	--helo none.test --from a@pass.test --rcpt user@sink.test 2>&1)
check_contains "without --dns: the configured server, which does not answer" "$out" \
	"spf=temperror (smtp.mailfrom=pass.test)"
out=$("$POSTERN" -t -c "$T/nodns.yaml" --dns localhost:53 2>&1)
check_contains "--dns wants an address" "$out" '--dns: "localhost:53" is not IP:PORT'

check_match "the transaction log names the findings" "$(cat "$dflt_log")" \
	'policy=default action=reject findings=spf\.spf=fail'
check_no_match "no libspf2 internal error" "$(cat "$dflt_log" "$rspf_log")" 'libspf2_bug'
it_done
