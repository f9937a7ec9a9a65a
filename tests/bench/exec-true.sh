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

# shellcheck source=bench-lib.sh
. "$here/bench-lib.sh"
bench_args "$@"
bench_setup "$RUNC"
declare -A rt=([nook-runc]=$NOOK [runc]=$RUNC)

cleanup() {
	local r
	for r in "${!rt[@]}"; do
		"${rt[$r]}" --root "$work/roots/$r" delete --force bench >/dev/null 2>&1 || true
	done
	bench_remove_cgroups
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
bench_hyperfine "$json" "${args[@]}"

table=$work/table.md
{
	echo "<!-- exec-true:begin (written by tests/bench/exec-true.sh; do not edit by hand) -->"
	echo
	bench_measured
	echo "Runtimes: $("$RUNC" --version 2>/dev/null | head -n1); nook $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')."
	echo
	bench_table "$json" runc
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

bench_write_doc exec-true "$table"
