# SPDX-License-Identifier: ISC
# shellcheck shell=bash
#
# dazai shell integration for bash and zsh: tie dazaid's secret to this
# interactive shell. Source it from ~/.bashrc or ~/.zshrc, after any
# EXIT trap or PROMPT_COMMAND of your own:
#
#	. /usr/local/share/dazai/shellrc.sh
#
# In an interactive shell it starts one dazai-heartbeat that watches this
# shell's pid. When the shell exits (an EXIT trap chained onto any trap
# already set in bash, the zshexit hook in zsh), the heartbeat is ended
# without QUIT and the daemon panics. If the shell dies any other way, even
# by SIGKILL, the client sees its pid go and ends the same way.
#
# The client is started from a subshell and is not this shell's child:
# `jobs`, `wait`, `$!` and job control are exactly as without it.
#
# When the guard cannot be set up, it says so on stderr,
#	dazai: session UNGUARDED (reason)
# and the shell carries on. When the guard ends later (the daemon went
# away, the client was stood down or killed), the same notice appears at
# the next prompt (PROMPT_COMMAND in bash, precmd in zsh). A shell started
# inside a guarded one finds the guard taken (BUSY), says so in one line
# and leaves it alone.
#
# Read when sourced (environment or shell variables):
#	DAZAI_SOCKET		the daemon's socket (default: the client's)
#	DAZAI_HEARTBEAT		the client to run (default: dazai-heartbeat
#				in PATH, else /usr/local/bin/dazai-heartbeat)
#	DAZAI_INTERVAL		seconds between PINGs (default: the
#				client's, 5); keep it under half the
#				daemon's ping_timeout
#	DAZAI_MULTIPLEXER	guard (the default) or skip: with skip, a
#				shell inside tmux or screen ($TMUX or $STY
#				set) holds no guard and says so, since a
#				detached session outlives your logout
# Set while the guard is held:
#	DAZAI_HEARTBEAT_PID	the client's pid; `kill -USR1` it to stand
#				down without a panic
#	DAZAI_GUARD_PID		(exported) the pid of the guarded shell
#	_DAZAI_CLIENT		(exported) the client's pid and start time,
#				so that `exec bash -i` keeps the guard
#	_DAZAI_FD		(exported) the descriptor on which this shell
#				reads the client's messages, so that the
#				shell after `exec bash -i` can say why the
#				guard ended
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

# This file, to tell the user how to source it again.
if [ -n "${BASH_VERSION-}" ]; then
	_dazai_rc=${BASH_SOURCE[0]-shellrc.sh}
else
	_dazai_rc=${0-shellrc.sh}
fi

# Print "dazai: message" on stderr.
_dazai_say() {
	printf 'dazai: %s\n' "$1" >&2
}

