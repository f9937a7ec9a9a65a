#!/bin/bash
# exec-true.sh [--runs N] [--warmup N] [--doc FILE | --no-doc]: time `exec` of /bin/true in a
# running busybox container with nook-runc and runc, with hyperfine; write a markdown table of
# medians with the exact commands into docs/benchmarks.md between the exec-true markers, so a
# rerun replaces it.
#
# Each runtime gets one container (runc's default spec, process `sleep 1000000`, a relative
# cgroupsPath), started once; only the exec is timed.  Everything is removed at the end.  Run as
# root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
NOOK=${NOOK:-$builddir/nook-runc}
RUNC=${RUNC:-runc}
runs=30
warmup=3
doc=$srcdir/docs/benchmarks.md

usage() {
	sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--doc) doc=$2; shift 2 ;;
	--no-doc) doc=; shift ;;
	*) usage ;;
	esac
done

[ "$(id -u)" = 0 ] || { echo "exec-true.sh: must run as root" >&2; exit 1; }
for tool in hyperfine jq "$RUNC"; do
	command -v "$tool" >/dev/null || { echo "exec-true.sh: \`$tool' is not installed" >&2; exit 1; }
done

# shellcheck source=../integration/helpers.bash
. "$srcdir/tests/integration/helpers.bash" # nook_cgroup_bases, nook_kill_cgroup

work=$(mktemp -d /tmp/nook-bench.XXXXXX)
chmod 0755 "$work"
tag=$(basename "$work")
declare -A rt=([nook-runc]=$NOOK [runc]=$RUNC)

cleanup() {
	local r base
	for r in "${!rt[@]}"; do
		"${rt[$r]}" --root "$work/roots/$r" delete --force bench >/dev/null 2>&1 || true
	done
	while read -r base; do
		[ -d "$base/$tag" ] && { nook_kill_cgroup "$base/$tag" || echo "exec-true.sh: cannot remove $base/$tag" >&2; }
	done < <(nook_cgroup_bases)
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "exec-true.sh: building the bundles in $work" >&2
"$srcdir/tests/helpers/make-busybox-rootfs.sh" "$work/rootfs"
(cd "$work" && "$RUNC" spec)
args=()
for r in nook-runc runc; do
	mkdir -p "$work/$r" "$work/roots/$r"
	jq --arg cg "$tag/$r" --arg root "$work/rootfs" '.process.terminal = false
		| .process.args = ["sleep", "1000000"] | .root.path = $root
		| .linux.cgroupsPath = $cg' "$work/config.json" >"$work/$r/config.json"
	"${rt[$r]}" --root "$work/roots/$r" run -d --bundle "$work/$r" bench </dev/null >/dev/null
	cmd="${rt[$r]} --root $work/roots/$r exec bench /bin/true"
	sh -c "$cmd" </dev/null
	args+=(-n "$r" "$cmd")
done

json=$work/hyperfine.json
echo "exec-true.sh: hyperfine, $runs runs and $warmup warmups each" >&2
hyperfine --style basic --warmup "$warmup" --runs "$runs" --export-json "$json" "${args[@]}" \
	>"$work/hyperfine.log" 2>&1 || {
	tail -n 20 "$work/hyperfine.log" >&2
	exit 1
}

runc_median=$(jq -r '.results[] | select(.command == "runc") | .median' "$json")
table=$work/table.md
{
	echo "<!-- exec-true:begin (written by tests/bench/exec-true.sh; do not edit by hand) -->"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on Linux $(uname -r), $(nproc) cores;"
	echo "hyperfine $(hyperfine --version | awk '{ print $2 }'), $runs runs after $warmup warmups, medians."
	echo "Runtimes: $("$RUNC" --version 2>/dev/null | head -n1); nook $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')."
	echo
	echo "| what | median | mean ± σ | min | vs runc |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	jq -r --arg runc "$runc_median" '.results[] |
		def ms: (. * 1000 * 100 | round / 100 | tostring) + " ms";
		"| \(.command) | \(.median | ms) | \(.mean | ms) ± \(.stddev // 0 | ms) | \(.min | ms) | " +
		((.median / ($runc | tonumber) * 100 | round / 100 | tostring) + "×") + " |"' "$json"
	echo
	echo "Exact commands (the container \`bench\` runs \`sleep 1000000\` from runc's default spec):"
	echo
	echo '```sh'
	for i in 0 3; do
		printf '# %s\n%s\n' "${args[$((i + 1))]}" "${args[$((i + 2))]}"
	done | sed "s|$work|\$WORK|g"
	echo '```'
	echo
	echo "<!-- exec-true:end -->"
} >"$table"

cat "$table"

if [ -n "$doc" ]; then
	if grep -q '^<!-- exec-true:begin' "$doc" && grep -q '^<!-- exec-true:end' "$doc"; then
		awk -v t="$table" '
			/^<!-- exec-true:begin/ { while ((getline l < t) > 0) print l; skip = 1; next }
			/^<!-- exec-true:end/ { skip = 0; next }
			!skip { print }' "$doc" >"$doc.new"
	else
		{ cat "$doc"; echo; cat "$table"; } >"$doc.new"
	fi
	mv "$doc.new" "$doc"
	echo "exec-true.sh: wrote $doc" >&2
fi
