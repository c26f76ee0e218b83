# SPDX-License-Identifier: ISC
# shellcheck shell=bash
#
# dazai shell integration for bash and zsh: tie dazaid's secret to this
# interactive shell. Source it from ~/.bashrc or ~/.zshrc:
#
#	. /usr/local/share/dazai/shellrc.sh
#
# In an interactive shell it starts one dazai-heartbeat that watches this
# shell's pid. When the shell exits (an EXIT trap chained onto any trap
# already set in bash, the zshexit hook in zsh), the heartbeat is ended
# without QUIT and the daemon panics. If the shell dies any other way, even
# by SIGKILL, the client sees its pid go and ends the same way.
#
# When the guard cannot be set up, it says so on stderr,
#	dazai: session UNGUARDED (reason)
# and the shell carries on. A shell started inside a guarded one finds the
# guard taken (BUSY), says so in one line and leaves it alone.
#
# Read when sourced (environment or shell variables):
#	DAZAI_SOCKET		the daemon's socket (default: the client's)
#	DAZAI_HEARTBEAT		the client to run (default: dazai-heartbeat
#				in PATH, else /usr/local/bin/dazai-heartbeat)
# Set when the guard is held:
#	DAZAI_HEARTBEAT_PID	the client's pid; `kill -USR1` it to stand
#				down without a panic
#	DAZAI_GUARD_PID		(exported) the pid of the guarded shell
#
# Sourcing it never exits the shell, is safe under set -e and set -u,
# starts nothing a second time, and returns 0. Non-interactive shells
# (scripts, bash -c) return at once and define nothing.

case $- in
*i*) ;;
*) return 0 ;;
esac

if [ -z "${BASH_VERSION-}${ZSH_VERSION-}" ]; then
	echo 'dazai: session UNGUARDED (shellrc.sh needs bash or zsh)' >&2
	return 0
fi

# The functions below mean the builtins, not the user's aliases: no alias
# expansion while they are read (put back at the end of the file). The
# backslash keeps an alias named shopt or setopt out of this too.
_dazai_aliases=
if [ -n "${BASH_VERSION-}" ] && \shopt -q expand_aliases; then
	_dazai_aliases=bash
	\shopt -u expand_aliases
elif [ -n "${ZSH_VERSION-}" ] && [[ -o aliases ]]; then
	_dazai_aliases=zsh
	\setopt no_aliases
fi

# Print "dazai: message" on stderr.
_dazai_say() {
	printf 'dazai: %s\n' "$1" >&2
}