# Find a system tool in PATH, else in /usr/bin or /bin. Sets _dazai_tool.
_dazai_find_tool() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	local d=''

	_dazai_tool=$(command -v "$1" 2>/dev/null) || _dazai_tool=
	case $_dazai_tool in
	/*) return 0 ;;
	esac
	for d in /usr/bin /bin; do
		if [ -x "$d/$1" ]; then
			_dazai_tool=$d/$1
			return 0
		fi
	done
	_dazai_tool=
	return 1
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

# The PING interval for the client, in _dazai_interval (empty: the
# client's default). From DAZAI_INTERVAL for now; once the daemon reports
# its ping timeout over a control connection, derive it from that here.
_dazai_get_interval() {
	_dazai_interval=${DAZAI_INTERVAL-}
}

# Identify a live process by pid and start time (field 22 of
# /proc/PID/stat, clock ticks since boot): sets _dazai_id to "PID START",
# or returns 1 if the pid is gone or a zombie. A pid can be reused; the
# pair cannot. Builtins only: this runs at every prompt.
_dazai_identify() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	local line='' n=0

	_dazai_id=
	case $1 in
	'' | *[!0-9]*) return 1 ;;
	esac
	{ IFS= read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
	# "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	line=${line##*") "}
	case $line in
	Z* | X* | '') return 1 ;;
	esac
	# Fields 3 to 21 go; field 22 is the start time.
	while [ "$n" -lt 19 ]; do
		case $line in
		*" "*) line=${line#* } ;;
		*) return 1 ;;
		esac
		n=$((n + 1))
	done
	line=${line%% *}
	case $line in
	'' | *[!0-9]*) return 1 ;;
	esac
	_dazai_id="$1 $line"
	return 0
}

# Is the client this shell recorded still running (same pid, same start)?
_dazai_alive() {
	[ -n "${_DAZAI_CLIENT-}" ] &&
	    _dazai_identify "${_DAZAI_CLIENT%% *}" &&
	    [ "$_dazai_id" = "$_DAZAI_CLIENT" ]
}

# Forget the guard: no variable may outlive the client it names.
_dazai_forget() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	if [ -n "${_dazai_fd-}" ]; then
		exec {_dazai_fd}<&-
	fi
	unset _dazai_fd _dazai_shell DAZAI_HEARTBEAT_PID DAZAI_GUARD_PID \
	    _DAZAI_CLIENT _DAZAI_FD
}

# One line from the client (in $1): a "status=WORD" line (--status-lines)
# sets _dazai_status to WORD; any other non-empty one is a message for a
# person and becomes _dazai_last, without the client's name.
_dazai_heard() {
	case $1 in
	'') ;;
	"dazai-heartbeat: status="*)
		_dazai_status=${1#dazai-heartbeat: status=}
		;;
	*)
		_dazai_last=${1#dazai-heartbeat: }
		;;
	esac
}

# The client of this shell is gone: say why, once, and forget it.
_dazai_lost() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	local line='' last='' n=0

	# Its lines since "guarding", up to the pipe's end (it has exited,
	# so the pipe has no writer left; the bound is for safety).
	_dazai_status='' _dazai_last=''
	if [ -n "${_dazai_fd-}" ]; then
		while [ "$n" -lt 16 ]; do
			line=
			IFS= read -r -t 1 -u "$_dazai_fd" line || {
				_dazai_heard "$line"
				break
			}
			_dazai_heard "$line"
			n=$((n + 1))
		done
	fi
	last=$_dazai_last
	case $_dazai_status in
	stood-down)
		last="stood down; the daemon keeps the secret"
		;;
	lost)
		last="$last; the daemon stopped or panicked"
		;;
	*)
		[ -n "$last" ] ||
		    last="dazai-heartbeat (pid ${_DAZAI_CLIENT%% *}) exited"
		;;
	esac
	unset _dazai_status _dazai_last
	_dazai_forget
	_dazai_say "session UNGUARDED ($last)"
}

# At each prompt: if this shell's guard ended, say so. Returns 0 (a
# failing prompt hook ends a shell under set -e); runs after the user's
# own hooks, so they see the status of the last command.
_dazai_prompt() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	if [ "${_dazai_shell-}" = "$$" ] && ! _dazai_alive; then
		_dazai_lost
	fi
	return 0
}

# Run by the exiting shell: end the heartbeat without QUIT (SIGTERM), so
# the daemon sees it lost and panics. Only the client this shell started,
# checked by pid and start time: never a process that reused its pid.
# Never fails, never exits.
_dazai_on_exit() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	if [ "${_dazai_shell-}" = "$$" ] && _dazai_alive; then
		kill -TERM "${_DAZAI_CLIENT%% *}" 2>/dev/null || :
	fi
	return 0
}

# Arrange for _dazai_prompt to run before each prompt, after the user's
# own prompt hooks, once.
_dazai_hook_prompt() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	local nl='
'

	if [ -n "${ZSH_VERSION-}" ]; then
		# precmd_functions is additive: other hooks stay.
		if autoload -Uz add-zsh-hook 2>/dev/null &&
		    add-zsh-hook precmd _dazai_prompt 2>/dev/null; then
			return 0
		fi
		# shellcheck disable=SC2034 # precmd_functions is zsh's
		case " ${precmd_functions[*]-} " in
		*" _dazai_prompt "*) ;;
		*) precmd_functions+=(_dazai_prompt) ;;
		esac
		return 0
	fi
	# bash 5.1 and later run each element of an array PROMPT_COMMAND:
	# add one. A string gets a line of its own at the end.
	case " ${PROMPT_COMMAND[*]-} " in
	*_dazai_prompt*) return 0 ;;
	esac
	if [ -z "${PROMPT_COMMAND-}" ]; then
		PROMPT_COMMAND=_dazai_prompt
	elif [ "${BASH_VERSINFO[0]-0}${BASH_VERSINFO[1]-0}" -ge 51 ] &&
	    [ "${#PROMPT_COMMAND[@]}" -gt 1 ]; then
		PROMPT_COMMAND+=(_dazai_prompt)
	else
		PROMPT_COMMAND[0]="${PROMPT_COMMAND[0]}${nl}_dazai_prompt"
	fi
	return 0
}

# Arrange for _dazai_on_exit to run when this shell exits, once, keeping
# whatever exit handler is already there; and for _dazai_prompt.
_dazai_hook() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	local prev='' nl='
'

	_dazai_hook_prompt
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

# Take on a client this very process started before `exec bash -i` (or
# zsh): the same pid, and the client it recorded still runs. The
# descriptor of its messages survived the exec; take it on too if it is
# still a pipe.
_dazai_adopt() {
	[ "${DAZAI_GUARD_PID-}" = "$$" ] && [ "${_dazai_shell-}" != "$$" ] &&
	    _dazai_alive || return 1
	_dazai_shell=$$
	DAZAI_HEARTBEAT_PID=${_DAZAI_CLIENT%% *}
	case ${_DAZAI_FD-} in
	'' | *[!0-9]*) unset _DAZAI_FD ;;
	*)
		if [ -p "/dev/fd/$_DAZAI_FD" ]; then
			_dazai_fd=$_DAZAI_FD
		else
			unset _DAZAI_FD
		fi
		;;
	esac
	_dazai_hook
	return 0
}

# Start the client in the background, its stderr on a pipe that this
# shell keeps open as _dazai_fd. It is started from a subshell, so this
# shell has no child, job or $! of it. Sets _dazai_pid, or _dazai_why
# and returns 1.
_dazai_spawn() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	local base='' dir='' fifo='' rw='' script='' setsid=''
	local -a args

	_dazai_pid=
	_dazai_why="cannot start $1"
	args=("$@")
	# A FIFO in a private directory (mktemp -d makes it 0700) carries
	# the client's stderr: first the pid, then "guarding: ..." or why
	# it gave up, then whatever it says before it exits.
	base=${XDG_RUNTIME_DIR-}
	if [ -z "$base" ] || [ ! -d "$base" ] || [ ! -w "$base" ]; then
		base=${TMPDIR:-/tmp}
	fi
	if ! _dazai_find_tool mktemp ||
	    ! dir=$("$_dazai_tool" -d "$base/dazai-shell.XXXXXXXXXX") ||
	    [ -z "$dir" ]; then
		_dazai_why="cannot make a directory in $base"
		return 1
	fi
	fifo=$dir/stderr
	if ! _dazai_find_tool mkfifo || ! "$_dazai_tool" -m 600 "$fifo"; then
		_dazai_why="cannot make a FIFO in $dir"
		_dazai_find_tool rm && "$_dazai_tool" -rf "$dir"
		return 1
	fi
	# Opened for reading and writing, so neither side's open blocks:
	# if the client never starts, the read below times out.
	exec {rw}<>"$fifo"
	# In a session of its own when setsid(1) is there, so the
	# terminal's ^C, ^\ and ^Z never reach it; ignoring them covers
	# the rest. The inner sh gives its pid, which becomes the client's.
	# shellcheck disable=SC2016 # $$ is the inner sh's pid
	script='trap "" INT QUIT TSTP TTIN TTOU
	    echo "$$"
	    exec "$@" >/dev/null </dev/null'
	if _dazai_find_tool setsid; then
		setsid=$_dazai_tool
	fi
	(
		exec {rw}>&-
		if [ -n "$setsid" ]; then
			"$setsid" /bin/sh -c "$script" dazai-heartbeat \
			    "${args[@]}" >"$fifo" 2>&1 &
		else
			/bin/sh -c "$script" dazai-heartbeat "${args[@]}" \
			    >"$fifo" 2>&1 &
		fi
	)
	exec {_dazai_fd}<"$fifo"
	IFS= read -r -t 3 -u "$_dazai_fd" _dazai_pid || _dazai_pid=
	# From here the client alone writes: its exit ends the pipe.
	exec {rw}>&-
	_dazai_find_tool rm && "$_dazai_tool" -rf "$dir"
	case $_dazai_pid in
	'' | *[!0-9]*)
		_dazai_pid=
		exec {_dazai_fd}<&-
		unset _dazai_fd
		return 1
		;;
	esac
	return 0
}

# Start the guard for this shell, or say why not.
_dazai_main() {
	[ -z "${ZSH_VERSION-}" ] || emulate -L zsh -o no_aliases
	local pid='' line='' last='' n=0
	local holder=${DAZAI_GUARD_PID-} holder_client=${_DAZAI_CLIENT-}
	local -a args

	# Sourced again in the shell that holds the guard: start nothing,
	# only put the hooks back should they have been removed.
	if [ "${_dazai_shell-}" = "$$" ] && _dazai_alive; then
		_dazai_hook
		return 0
	fi
	# This shell's guard ended and no prompt said so yet: say it now.
	if [ "${_dazai_shell-}" = "$$" ]; then
		_dazai_lost
	fi
	# The same process, after exec bash -i: keep its guard.
	if _dazai_adopt; then
		return 0
	fi
	# A multiplexer's shell outlives the login that started it: with
	# DAZAI_MULTIPLEXER=skip it holds no guard, so that logging out ends
	# the guard however many detached panes are left.
	if [ "${DAZAI_MULTIPLEXER-}" = skip ]; then
		line=
		if [ -n "${TMUX-}" ]; then
			line=tmux
		elif [ -n "${STY-}" ]; then
			line=screen
		fi
		if [ -n "$line" ]; then
			line="session UNGUARDED (inside $line, whose sessions"
			line="$line outlive your logout;"
			line="$line DAZAI_MULTIPLEXER=skip)"
			_dazai_say "$line"
			return 0
		fi
	fi
	if ! _dazai_find_client; then
		_dazai_say "session UNGUARDED (${_dazai_why-})"
		return 0
	fi
	args=("$_dazai_client" --status-lines --watch-pid "$$")
	if [ -n "${DAZAI_SOCKET-}" ]; then
		args+=(--socket "$DAZAI_SOCKET")
	fi
	_dazai_get_interval
	if [ -n "${_dazai_interval-}" ]; then
		args+=(--interval "$_dazai_interval")
	fi
	if ! _dazai_spawn "${args[@]}"; then
		_dazai_say "session UNGUARDED (${_dazai_why-})"
		return 0
	fi
	pid=$_dazai_pid

	_dazai_status='' _dazai_last=''
	while [ "$n" -lt 8 ] && IFS= read -r -t 3 -u "$_dazai_fd" line; do
		_dazai_heard "$line"
		case $_dazai_status in
		guarding)
			# Gone already: as if it had said nothing.
			if ! _dazai_identify "$pid"; then
				_dazai_last=''
				break
			fi
			unset _dazai_status _dazai_last
			_DAZAI_CLIENT=$_dazai_id
			# shellcheck disable=SC2034 # for the user
			DAZAI_HEARTBEAT_PID=$pid
			_dazai_shell=$$
			DAZAI_GUARD_PID=$$
			_DAZAI_FD=$_dazai_fd
			export DAZAI_GUARD_PID _DAZAI_CLIENT _DAZAI_FD
			_dazai_hook
			return 0
			;;
		esac
		n=$((n + 1))
	done
	exec {_dazai_fd}<&-
	unset _dazai_fd
	last=$_dazai_last
	line=$_dazai_status
	unset _dazai_status _dazai_last

	case $line in
	busy)
		if [ "$holder" = "$$" ]; then
			line="the guard is already held for this shell (pid $$)"
		elif [ -n "$holder" ] && [ -n "$holder_client" ] &&
		    kill -0 "$holder" 2>/dev/null &&
		    _dazai_identify "${holder_client%% *}" &&
		    [ "$_dazai_id" = "$holder_client" ]; then
			line="shell $holder, which started this one, holds the"
			line="$line guard; not guarding this one"
		else
			line="session UNGUARDED (the daemon serves one"
			line="$line heartbeat and another process holds it,"
			line="$line from another window or a script; to move"
			line="$line the guard here, stand that one down (kill"
			line="$line -USR1 its DAZAI_HEARTBEAT_PID), then: ."
			line="$line $_dazai_rc; to guard every window, give"
			line="$line the daemon sessions = 16 in dazai.conf)"
		fi
		_dazai_say "$line"
		return 0
		;;
	nodaemon)
		last="$last; a shell opened before dazaid started stays"
		last="$last unguarded until this file is sourced again: ."
		last="$last $_dazai_rc"
		;;
	*)
		# No word from it: hung on a daemon that does not answer,
		# or gone. SIGUSR1 stands it down without a panic, even if
		# the WELCOME is only now arriving.
		if [ -n "$last" ]; then
			:
		elif _dazai_identify "$pid"; then
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
unset _dazai_client _dazai_why _dazai_aliases _dazai_tool _dazai_pid \
    _dazai_interval
return 0
