#!/usr/bin/env bash
# Run every fuzz target for a bounded time over its seed corpus: a smoke test
# for CI. Builds nothing.
#
# Usage: tests/fuzz/run.sh DIR [SECONDS] [RUNS]
#   DIR      where the built fuzz_* binaries are (e.g. _build-fuzz/tests/fuzz)
#   SECONDS  at most this long per target (default 30)
#   RUNS     at most this many inputs per target (default 200000)
# Exits non-zero when a target is missing or finds a crash, a leak, undefined
# behaviour or a slow input; the input that did it is kept and its path printed.
# The corpus in the tree is only read: new inputs go to a temporary directory.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 DIR-WITH-FUZZ-BINARIES [SECONDS] [RUNS]" >&2
	exit 2
fi
dir=$(cd "$1" && pwd)
secs=${2:-30}
runs=${3:-200000}
here=$(cd "$(dirname "$0")" && pwd)

# Undefined behaviour is an error here, not a warning.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1}

status=0
# Every target has its seed corpus in corpus/NAME: that list is the list of targets.
for seeds in "$here"/corpus/*/; do
	target=$(basename "$seeds")
	bin=$dir/fuzz_$target
	if [ ! -x "$bin" ]; then
		echo "fuzz_$target: not built in $dir" >&2
		status=1
		continue
	fi
	work=$(mktemp -d "${TMPDIR:-/tmp}/postern-fuzz-$target.XXXXXX")
	mkdir "$work/corpus"
	echo "fuzz_$target: up to ${secs}s or $runs runs"
	if "$bin" -max_total_time="$secs" -runs="$runs" -max_len=4096 -timeout=10 \
		-artifact_prefix="$work/" "$work/corpus" "$seeds" >"$work/log" 2>&1; then
		grep -E '^#[0-9]+.*DONE' "$work/log" | tail -n 1 || true
		rm -rf "$work"
	else
		echo "fuzz_$target FAILED; the input and the log are kept in $work:"
		ls "$work" | grep -v -e '^corpus$' -e '^log$' || true
		tail -n 40 "$work/log"
		status=1
	fi
done
exit $status
