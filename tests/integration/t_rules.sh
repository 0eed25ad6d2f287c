#!/bin/bash
# Local rules (type: rules) and HELO checks (type: helo) through a real postern, swaks as the client and
# smtp-sink as the backend: each kind of match (client network, HELO,
# sender, recipient, a folded header field, the body), scores summed into
# the policy's thresholds, rules with an immediate action at MAIL and RCPT,
# and bad patterns failing `postern -t` at the pattern's line:column with
# PCRE2's message.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd swaks smtp-sink

start_sink sink
start_px px "$sink_port" '
filters:
  local:
    type: rules
    body_max: 64K
    rules:
      - { name: LOOPBACK, client: [ 192.0.2.0/24, 127.0.0.0/8 ], score: 0.5 }
      - { name: OTHER_NET, client: 198.51.100.0/24, score: 50 }
      - { name: HELO_BAD, helo: '"'"'^bad\.helo$'"'"', action: reject, reply: "550 5.7.1 go away, bad.helo" }
      - { name: SPAMMER, sender: "^spammer@", action: reject }
      - { name: TRAP, rcpt: "^trap@", action: reject, reply: "550 5.1.1 no such user" }
      - { name: PILLS, header: Subject, pattern: '"'"'(?i)cheap\s+pills'"'"', score: 6 }
      - { name: BUY, body: "(?m)^buy now$", score: 20 }
  helo: { type: helo, literal_mismatch: 2.5 }
policies:
  - name: helo
    match: { sender_domain: helo.test }
    chain: [ helo ]
    helo: { ours: reject }
  - name: default
    chain: [ local ]
    spam: { tag: 5, reject: 10 }'

send() { # SWAKS-ARGS... -> the replies
	swaks --server "127.0.0.1:$px_port" --from a@client.test --to b@sink.test "$@" 2>&1 |
		grep -E '^<'
}
last_message() {
	cat "$(ls -t "$sink_dir"/m.* | head -n 1)"
}

out=$(send --header "Subject: hello" --body "nothing to see")
check_match "client rule: delivered" "$out" '^<-  250 2\.0\.0 Ok'
msg=$(last_message)
check_match "client rule: its score in the status header" "$msg" \
	'^X-Spam-Status: No, score=0\.5 tag=5\.0 reject=10\.0 tests=local\.LOOPBACK\(0\.5\)'
check_not_contains "client rule: the other network did not match" "$msg" 'OTHER_NET'

out=$(send --helo bad.helo --body x)
check_match "helo rule, action reject: at MAIL, with its reply" "$out" \
	'^<\*\* 550 5\.7\.1 go away, bad\.helo'
check_not_contains "helo rule: no RCPT sent" "$out" '2.1.5'

out=$(swaks --server "127.0.0.1:$px_port" --from spammer@bad.test --to b@sink.test --body x 2>&1 |
	grep -E '^<')
check_match "sender rule, action reject: the policy's reply at MAIL" "$out" \
	'^<\*\* 550 5\.7\.1 Message rejected by policy'

n=$(sink_count sink)
out=$(swaks --server "127.0.0.1:$px_port" --from a@client.test --to trap@sink.test,b@sink.test \
	--body x 2>&1 | grep -E '^<')
check_match "rcpt rule: that recipient refused" "$out" '^<\*\* 550 5\.1\.1 no such user'
check_match "rcpt rule: the other one delivered" "$out" '^<-  250 2\.0\.0 Ok'
check_eq "rcpt rule: one message at the backend" $((n + 1)) "$(sink_count sink)"
check_match "rcpt rule: only the other recipient got it" "$(cat "$T/px.log")" \
	'rcpt=<b@sink\.test> nrcpt=1 .*status=250 .*findings=local\.rules=LOOPBACK\(0\.5\)$'

# A folded Subject: the pattern sees the value unfolded.
printf 'From: a@client.test\r\nTo: b@sink.test\r\nSubject: very\r\n cheap\r\n\tPILLS\r\n\r\nhi\r\n' >"$T/folded.eml"
out=$(send --data "$T/folded.eml")
check_match "header rule, folded field: tagged and delivered" "$out" '^<-  250 2\.0\.0 Ok'
msg=$(last_message)
check_match "header rule: X-Spam-Status Yes, both rules" "$msg" \
	'^X-Spam-Status: Yes, score=6\.5 .*tests=local\.LOOPBACK\(0\.5\),$'