# Find the client: $DAZAI_HEARTBEAT, then PATH, then the install location.
# Sets _dazai_client, or _dazai_why and returns 1.
_dazai_find_client() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	local c=''

	_dazai_client=
	_dazai_why=
	if [ -n "${DAZAI_HEARTBEAT-}" ]; then
		if [ -f "$DAZAI_HEARTBEAT" ] && [ -x "$DAZAI_HEARTBEAT" ]; then
			_dazai_client=$DAZAI_HEARTBEAT
			return 0
		fi
		_dazai_why="DAZAI_HEARTBEAT=$DAZAI_HEARTBEAT is not executable"
		return 1
	fi
	c=$(command -v dazai-heartbeat 2>/dev/null) || c=
	case $c in
	/*)
		if [ -f "$c" ] && [ -x "$c" ]; then
			_dazai_client=$c
			return 0
		fi
		;;
	esac
	c=/usr/local/bin/dazai-heartbeat
	if [ -f "$c" ] && [ -x "$c" ]; then
		_dazai_client=$c
		return 0
	fi
	_dazai_why="dazai-heartbeat not found; set DAZAI_HEARTBEAT or PATH"
	return 1
}

# Run by the exiting shell: end the heartbeat without QUIT (SIGTERM), so
# the daemon sees it lost and panics. Never fails, never exits.
_dazai_on_exit() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	if [ "${_dazai_shell-}" = "$$" ] &&
	    [ -n "${DAZAI_HEARTBEAT_PID-}" ]; then
		kill -TERM "$DAZAI_HEARTBEAT_PID" 2>/dev/null || :
	fi
	return 0
}

# Arrange for _dazai_on_exit to run when this shell exits, once, keeping
# whatever exit handler is already there.
_dazai_hook() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	local prev='' nl='
'

	if [ -n "${ZSH_VERSION-}" ]; then
		# zshexit_functions is additive: other hooks stay.
		if autoload -Uz add-zsh-hook 2>/dev/null &&
		    add-zsh-hook zshexit _dazai_on_exit 2>/dev/null; then
			return 0
		fi
		# shellcheck disable=SC2034 # zshexit_functions is zsh's
		case " ${zshexit_functions[*]-} " in
		*" _dazai_on_exit "*) ;;
		*) zshexit_functions+=(_dazai_on_exit) ;;
		esac
		return 0
	fi
	# bash: one EXIT trap per shell, so run ours, then the one already
	# set. `trap -p EXIT` prints it quoted for reuse: trap -- '...' EXIT.
	prev=$(trap -p EXIT)
	case $prev in
	*_dazai_on_exit*)
		return 0
		;;
	'')
		trap -- _dazai_on_exit EXIT
		return 0
		;;
	"trap -- "*" EXIT")
		prev=${prev#"trap -- "}
		prev=${prev%" EXIT"}
		eval "trap -- '_dazai_on_exit${nl}'$prev EXIT"
		return 0
		;;
	esac
	# A form we cannot parse: leave it alone. The client still watches
	# this shell's pid and ends with it.
	return 0
}

# Start the guard for this shell, or say why not.
_dazai_main() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	local client='' pid='' line='' last='' fd='' script='' n=0
	local holder=${DAZAI_GUARD_PID-}
	local -a args

	# Sourced again in the shell that holds the guard: start nothing,
	# only put the exit hook back should it have been removed.
	if [ "${_dazai_shell-}" = "$$" ] && [ -n "${DAZAI_HEARTBEAT_PID-}" ] &&
	    kill -0 "$DAZAI_HEARTBEAT_PID" 2>/dev/null; then
		_dazai_hook
		return 0
	fi
	if ! _dazai_find_client; then
		_dazai_say "session UNGUARDED (${_dazai_why-})"
		return 0
	fi
	client=$_dazai_client
	args=(--watch-pid "$$")
	if [ -n "${DAZAI_SOCKET-}" ]; then
		args+=(--socket "$DAZAI_SOCKET")
	fi

	# The client runs in the background, in a session of its own when
	# setsid(1) is there: the terminal's ^C, ^\ and ^Z at the prompt
	# must not reach it (it takes SIGINT as "lost", and in bash it
	# would otherwise share the shell's foreground process group).
	# Through a pipe the inner sh first gives its pid, which becomes
	# the client's, then the client's stderr: "guarding: ..." once the
	# daemon said WELCOME, or why it gave up. No job table entry, no
	# job notices, nothing for the shell to wait for.
	# shellcheck disable=SC2016 # $$ is the inner sh's pid
	script='trap "" INT QUIT TSTP TTIN TTOU
	    echo "$$"
	    exec "$@" >/dev/null </dev/null'
	if command -v setsid >/dev/null 2>&1; then
		exec {fd}< <(exec setsid /bin/sh -c "$script" \
		    dazai-heartbeat "$client" "${args[@]}" 2>&1) || fd=''
	else
		if [ -n "${BASH_VERSION-}" ]; then
			line="setsid not found: ^C at the prompt ends the guard"
			_dazai_say "$line"
		fi
		exec {fd}< <(exec /bin/sh -c "$script" \
		    dazai-heartbeat "$client" "${args[@]}" 2>&1) || fd=''
	fi
	if [ -z "$fd" ]; then
		_dazai_say "session UNGUARDED (cannot start $client)"
		return 0
	fi
	IFS= read -r -t 3 -u "$fd" pid || pid=
	case $pid in
	'' | *[!0-9]*)
		exec {fd}<&-
		_dazai_say "session UNGUARDED (cannot start $client)"
		return 0
		;;
	esac
	while [ "$n" -lt 8 ] && IFS= read -r -t 3 -u "$fd" line; do
		case $line in
		*"guarding:"*)
			exec {fd}<&-
			DAZAI_HEARTBEAT_PID=$pid
			_dazai_shell=$$
			DAZAI_GUARD_PID=$$
			export DAZAI_GUARD_PID
			_dazai_hook
			return 0
			;;
		esac
		[ -z "$line" ] || last=${line#dazai-heartbeat: }
		n=$((n + 1))
	done
	exec {fd}<&-

	case $last in
	*BUSY*)
		if [ "$holder" = "$$" ]; then
			line="the guard is already held for this shell (pid $$)"
		elif [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; then
			line="another shell (pid $holder) holds the guard"
			line="$line; not guarding this one"
		else
			line="another process holds the guard"
			line="$line; not guarding this shell"
		fi
		_dazai_say "$line"
		return 0
		;;
	'')
		# No word from it: hung on a daemon that does not answer,
		# or gone. SIGUSR1 stands it down without a panic, even if
		# the WELCOME is only now arriving.
		if kill -0 "$pid" 2>/dev/null; then
			kill -USR1 "$pid" 2>/dev/null || :
			last="no answer from the daemon within 3s"
		else
			last="dazai-heartbeat exited at start-up"
		fi
		;;
	esac
	_dazai_say "session UNGUARDED ($last)"
	return 0
}

_dazai_main || :
case $_dazai_aliases in
bash) \shopt -s expand_aliases ;;
zsh) \setopt aliases ;;
esac
unset _dazai_client _dazai_why _dazai_aliases
return 0
