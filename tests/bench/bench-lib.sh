# shellcheck shell=bash
# What the hyperfine benchmarks (run-true.sh, exec-true.sh) share: their options, the work dir,
# removing the cgroups they made, running hyperfine, and replacing their own section of
# docs/benchmarks.md.  Source it, then call bench_init.

# bench_init NAME [OPTIONS...]: parse --runs N, --warmup N, --doc FILE, --no-doc; check root and
# hyperfine, jq and the array bench_tools; make the work dir.  Sets srcdir, builddir, NOOK, RUNC, CRUN, runs, warmup, doc,
# work (the temp dir), tag (its name, also the cgroup parent of the runs) and bench_name.
bench_init() {
	bench_name=$1
	shift
	srcdir=${NOOK_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
	builddir=${NOOK_BUILDDIR:-$srcdir}
	NOOK=${NOOK:-$builddir/nook-runc}
	RUNC=${RUNC:-runc}
	CRUN=${CRUN:-crun}
	runs=30
	warmup=3
	doc=$srcdir/docs/benchmarks.md
	while [ $# -gt 0 ]; do
		case $1 in
		--runs) runs=$2; shift 2 ;;
		--warmup) warmup=$2; shift 2 ;;
		--doc) doc=$2; shift 2 ;;
		--no-doc) doc=; shift ;;
		*) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
		esac
	done
	[ "$(id -u)" = 0 ] || { echo "$bench_name: must run as root" >&2; exit 1; }
	for tool in hyperfine jq ${bench_tools[@]+"${bench_tools[@]}"}; do
		command -v "$tool" >/dev/null || { echo "$bench_name: \`$tool' is not installed" >&2; exit 1; }
	done
	# shellcheck source=../integration/helpers.bash
	. "$srcdir/tests/integration/helpers.bash" # nook_cgroup_bases, nook_kill_cgroup
	work=$(mktemp -d /tmp/nook-bench.XXXXXX)
	chmod 0755 "$work"
	tag=$(basename "$work")
}

# bench_remove_cgroups: remove the cgroups below $tag in every hierarchy.
bench_remove_cgroups() {
	local base
	while read -r base; do
		[ -d "$base/$tag" ] && { nook_kill_cgroup "$base/$tag" || echo "$bench_name: cannot remove $base/$tag" >&2; }
	done < <(nook_cgroup_bases)
}

# bench_hyperfine JSON [-n NAME COMMAND]...: time the commands, export to JSON.
bench_hyperfine() {
	local json=$1
	shift
	echo "$bench_name: hyperfine, $runs runs and $warmup warmups each" >&2
	hyperfine --style basic --warmup "$warmup" --runs "$runs" --export-json "$json" "$@" \
		>"$work/hyperfine.log" 2>&1 || {
		tail -n 20 "$work/hyperfine.log" >&2
		exit 1
	}
}

# bench_measured [MORE]: the two lines that open a table: when, where (MORE after the cores),
# hyperfine's version, runs and warmups.
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

# bench_write_doc MARKER TABLE: replace the section between <!-- MARKER:begin --> and
# <!-- MARKER:end --> of $doc with the file TABLE (append it when there is none); nothing when
# $doc is empty (--no-doc).
bench_write_doc() {
	local marker=$1 table=$2
	[ -n "$doc" ] || return 0
	mkdir -p "$(dirname "$doc")"
	[ -f "$doc" ] || printf '# Benchmarks\n\n' >"$doc"
	if grep -q "^<!-- $marker:begin" "$doc" && grep -q "^<!-- $marker:end" "$doc"; then
		awk -v t="$table" -v b="^<!-- $marker:begin" -v e="^<!-- $marker:end" '
			$0 ~ b { while ((getline l < t) > 0) print l; skip = 1; next }
			$0 ~ e { skip = 0; next }
			!skip { print }' "$doc" >"$doc.new"
	else
		{ cat "$doc"; echo; cat "$table"; } >"$doc.new"
	fi
	mv "$doc.new" "$doc"
	echo "$bench_name: wrote $doc" >&2
}
