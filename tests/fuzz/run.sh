#!/usr/bin/env bash
# Run every fuzz target briefly over its seed corpus: a smoke test for CI.
# Usage: tests/fuzz/run.sh DIR-WITH-BUILT-TARGETS [SECONDS-EACH]
set -euo pipefail
dir=$1
secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
status=0
for target in smtp_cmd data_reader json spamd_reply; do
	work=$(mktemp -d)
	cp "$here/corpus/$target"/* "$work"/
	echo "fuzz_$target: up to ${secs}s"
	if ! "$dir/fuzz_$target" -max_total_time="$secs" -runs=2000000 -max_len=4096 \
		-artifact_prefix="$work/" "$work" >"$work/log" 2>&1; then
		echo "fuzz_$target FAILED; crashing input kept in $work:"
		tail -n 40 "$work/log"
		status=1
	else
		grep -E '^Done|#[0-9]+.*DONE' "$work/log" | tail -n 1 || true
		rm -rf "$work"
	fi
done
exit $status
