# bash completion for nook (installed by `make install` into bash-completion's directory).
#
# Verbs, their flags (read from `nook VERB --help`, so that they never go stale), container
# names (`nook ps [-a] --format '{{.Names}}'`, with the --root and --storage already typed) and
# image names (`nook image ls`).

# The global options typed so far, so that names come from the same store.
_nook_globals_typed() {
	local i
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		case ${COMP_WORDS[i]} in
		--root | --storage) printf '%s\n%s\n' "${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}" ;;
		--root=* | --storage=*) printf '%s\n' "${COMP_WORDS[i]}" ;;
		esac
	done
}

# _nook_containers running|all
_nook_containers() {
	local args=()
	mapfile -t args < <(_nook_globals_typed)
	if [ "$1" = running ]; then
		"${COMP_WORDS[0]}" "${args[@]}" ps --format '{{.Names}}' 2>/dev/null
	else
		"${COMP_WORDS[0]}" "${args[@]}" ps -a --format '{{.Names}}' 2>/dev/null
	fi
}

_nook_images() {
	local args=()
	mapfile -t args < <(_nook_globals_typed)
	"${COMP_WORDS[0]}" "${args[@]}" image ls 2>/dev/null |
		awk 'NR > 1 && $1 != "<none>" { print $1 ":" $2 }'
}

# The flags of a verb, from its --help ("  -a, --all   ...").
_nook_flags() {
	"${COMP_WORDS[0]}" "$1" --help 2>/dev/null |
		grep -oE -- '(^|[[:space:],[])--?[a-zA-Z][a-zA-Z-]*(=false)?' | tr -d ' ,[' | sort -u
}

# Whether option $1 of verb $2 takes a value, from the verb's --help: on the line that
# names it ("  -e, --env KEY[=VALUE]", "[-t SECONDS]") an option is followed by a
# capitalised word.
_nook_takes_value() {
	"${COMP_WORDS[0]}" "$2" --help 2>/dev/null |
		grep -E -- "(^|[[:space:],[])$1([],= ]|$)" |
		grep -qE -- "(^|[[:space:],[])--?[a-zA-Z][a-zA-Z-]*[ =][A-Z]"
}

_nook() {
	local cur prev verb i what
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}

	# The verb: the first word that is not a global option (or its value).
	verb=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--root | --storage) ((i++)) ;;
		-*) ;;
		*)
			verb=${COMP_WORDS[i]}
			break
			;;
		esac
	done

	if [ -z "$verb" ]; then
		case $prev in
		--root | --storage)
			COMPREPLY=($(compgen -d -- "$cur"))
			return
			;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--root --storage --debug --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "attach exec image inspect kill logs network oci pause ps
				restart rm run start stats stop system unpause version wait" -- "$cur"))
		fi
		return
	fi

	case $verb in
	ps | version) what= ;;
	attach | stop | kill | pause | unpause | exec | stats) what=running ;;
	logs | wait | start | restart | inspect | rm) what=all ;;
	run) what=image ;;
	image)
		COMPREPLY=($(compgen -W "import pull ls inspect rm prune export --help" -- "$cur"))
		return
		;;
	network)
		COMPREPLY=($(compgen -W "create ls inspect rm --help" -- "$cur"))
		return
		;;
	system)
		COMPREPLY=($(compgen -W "check --repair --format --help" -- "$cur"))
		return
		;;
	oci)
		COMPREPLY=($(compgen -W "create delete events exec features kill list pause ps resume
			run spec start state update --help" -- "$cur"))
		return
		;;
	*) return ;;
	esac

	case $prev in
	-s | --signal)
		COMPREPLY=($(compgen -W "$(kill -l | tr -s '[:space:]' '\n' | sed -n 's/^SIG//p')" -- "$cur"))
		return
		;;
	--env-file)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--format)
		COMPREPLY=($(compgen -W "json table" -- "$cur"))
		return
		;;
	-*)
		_nook_takes_value "$prev" "$verb" && return
		;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_nook_flags "$verb")" -- "$cur"))
	elif [ "$what" = image ]; then
		COMPREPLY=($(compgen -W "$(_nook_images)" -- "$cur"))
	elif [ -n "$what" ]; then
		COMPREPLY=($(compgen -W "$(_nook_containers "$what")" -- "$cur"))
	fi
}

complete -F _nook nook
