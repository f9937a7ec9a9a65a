# Sourced by the tests/bench/*.sh scripts that time commands with hyperfine and keep their table
# in docs/benchmarks.md between markers.  The script sets runs, warmup and doc (the defaults)
# before sourcing; `bench_args "$@"` parses --runs N, --warmup N, --doc FILE, --no-doc (anything
# else prints the script's header lines 2-5 as usage); `bench_write_doc NAME TABLE` puts the
# file TABLE, which begins with `<!-- NAME:begin` and ends with `<!-- NAME:end -->`, into $doc
# in place of the section of that name, or at its end.
#
# For the scripts that time runtimes in containers: `bench_setup TOOL...` checks root and the
# tools (hyperfine, jq and TOOL...), sources helpers.bash and makes the work dir $work (its
# name $tag is the cgroup parent of the runs); `bench_remove_cgroups` removes those cgroups;
# `bench_hyperfine JSON ARGS...` runs hyperfine; `bench_measured` and `bench_table` print the
# head of a table and its rows; `bench_commands` the commands of ${candidates[@]} ("NAME|CMD").

bench_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--runs) runs=$2; shift 2 ;;
		--warmup) warmup=$2; shift 2 ;;
		--doc) doc=$2; shift 2 ;;
		--no-doc) doc=; shift ;;
		*)
			sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2
			exit 2
			;;
		esac
	done
}

bench_write_doc() {
	local name=$1 table=$2
	[ -n "$doc" ] || return 0
	mkdir -p "$(dirname "$doc")"
	[ -f "$doc" ] || printf '# Benchmarks\n\n' >"$doc"
	if grep -q "^<!-- $name:begin" "$doc" && grep -q "^<!-- $name:end" "$doc"; then
		awk -v t="$table" -v b="^<!-- $name:begin" -v e="^<!-- $name:end" '
			$0 ~ b { while ((getline l < t) > 0) print l; skip = 1; next }
			$0 ~ e { skip = 0; next }
			!skip { print }' "$doc" >"$doc.new"
	else
		{ cat "$doc"; echo; cat "$table"; } >"$doc.new"
	fi
	mv "$doc.new" "$doc"
	echo "$(basename "$0"): wrote $doc" >&2
}

bench_setup() {
	local tool
	[ "$(id -u)" = 0 ] || { echo "$(basename "$0"): must run as root" >&2; exit 1; }
	for tool in hyperfine jq "$@"; do
		command -v "$tool" >/dev/null || { echo "$(basename "$0"): \`$tool' is not installed" >&2; exit 1; }
	done
	# shellcheck source=../integration/helpers.bash
	. "$srcdir/tests/integration/helpers.bash" # nook_cgroup_bases, nook_kill_cgroup
	work=$(mktemp -d /tmp/nook-bench.XXXXXX)
	chmod 0755 "$work"
	tag=$(basename "$work")
}

bench_remove_cgroups() {
	local base
	while read -r base; do
		[ -d "$base/$tag" ] && { nook_kill_cgroup "$base/$tag" || echo "$(basename "$0"): cannot remove $base/$tag" >&2; }
	done < <(nook_cgroup_bases)
}

bench_hyperfine() {
	local json=$1
	shift
	echo "$(basename "$0"): hyperfine, $runs runs and $warmup warmups each" >&2
	hyperfine --style basic --warmup "$warmup" --runs "$runs" --export-json "$json" "$@" \
		>"$work/hyperfine.log" 2>&1 || {
		tail -n 20 "$work/hyperfine.log" >&2
		exit 1
	}
}

# bench_measured [MORE]: when, where (MORE after the cores), hyperfine's version, runs, warmups.
bench_measured() {
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on Linux $(uname -r), $(nproc) cores${1:-};"
	echo "hyperfine $(hyperfine --version | awk '{ print $2 }'), $runs runs after $warmup warmups, medians."
}

# bench_table JSON BASE: hyperfine's JSON as a markdown table: median, mean ± σ, min, and the
# median against that of the command named BASE ("n/a" when BASE was not timed).
bench_table() {
	local json=$1 base=$2 base_median
	base_median=$(jq -r --arg b "$base" '.results[] | select(.command == $b) | .median' "$json")
	echo "| what | median | mean ± σ | min | vs $base |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	jq -r --arg base "$base_median" '.results[] |
		def ms: (. * 1000 * 100 | round / 100 | tostring) + " ms";
		"| \(.command) | \(.median | ms) | \(.mean | ms) ± \(.stddev // 0 | ms) | \(.min | ms) | " +
		(if $base == "" then "n/a" else ((.median / ($base | tonumber) * 100 | round / 100 | tostring) + "×") end) +
		" |"' "$json"
}

# bench_commands: the commands of ${candidates[@]} ("NAME|COMMAND") as a sh block, one comment
# line of NAME before each, with the work dir written $WORK.
bench_commands() {
	local c
	echo '```sh'
	for c in "${candidates[@]}"; do
		printf '# %s\n%s\n' "${c%%|*}" "${c#*|}"
	done | sed "s|$work|\$WORK|g"
	echo '```'
}
