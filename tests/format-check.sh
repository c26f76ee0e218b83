#!/bin/sh
# SPDX-License-Identifier: ISC
# make format-check: the mechanical part of style(9) that the whole tree
# keeps, checked on every C file: the SPDX line first, no line wider than
# 80 columns (tabs at 8), no trailing white space, indentation by tabs
# (a run of 8 spaces at the start of a line is a tab that was not typed);
# then that clang-format 14 with .clang-format would change nothing.
# Prints file:line: reason for each fault; exits 1 if there was one.
#
# make format: tests/format-check.sh --format rewrites the same files
# with clang-format 14 (and refuses another version).
set -u
cd "$(dirname "$0")/.." || exit 2

# Every C file the project owns (not the npm tree under tests/mcp).
files=$(ls src/*.c include/dazai/*.h tests/*.c tests/*.h tests/fuzz/*.c \
    tests/bench/*.c tests/bench/*.h)
# The major version .clang-format is written for: another one lays the
# same options out differently.
want=14

# The major version of the clang-format on PATH, or nothing.
clang_format_major()
{
	command -v clang-format >/dev/null 2>&1 || return 0
	clang-format --version |
	    sed -n 's/.*clang-format version \([0-9][0-9]*\)\..*/\1/p'
}
major=$(clang_format_major)

if [ "${1:-}" = --format ]; then
	if [ -z "$major" ]; then
		echo "format: no clang-format on PATH (make test-deps" \
		    "installs it)" >&2
		exit 1
	elif [ "$major" != "$want" ]; then
		echo "format: clang-format $major is not $want, whose layout" \
		    ".clang-format describes: nothing rewritten" >&2
		exit 1
	fi
	# shellcheck disable=SC2086 # one word per file
	exec clang-format -i --style=file $files
fi

status=0
for f in $files; do
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

# clang-format's verdict, only from the version the file is written for.
if [ -z "$major" ]; then
	echo "format-check: no clang-format on PATH: the clang-format" \
	    "check is skipped (make test-deps installs it)"
elif [ "$major" != "$want" ]; then
	echo "format-check: clang-format $major is not $want, whose layout" \
	    ".clang-format describes: the clang-format check is skipped"
else
	bad=0
	for f in $files; do
		if ! out=$(clang-format --dry-run --Werror --style=file "$f" \
		    2>&1); then
			# Its first complaint: file:line:col and the line.
			printf '%s\n' "$out" | head -n 2
			echo "$f: clang-format would change it (make format)"
			bad=1
		fi
	done
	if [ "$bad" = 0 ]; then
		echo "format-check: clang-format $want would change nothing"
	else
		status=1
	fi
fi
exit "$status"
