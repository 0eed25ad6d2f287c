#!/bin/bash
# postern -t: exit 0 for a good configuration (every documented key), exit 1
# with "file:line:column: message" for each problem in a bad one.
. "$(dirname "$0")/lib.sh"
it_init

port=$(free_port)
make_certs "$T/pki" || fail "make certificates"
cat >"$T/good.yaml" <<EOF
# every key of postern.yaml(5) that the relay knows
hostname: mx.example.test
listen:
  - address: 127.0.0.1:$port
    tls: { cert: $T/pki/server.pem, key: $T/pki/server.key, chain: $T/pki/ca.pem }
  - address: "[::1]:$port"
    tls: { cert: $T/pki/server.pem, key: $T/pki/server.key, implicit: true }
    proxy_protocol: true
    proxy_from: [ 127.0.0.1/32, "::1" ]
    auth: false
backend:
  address: 127.0.0.1:10025
  xclient: xforward
  tls: required
  ca_file: $T/pki/ca.pem
  verify_name: backend.test
limits:
  max_sessions: 100
  max_sessions_per_client: 10
  max_recipients: 50
  max_message_size: 10M
  max_command_line: 512
  max_text_line: 0
  spool_memory: 256K
  max_errors: 5
timeouts:
  client: 300s
  backend_connect: 500ms
  backend_reply: 5m
  backend_data: 1h
  shutdown: 2
spool_dir: $T
smtp:
  bare_newline: normalize
  auth_over_plaintext: true
log:
  level: debug
EOF
out=$(timeout 10 "$POSTERN" -t -c "$T/good.yaml" 2>&1)
check_eq "good config: exit status 0" 0 $?
check_no_match "good config: no error printed" "$out" ':[0-9]+:[0-9]+: '
check_true "-t does not start listening" eval "! port_listening $port"

# One error per line; line and column (1-based) point at the offending node.
cat >"$T/bad.yaml" <<'EOF'
hostname: postern.test
listen:
  - address: 127.0.0.1:2525
limits:
  max_sesions: 10
  max_command_line: 100
timeouts:
  client: 5 parsecs
smtp:
  bare_newline: sometimes
EOF
out=$(timeout 10 "$POSTERN" -t -c "$T/bad.yaml" 2>&1)
check_eq "bad config: exit status 1" 1 $?
check_match "unknown key: file:line:column of the key" "$out" "^$T/bad\.yaml:5:3: "
check_match "number out of range: position of the value" "$out" "^$T/bad\.yaml:6:21: "
check_match "bad duration: position of the value" "$out" "^$T/bad\.yaml:8:11: "
check_match "bad enum value: position of the value" "$out" "^$T/bad\.yaml:10:17: "
check_eq "bad config: exactly the four problems reported" 4 \
	"$(grep -c "^$T/bad\.yaml:[0-9]*:[0-9]*: " <<<"$out")"

printf 'listen:\n  - address: not-an-address\nbackend:\n  address: 127.0.0.1:99999\n' >"$T/addr.yaml"
out=$(timeout 10 "$POSTERN" -t -c "$T/addr.yaml" 2>&1)
check_eq "bad addresses: exit status 1" 1 $?
check_match "bad listen address" "$out" "^$T/addr\.yaml:2:14: "
check_match "bad backend port" "$out" "^$T/addr\.yaml:4:12: "

printf 'hostname: postern.test\nlimits: 5\n' >"$T/type.yaml"
out=$(timeout 10 "$POSTERN" -t -c "$T/type.yaml" 2>&1)
check_eq "wrong type: exit status 1" 1 $?
check_match "a scalar where a mapping belongs" "$out" "^$T/type\.yaml:2:9: "

printf 'listen:\n  - address: 127.0.0.1:2525\nbackend: {address: 127.0.0.1:25\n' >"$T/syntax.yaml"
out=$(timeout 10 "$POSTERN" -t -c "$T/syntax.yaml" 2>&1)
check_eq "YAML syntax error: exit status 1" 1 $?
check_match "YAML syntax error: file:line:column" "$out" "^$T/syntax\.yaml:[0-9]+:[0-9]+: "

out=$(timeout 10 "$POSTERN" -t -c "$T/missing.yaml" 2>&1)
check_eq "missing file: exit status 1" 1 $?
check_contains "missing file: named in the message" "$out" "$T/missing.yaml"

it_done
