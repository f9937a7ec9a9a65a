# Sourced by the tests/bench/*.sh scripts that time commands with hyperfine and keep their table
# in docs/benchmarks.md between markers.  The script sets runs, warmup and doc (the defaults)
# before sourcing; `bench_args "$@"` parses --runs N, --warmup N, --doc FILE, --no-doc (anything
# else prints the script's header lines 2-5 as usage); `bench_write_doc NAME TABLE` puts the
# file TABLE, which begins with `<!-- NAME:begin` and ends with `<!-- NAME:end -->`, into $doc
# in place of the section of that name, or at its end.

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
