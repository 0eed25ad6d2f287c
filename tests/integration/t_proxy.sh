#!/bin/bash
# The PROXY protocol: HAProxy on loopback sends v1 (send-proxy) and v2
# (send-proxy-v2) headers; the backend's XCLIENT, postern's log and the
# per-client count show the original client, not HAProxy. A header from an
# address outside proxy_from, and a malformed one, close the connection.
. "$(dirname "$0")/lib.sh"
it_init
need_cmd haproxy

start_rawsink raw --caps "PIPELINING,SIZE 52428800,8BITMIME,XCLIENT NAME ADDR PORT PROTO HELO"
px_port=$(free_port)
hp_v1=$(free_port)
hp_v2=$(free_port)
hp_tls=$(free_port)
px_tls=$(free_port)
make_certs "$T/pki" || { fail "make certificates"; it_done; }
cat >"$T/px.yaml" <<EOF
hostname: postern.test
listen:
  - address: 127.0.0.1:$px_port
    proxy_protocol: true
    proxy_from: [ 127.0.0.2/32 ]
  - address: 127.0.0.1:$px_tls
    proxy_protocol: true
    proxy_from: [ 127.0.0.2 ]
    tls: { cert: $T/pki/server.pem, key: $T/pki/server.key, implicit: true }
backend:
  address: 127.0.0.1:$raw_port
limits:
  max_sessions_per_client: 2
EOF
start_postern px "$px_port" "$T/px.yaml"
# HAProxy connects to postern from 127.0.0.2, the only trusted balancer.
cat >"$T/haproxy.cfg" <<EOF
global
  maxconn 50
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend v1
  bind 127.0.0.1:$hp_v1
  default_backend px_v1
frontend v2
  bind 127.0.0.1:$hp_v2
  default_backend px_v2
frontend tls
  bind 127.0.0.1:$hp_tls
  default_backend px_tls
backend px_v1
  server px 127.0.0.1:$px_port source 127.0.0.2 send-proxy
backend px_v2
  server px 127.0.0.1:$px_port source 127.0.0.2 send-proxy-v2
backend px_tls
  server px 127.0.0.1:$px_tls source 127.0.0.2 send-proxy-v2
EOF
haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 &
it_track $!
IT_LOGS+=("$T/haproxy.log")
wait_port "$hp_v2" $! || { fail "start haproxy" "$(cat "$T/haproxy.log")"; it_done; }

# The client is 127.0.0.5: that is the address the backend must hear of.
send_one() {
	SMTP_BIND=127.0.0.5 smtp "$1" R S:'EHLO client.test\r\n' R \
		S:'MAIL FROM:<a@example.org>\r\n' R S:'RCPT TO:<b@example.com>\r\n' R \
		S:'DATA\r\n' R S:'Subject: x\r\n\r\nhello\r\n.\r\n' R S:'QUIT\r\n' R
}
for v in 1 2; do
	port_var=hp_v$v
	out=$(send_one "${!port_var}")
	check_contains "PROXY v$v: message accepted" "$out" "250 2.0.0 Ok"
	check_match "PROXY v$v: postern logs the real client" "$(cat "$px_log")" \
		"event=proxy session=[0-9a-f]+ peer=127\.0\.0\.2:[0-9]+ client=127\.0\.0\.5:[0-9]+ version=$v"
done
xclients=$(grep XCLIENT "$raw_dir/commands.log")
check_eq "the backend heard XCLIENT twice" 2 "$(grep -c 'ADDR=127.0.0.5 PORT=' <<<"$xclients")"
check_not_contains "never XCLIENT with HAProxy's address" "$xclients" "ADDR=127.0.0.2"
check_match "transaction log: the real client" "$(cat "$px_log")" \
	'event=transaction session=[0-9a-f]+ client=127\.0\.0\.5:'

# PROXY v2, then implicit TLS: the handshake follows the header.
out=$(SMTP_BIND=127.0.0.5 smtp "$hp_tls" T:"$T/pki/ca.pem" R S:'EHLO client.test\r\n' R \
	S:'QUIT\r\n' R)
check_contains "PROXY v2 then TLS: TLS after the header" "$out" "<TLS TLSv1.3>"
check_contains "PROXY v2 then TLS: greeting over TLS" "$out" "220 postern.test ESMTP postern"

# max_sessions_per_client counts the real client (2), not HAProxy.
seen() { grep -c 'event=proxy .*client=127\.0\.0\.5:' "$px_log"; }
before=$(seen)
SMTP_BIND=127.0.0.5 smtp "$hp_v2" R Z:8 >/dev/null &
a=$!
SMTP_BIND=127.0.0.5 smtp "$hp_v2" R Z:8 >/dev/null &
b=$!
check_true "two sessions of 127.0.0.5 behind HAProxy" wait_until 10 eval '[ "$(seen)" -ge $((before + 2)) ]'
out=$(SMTP_BIND=127.0.0.5 smtp "$hp_v2" R)
check_contains "third session of one client behind HAProxy: 421" "$out" "421 4.7.0"
out=$(SMTP_BIND=127.0.0.6 smtp "$hp_v2" R S:'QUIT\r\n' R)
check_contains "another client behind the same HAProxy: served" "$out" "220 postern.test"
wait $a $b

# A header straight from 127.0.0.1 (not in proxy_from): closed, logged, nothing relayed.
before=$(wc -l <"$raw_dir/commands.log")
out=$(smtp "$px_port" S:'PROXY TCP4 192.0.2.66 127.0.0.1 4444 25\r\n' R S:'EHLO x\r\n' E)
check_not_contains "untrusted PROXY header: no greeting" "$out" "220"
check_contains "untrusted PROXY header: connection closed" "$out" "<EOF>"
check_match "untrusted PROXY header: logged" "$(cat "$px_log")" \
	'event=proxy_refused listen=127\.0\.0\.1:[0-9]+ peer=127\.0\.0\.1 reason="not in proxy_from"'
check_not_contains "the forged address goes nowhere" "$(cat "$px_log" "$raw_dir/commands.log")" \
	"192.0.2.66"
# From the trusted address, but not a PROXY header (a client that skipped HAProxy).
out=$(SMTP_BIND=127.0.0.2 smtp "$px_port" S:'EHLO client.test\r\n' E)
check_not_contains "malformed PROXY header: no greeting" "$out" "220"
check_contains "malformed PROXY header: connection closed" "$out" "<EOF>"
check_match "malformed PROXY header: logged" "$(cat "$px_log")" \
	'event=proxy_refused session=[0-9a-f]+ peer=127\.0\.0\.2:[0-9]+ reason="not a PROXY header"'
out=$(SMTP_BIND=127.0.0.2 smtp "$px_port" S:'PROXY TCP4 192.0.2.1 127.0.0.1 99999 25\r\n' E)
check_contains "PROXY header with a bad port: closed" "$out" "<EOF>"
check_eq "nothing reached the backend from the refused ones" "$before" \
	"$(wc -l <"$raw_dir/commands.log")"

it_done
