#!/bin/bash
# postern calling a real OpenDKIM milter (Debian's opendkim, its own process
# with `opendkim -f -x CONF` on a free loopback port) in signing mode, with a
# key made by opendkim-genkey: the message smtp-sink received carries a
# DKIM-Signature that dkimpy (python3-dkim) verifies against that key, given
# by a dnsfunc (no DNS); a message changed after signing does not verify.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd smtp-sink swaks opendkim opendkim-genkey
"$PYTHON" -c 'import dkim' 2>/dev/null || skip "python3-dkim is not installed"

start_sink sink
opendkim-genkey -D "$T" -d example.test -s sel -b 2048 >"$T/genkey.log" 2>&1 ||
	{ fail "opendkim-genkey" "$(cat "$T/genkey.log")"; it_done; }
dkim_port=$(free_port)
cat >"$T/opendkim.conf" <<EOF2
Mode			s
Domain			example.test
Selector		sel
KeyFile			$T/sel.private
Socket			inet:$dkim_port@127.0.0.1
InternalHosts		127.0.0.1
Canonicalization	relaxed/simple
RequireSafeKeys		false
Syslog			no
LogWhy			yes
PidFile			$T/opendkim.pid
EOF2
opendkim -f -x "$T/opendkim.conf" >"$T/opendkim.log" 2>&1 &
dkim_pid=$!
it_track "$dkim_pid"
IT_LOGS+=("$T/opendkim.log")
wait_port "$dkim_port" "$dkim_pid" || { fail "start opendkim" "$(cat "$T/opendkim.log")"; it_done; }

start_px px "$sink_port" "filters:
  opendkim: { type: milter, socket: \"inet:127.0.0.1:$dkim_port\", on_error: tempfail }
policies:
  - name: default
    chain: [ opendkim ]"

out=$(swaks --server "127.0.0.1:$px_port" --from alice@example.test --to bob@sink.test \
	--header "Subject: signed by opendkim" --body "A message to sign." 2>&1 | grep -E '^<')
check_match "delivered through opendkim" "$out" '^<.* 250 2\.0\.0 Ok'
f=$(ls -t "$sink_dir"/m.* 2>/dev/null | head -n 1)
sink_body "$f" >"$T/msg.eml"
check_contains "the backend got a DKIM-Signature" "$(cat "$T/msg.eml")" "DKIM-Signature:"
check_match "signed for example.test, selector sel" "$(tr -d '\r\n\t ' <"$T/msg.eml")" 'd=example\.test;s=sel;'

# dkimpy, with the key from sel.txt as the only DNS answer.
verify() {
	"$PYTHON" - "$T/sel.txt" "$1" <<'PY'
import re, sys, dkim
txt = open(sys.argv[1]).read()
record = "".join(re.findall(r'"([^"]*)"', txt)).encode()
def dnsfunc(name, timeout=5):
    return record if name.startswith(b"sel._domainkey.example.test") else None
msg = open(sys.argv[2], "rb").read()
print("pass" if dkim.verify(msg, dnsfunc=dnsfunc) else "fail")
PY
}
check_eq "dkimpy verifies the signature" pass "$(verify "$T/msg.eml")"
sed 's/A message to sign\./A message changed./' "$T/msg.eml" >"$T/changed.eml"
check_eq "dkimpy: a changed body fails" fail "$(verify "$T/changed.eml")"
it_done
