#!/bin/sh
# SPDX-License-Identifier: ISC
# make demo: rehearse the whole dead-man's-switch path in dry-run.
set -eu
B=${1:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
dir=$(mktemp -d /tmp/dazai-demo.XXXXXX)
daemon=""
client=""
cleanup() {
	if [ -n "$client" ]; then kill "$client" 2>/dev/null || :; fi
	if [ -n "$daemon" ]; then kill "$daemon" 2>/dev/null || :; fi
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
sock=$dir/dazai.sock
step() { printf '\n==> %s\n' "$*"; }

step "1. Start dazaid in dry-run (the default) on $sock, guarding a random 32-byte rehearsal secret"
mkfifo "$dir/ready"
"$B/dazaid" --socket "$sock" --verbose --ready-fd 3 3>"$dir/ready" \
    2>"$dir/dazaid.log" &
daemon=$!
read -r _ <"$dir/ready"
sed 's/^/    | /' "$dir/dazaid.log"

step "2. Start dazai-heartbeat: it says HELLO and PINGs every second, watching this script's pid"
"$B/dazai-heartbeat" --socket "$sock" --interval 1 --watch-pid $$ \
    2>"$dir/heartbeat.log" &
client=$!
i=0
until grep -q "heartbeat connected" "$dir/dazaid.log"; do
	i=$((i + 1)); [ $i -lt 500 ] || { echo "no heartbeat"; exit 1; }
	sleep 0.01
done
sleep 2
sed 's/^/    | /' "$dir/heartbeat.log"
echo "    The daemon now holds the secret in locked, undumpable memory."

step "3. Drop the heartbeat (as if the terminal closed): SIGTERM the client"
kill "$client"
wait "$client" || true
client=""

step "4. The daemon sees the heartbeat lost, wipes the secret, and (dry-run) logs WOULD SIGKILL"
status=0
wait "$daemon" || status=$?
daemon=""
sed 's/^/    | /' "$dir/dazaid.log"
echo "    dazaid exit status: $status (0 = completed dry-run panic)"
if [ "$status" -ne 0 ] || ! grep -q "WOULD SIGKILL" "$dir/dazaid.log"; then
	echo "demo FAILED"
	exit 1
fi

step "Done. Armed (--arm), step 4 ends in SIGKILL instead; --grace SEC adds a cancellable window."
