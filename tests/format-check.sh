#!/bin/sh
# SPDX-License-Identifier: ISC
# make format-check: the mechanical part of style(9) that the whole tree
# keeps, checked on every C file: the SPDX line first, no line wider than
# 80 columns (tabs at 8), no trailing white space, indentation by tabs
# (a run of 8 spaces at the start of a line is a tab that was not typed).
# Prints file:line: reason for each fault; exits 1 if there was one.
set -u
cd "$(dirname "$0")/.." || exit 2
status=0
for f in src/*.c include/dazai/*.h tests/*.c tests/*.h tests/fuzz/*.c \
    tests/bench/*.c; do
	if ! head -n 1 "$f" | grep -q 'SPDX-License-Identifier: ISC'; then
		echo "$f:1: no SPDX-License-Identifier line first"
		status=1
	fi
	# The raw line for white space, the expanded one for its width.
	if ! paste -d '\n' "$f" "$f" | awk -v f="$f" '
	    NR % 2 == 1 { raw = $0; next }
	    {
		n = NR / 2
		if (raw ~ /[ \t]$/) {
			printf "%s:%d: trailing white space\n", f, n; bad = 1
		}
		if (raw ~ /^        /) {
			printf "%s:%d: indented with spaces\n", f, n; bad = 1
		}
	    }
	    END { exit bad }'; then
		status=1
	fi
	if ! expand -t 8 "$f" | awk -v f="$f" 'length($0) > 80 {
		printf "%s:%d: %d columns, the limit is 80\n", f, NR,
		    length($0); bad = 1 }
	    END { exit bad }'; then
		status=1
	fi
done
[ "$status" = 0 ] && echo "format-check: every C file keeps the layout"
exit "$status"
