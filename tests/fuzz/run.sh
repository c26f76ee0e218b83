#!/bin/sh
# SPDX-License-Identifier: ISC
# Run one libFuzzer harness for a bounded time on a scratch copy of its
# seed corpus, so that new corpus entries never land in the repository.
# Fails on any crash, leak, timeout or sanitizer report, and says how many
# inputs were executed.
#
# usage: run.sh BINARY SEED_DIR WORK_DIR SECONDS [DICT]
set -eu

bin=$1 seeds=$2 work=$3 secs=$4 dict=${5:-}
name=$(basename "$bin")

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"

set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus"
[ -n "$dict" ] && set -- -dict="$dict" "$@"

# detect_leaks is on by default with ASan; say so anyway. halt_on_error
# and the -fno-sanitize-recover build make any report fatal.
status=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
    "$bin" "$@" >"$work/log" 2>&1 || status=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" |
    tail -n 1)
cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -n 1)
corpus=$(ls "$work/corpus" | wc -l)
if [ "$status" -ne 0 ] ||
    grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' \
        -e 'runtime error:' -e 'check failed:' "$work/log" ||
    [ -n "$(ls "$work/artifacts")" ]; then
	tail -n 60 "$work/log" >&2
	echo "$name: FAILED (exit $status) after ${execs:-?} executions;" \
	    "reproducers in $work/artifacts" >&2
	exit 1
fi
echo "$name: ${execs:-?} executions in ${secs}s, ${cov:-cov: ?}," \
    "corpus $corpus inputs, no crash, leak or sanitizer report"