check_match "header rule: X-Spam-Status folded before the next rule" "$msg" $'^\tlocal\\.PILLS\\(6\\.0\\)$'
check_match "header rule: X-Postern-Action tag" "$msg" '^X-Postern-Action: tag \(score=6\.5\)'

n=$(sink_count sink)
out=$(send --header "Subject: offer" --body "$(printf 'hello\nbuy now\nbye')")
check_match "body rule: score over reject, 550" "$out" '^<\*\* 550 5\.7\.1 Message rejected by policy'
check_eq "body rule: nothing at the backend" "$n" "$(sink_count sink)"
out=$(send --header "Subject: offer" --body "$(printf 'hello\nplease buy now or later\n')")
check_match "body rule: no match inside a line (multiline anchors)" "$out" '^<-  250 2\.0\.0 Ok'

# HELO checks: a name that is not one, a literal of another address, us.
helo_send() { # HELO [SWAKS-ARGS...] -> the transaction's log line
	swaks --server "127.0.0.1:$px_port" --from a@helo.test --to b@sink.test --helo "$@" \
		--body x >"$T/helo.out" 2>&1
	grep -E 'event=transaction .*from=<a@helo\.test>' "$T/px.log" | tail -n 1
}
check_match "helo: a domain name, nothing found" "$(helo_send mail.client.test)" \
	'policy=helo action=accept findings=-'
check_match "helo: the client's own literal, nothing found" "$(helo_send '[127.0.0.1]')" \
	'policy=helo action=accept findings=-'
check_match "helo: not a name" "$(helo_send 'bad_name!')" 'findings=helo\.helo=invalid\(1\.0\)'
check_match "helo: a label ending in a hyphen" "$(helo_send 'a-.test')" 'findings=helo\.helo=invalid'
check_match "helo: a literal of another address, its configured score" \
	"$(helo_send '[192.0.2.7]')" 'findings=helo\.helo=literal-mismatch\(2\.5\)'
check_match "helo: our hostname, the policy rejects" "$(helo_send postern.test)" \
	'status=550 .*action=reject findings=helo\.helo=ours\(3\.0\)'
check_match "helo: our hostname, 550 at MAIL" "$(cat "$T/helo.out")" '^<\*\* 550 5\.7\.1'
check_match "helo: our address, from another one" \
	"$(helo_send '[127.0.0.1]' --local-interface 127.0.0.2)" 'findings=helo\.helo=ours\(3\.0\)'

# Bad patterns: postern -t fails at the pattern, with PCRE2's message.
cat >"$T/bad.yaml" <<'YAML'
filters:
  local:
    type: rules
    rules:
      - { name: OK, helo: '^fine$', score: 1 }
      - { name: BAD, helo: 'a(b', score: 1 }
      - name: BAD2
        header: Subject
        pattern: x[z
        score: 1
      - { name: NOWHAT, score: 1 }
      - { name: NOSCORE, body: x }
YAML
out=$("$POSTERN" -t -c "$T/bad.yaml" 2>&1)
status=$?
check_eq "bad patterns: postern -t fails" 1 "$((status != 0))"
check_contains "bad pattern: line:column of the octet, PCRE2's message" "$out" \
	"bad.yaml:6:32: filters.local.rules[1].helo: bad pattern \"a(b\": missing closing parenthesis (at offset 3)"
check_contains "bad header pattern: its own line:column" "$out" \
	"bad.yaml:9:21: filters.local.rules[2].pattern: bad pattern \"x[z\": missing terminating ] for character class (at offset 3)"
check_contains "a rule without a match kind" "$out" \
	"bad.yaml:11:9: filters.local.rules[3]: a rule needs one of client, helo, sender, rcpt, header, body"
check_contains "a rule without score or action" "$out" \
	"bad.yaml:12:9: filters.local.rules[4]: a rule needs a score or an action"
cat >"$T/typo.yaml" <<'YAML'
filters:
  local:
    type: rules
    rulez: []
YAML
out=$("$POSTERN" -t -c "$T/typo.yaml" 2>&1)
check_contains "unknown key in a rules filter" "$out" \
	'typo.yaml:4:5: unknown key "rulez" in filters.local (did you mean "rules"?)'

it_done
