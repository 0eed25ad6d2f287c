#!/usr/bin/env bash
# The README's first quick-start command: install what is missing, build, and
# show postern relaying real mail to a real backend on its embedded default
# configuration (only the listening address is moved off port 25, and DNS is
# asked of a local server).
#
# The backend is Postfix's smtp-sink on 127.0.0.1:10025, the embedded
# default's backend address; it writes every message it receives to a file.
# The embedded default checks SPF, DKIM and DMARC, so postern asks an unbound
# on 127.0.0.1:10053 (--dns) that serves the demo's domains: example.org lets
# 127.0.0.1 send its mail; example.net lets nobody send and asks receivers to
# reject what fails (DMARC p=reject). Nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

scripts/install-deps.sh
[ -x configure ] || autoreconf -fi
mkdir -p _build && (cd _build && { [ -f Makefile ] || "$top/configure" -q; } && make -j2 -s)

demo=$(mktemp -d /tmp/postern-demo.XXXXXX)
chmod 777 "$demo"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port() {
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

cat >"$demo/unbound.conf" <<CONF
server:
  interface: 127.0.0.1
  port: 10053
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$demo"
  pidfile: ""
  use-syslog: no
  logfile: ""
  local-zone: "." refuse
  local-zone: "example.org." static
  local-data: 'example.org. TXT "v=spf1 ip4:127.0.0.1 -all"'
  local-data: 'mail.example.org. TXT "v=spf1 ip4:127.0.0.1 -all"'
  local-data: '_dmarc.example.org. TXT "v=DMARC1; p=reject"'
  local-zone: "example.net." static
  local-data: 'example.net. TXT "v=spf1 -all"'
  local-data: '_dmarc.example.net. TXT "v=DMARC1; p=reject"'
CONF
unbound -d -c "$demo/unbound.conf" 2>"$demo/unbound.log" &
pids+=($!)
wait_port 10053
smtp-sink -u nobody -d "$demo/mail/%H%M%S." 127.0.0.1:10025 64 &
pids+=($!)
wait_port 10025
_build/proxy/postern --listen 127.0.0.1:2525 --dns 127.0.0.1:10053 2>"$demo/postern.log" &
pids+=($!)
wait_port 2525

echo "== three messages through postern (127.0.0.1:2525) to the backend (127.0.0.1:10025)"
for i in 1 2; do
	swaks --silent 2 --server 127.0.0.1:2525 --helo mail.example.org \
		--from "alice@example.org" --to "bob$i@example.com" \
		--header "Subject: postern demo $i" --body "Hello from the postern demo, message $i."
done
echo "-- the third claims to come from example.net, whose SPF lets nobody send:"
swaks --silent 1 --server 127.0.0.1:2525 --helo mail.example.org \
	--from "ceo@example.net" --to "bob3@example.com" \
	--header "From: ceo@example.net" --header "Subject: postern demo 3" \
	--body "Please wire the money today." | grep -E '^<~?\*\* ' || true
sleep 0.5
echo
echo "== what the backend received (the forged message is not there)"
ls "$demo"/mail/
echo
echo "== the first message, as the backend stored it"
cat "$(ls "$demo"/mail/* | head -n 1)"
echo
echo "== postern's log"
cat "$demo/postern.log"
