#!/usr/bin/env bash
# The README's first quick-start command: install what is missing, build, and
# show postern relaying real mail to a real backend on its embedded default
# configuration (only the listening address is moved off port 25).
#
# The backend is Postfix's smtp-sink on 127.0.0.1:10025, the embedded
# default's backend address; it writes every message it receives to a file.
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

smtp-sink -u nobody -d "$demo/mail/%H%M%S." 127.0.0.1:10025 64 &
pids+=($!)
wait_port 10025
_build/proxy/postern --listen 127.0.0.1:2525 2> "$demo/postern.log" &
pids+=($!)
wait_port 2525

echo "== three messages through postern (127.0.0.1:2525) to the backend (127.0.0.1:10025)"
for i in 1 2 3; do
	swaks --silent 2 --server 127.0.0.1:2525 --from "alice@example.org" \
		--to "bob$i@example.com" --header "Subject: postern demo $i" \
		--body "Hello from the postern demo, message $i."
done
sleep 0.5
echo
echo "== what the backend received"
ls "$demo"/mail/
echo
echo "== the first message, as the backend stored it"
cat "$(ls "$demo"/mail/* | head -n 1)"
echo
echo "== postern's log"
cat "$demo/postern.log"
