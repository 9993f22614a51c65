# SPDX-License-Identifier: MIT
# bash completion for crosspost(1) and crosspostd(8).  `make install` puts
# this file in $(PREFIX)/share/bash-completion/completions/ as both
# `crosspost` and `crosspostd` (bash-completion loads it by command name);
# it also works when sourced by hand.  tests/cli/completion.sh checks that
# it offers every command and every option each --help prints.

# Files (or folders) for the current word; with bash-completion's _filedir
# when it is loaded, else compgen.  $1: an extension pattern, e.g. scenario.
_crosspost_files()
{
	if declare -F _filedir >/dev/null; then
		_filedir "$@"
		return
	fi
	compopt -o filenames 2>/dev/null
	local IFS=$'\n'
	if [[ -n ${1-} ]]; then
		COMPREPLY=($(compgen -d -- "$cur") $(compgen -f -X "!*.$1" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}

# The names of the broker's live windows (for post --to), from
# `crosspost list --json` on the socket the line names, if any.
_crosspost_window_names()
{
	local program=$1 json
	local -a socket=()
	[[ -n $2 ]] && socket=(--socket "$2")
	json=$(timeout 2 "$program" list --json "${socket[@]}" 2>/dev/null) || return
	printf '%s\n' "$json" | grep -o '"name":"[^"]*"' | sed 's/^"name":"//; s/"$//'
}

_crosspost()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local program=${COMP_WORDS[0]} command socket="" i
	local IFS=$' \t\n'

	# --opt=VALUE: bash splits at "=", so the option is two words back.
	if [[ $cur == "=" ]]; then
		prev=${COMP_WORDS[COMP_CWORD-1]}
		cur=""
	elif [[ $prev == "=" ]]; then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	fi
	# The command is the first word: `crosspost COMMAND [OPTIONS] [ARGS]`.
	if ((COMP_CWORD == 1)); then
		COMPREPLY=($(compgen -W "listen post list run monitor stats origin gateway version help --help --version" -- "$cur"))
		return
	fi
	command=${COMP_WORDS[1]}
	for ((i = 2; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--socket | -s)
			socket=${COMP_WORDS[i + 1]}
			[[ $socket == "=" ]] && socket=${COMP_WORDS[i + 2]}
			;;
		esac
	done

	# An option's argument.
	case $prev in
	--socket | -s)
		[[ $command == version || $command == help ]] || { _crosspost_files; return; }
		;;
	esac
	case $command:$prev in
	run:--broker)
		COMPREPLY=($(compgen -c -- "$cur"))
		[[ $cur == */* ]] && _crosspost_files
		return
		;;
	run:--browser | run:--compare)
		COMPREPLY=($(compgen -W "chromium" -- "$cur"))
		return
		;;
	run:--known)
		_crosspost_files
		return
		;;
	listen:--timeout | listen:-t | post:--timeout | run:--timeout)
		COMPREPLY=($(compgen -W "250ms 1s 2s 10s 1m" -- "$cur"))
		return
		;;
	gateway:--serve)
		compopt -o dirnames 2>/dev/null
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	gateway:--token-file)
		_crosspost_files
		return
		;;
	gateway:--listen)
		COMPREPLY=($(compgen -W "127.0.0.1:8700 127.0.0.1:0 [::1]:8700" -- "$cur"))
		return
		;;
	gateway:--log-level)
		COMPREPLY=($(compgen -W "error warning info debug" -- "$cur"))
		return
		;;
	gateway:--max-message-size | gateway:--queue-high)
		COMPREPLY=($(compgen -W "64KiB 1MiB 4MiB 8MiB" -- "$cur"))
		return
		;;
	run:--junit)
		_crosspost_files xml
		return
		;;
	post:--file | post:-f)
		_crosspost_files
		return
		;;
	run:--diagram)
		_crosspost_files svg
		return
		;;
	monitor:--window)
		local IFS=$'\n'
		COMPREPLY=($(compgen -W "$(_crosspost_window_names "$program" "$socket")" -- "$cur"))
		return
		;;
	post:--to | post:-t)
		local IFS=$'\n'
		COMPREPLY=($(compgen -W "$(_crosspost_window_names "$program" "$socket")" -- "$cur"))
		return
		;;
	post:--target-origin | post:-o)
		# "*" quoted, so that the shell does not expand it.
		local word
		for word in '\*' /; do
			[[ $word == "$cur"* ]] && COMPREPLY+=("$word")
		done
		return
		;;
	listen:--name | listen:-n | listen:--count | listen:-c | listen:--ready-fd | listen:-r | \
	post:--to-id | post:-i | post:--name | post:-n | origin:--base | origin:-b | \
	listen:--origin | listen:--format | post:--reply-count | post:--format | \
	monitor:--origin | monitor:--count | run:--filter | \
	gateway:--allow-origin | gateway:--token | gateway:--max-pages | gateway:--max-windows | \
	gateway:--max-ports | gateway:--ready-fd)
		return # a value of the user's
		;;
	esac

	local options
	case $command in
	listen) options="--name --count --timeout --origin --format --reconnect --ready-fd --privileged --socket --help" ;;
	post) options="--to --to-id --target-origin --name --file --lines --string --reply-count --timeout --format --socket --help" ;;
	list) options="--tree --json --socket --help" ;;
	run) options="--socket --broker --browser --compare --known --filter --timeout --junit --diagram --verbose --help" ;;
	monitor) options="--origin --window --data --json --count --socket --help" ;;
	stats) options="--json --socket --help" ;;
	origin) options="--base --unicode --socket --help" ;;
	gateway) options="--listen --allow-origin --token --token-file --allow-remote --serve --socket
		--max-message-size --max-pages --max-windows --max-ports --queue-high --ready-fd --log-level
		--version --help" ;;
	*) options="" ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$options" -- "$cur"))
	elif [[ $command == run ]]; then
		_crosspost_files scenario
	fi
}

_crosspostd()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local program=${COMP_WORDS[0]}
	local IFS=$' \t\n'

	if [[ $cur == "=" ]]; then
		prev=${COMP_WORDS[COMP_CWORD-1]}
		cur=""
	elif [[ $prev == "=" ]]; then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	fi
	case $prev in
	--socket | -s | --config | -c | --pidfile | -p | --log-file | -L)
		_crosspost_files
		return
		;;
	--log-level | -l)
		COMPREPLY=($(compgen -W "error warning info debug" -- "$cur"))
		return
		;;
	--log-target)
		COMPREPLY=($(compgen -W "stderr syslog journal" -- "$cur"))
		return
		;;
	--limit)
		# The keys of --print-limits, from the crosspostd being completed.
		compopt -o nospace 2>/dev/null
		COMPREPLY=($(compgen -W "$("$program" --print-limits 2>/dev/null | sed -n 's/^\([a-z-]*\) = .*/\1=/p')" \
			-- "$cur"))
		return
		;;
	esac
	COMPREPLY=($(compgen -W "--socket --config --check-config --limit --print-limits --foreground --pidfile
		--log-file --log-target --log-level --verbose --version --help" -- "$cur"))
}

complete -F _crosspost crosspost
complete -F _crosspostd crosspostd
