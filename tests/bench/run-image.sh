#!/bin/bash
# run-image.sh [--runs N] [--warmup N] [--doc FILE | --no-doc]: time `nook run --rm busybox true`
# against podman with runc (`--network none`, and with its default network when podman has
# one), with hyperfine; write a markdown table of medians and ratios to podman into
# docs/benchmarks.md between the run-image markers, so a rerun replaces it.
#
# Both default networks (nook's bridge `nook`, podman's netavark bridge) are timed inside a
# network namespace of their own per run (`unshare -n`), so each run also makes the bridge.
#
# podman runs on its own --root/--runroot/--tmpdir under the work dir (overlay storage, cgroupfs,
# file events), with the busybox rootfs `podman import`ed: nothing of the machine's podman is
# touched.  This host needs `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024` for podman
# (no CAP_SYS_RESOURCE).  podman's default network (netavark: a bridge, iptables rules,
# ip_forward) is timed inside a network namespace of its own (`unshare -n`), so that the
# host's network is never touched.  nook uses the image it embeds.  Run as root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
NOOK=${NOOK:-$builddir/nook}
runs=20
warmup=3
doc=$srcdir/docs/benchmarks.md

# shellcheck source=bench-lib.sh
. "$here/bench-lib.sh"
bench_args "$@"
bench_setup podman runc

pm=(podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp"
	--storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime runc)
# podman's cgroups go below /$tag (as clients.bats does), which bench_remove_cgroups removes;
# its default parent, /libpod_parent, would stay behind at the top of every hierarchy.
pmrun=(run --rm --cgroup-parent "/$tag" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
nk=("$NOOK" --root "$work/nook/run" --storage "$work/nook/storage")

cleanup() {
	local d
	"${pm[@]}" rm -af >/dev/null 2>&1 || true
	"${pm[@]}" system reset -f >/dev/null 2>&1 || true
	for d in "$work"/nook/storage/containers/*/; do
		[ -d "$d" ] && "${nk[@]}" rm -f "$(basename "$d")" >/dev/null 2>&1
	done
	grep -o "$work[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	bench_remove_cgroups
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "run-image.sh: importing busybox into podman and nook" >&2
"$srcdir/tests/helpers/make-busybox-rootfs.sh" "$work/rootfs"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"${pm[@]}" import "$work/rootfs.tar" localhost/bench-busybox >/dev/null
"${nk[@]}" run --rm --net none --cgroup-parent "$tag" busybox true # imports the embedded image

base="podman --runtime runc, --network none"
candidates=(
	"nook run --rm --net none busybox true|${nk[*]} run --rm --net none --cgroup-parent $tag busybox true"
	"nook run --rm busybox true, default network|unshare -n ${nk[*]} run --rm --cgroup-parent $tag busybox true"
	"$base|${pm[*]} ${pmrun[*]} --network none localhost/bench-busybox true"
	"podman --runtime runc, default network|unshare -n ${pm[*]} ${pmrun[*]} localhost/bench-busybox true"
)
args=()
failed=()
for c in "${candidates[@]}"; do
	if out=$(sh -c "${c#*|}" 2>&1 </dev/null); then
		args+=(-n "${c%%|*}" "${c#*|}")
	else
		failed+=("${c%%|*}|$(printf '%s' "$out" | head -n1 | cut -c1-120)")
		echo "run-image.sh: ${c%%|*} fails, not timed: $(printf '%s' "$out" | head -n1)" >&2
	fi
done
bench_hyperfine "$work/hyperfine.json" "${args[@]}"

table=$work/table.md
{
	echo "<!-- run-image:begin (written by tests/bench/run-image.sh; do not edit by hand) -->"
	echo
	bench_measured
	echo "$(podman --version), $(runc --version | head -n1), nook $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')."
	echo
	bench_table "$work/hyperfine.json" "$base"
	for f in "${failed[@]}"; do
		echo "| ${f%%|*} | failed: \`${f#*|}\` | | | |"
	done
	echo
	# The issue's goals compare like with like: nook's --net none with podman's --network none
	# (<= 0.2x) and nook's default bridge with podman's default network (<= 0.1x).
	jq -r '.results | map({(.command): .median}) | add as $m |
		def ratio(a; b): if $m[a] and $m[b] then ($m[a] / $m[b] * 100 | round / 100 | tostring) + "×" else "n/a" end;
		"Goals, median against median: `--net none` against podman'"'"'s `--network none` " +
		ratio("nook run --rm --net none busybox true"; "podman --runtime runc, --network none") +
		" (goal <= 0.2×); the default bridge against podman'"'"'s default network " +
		ratio("nook run --rm busybox true, default network"; "podman --runtime runc, default network") +
		" (goal <= 0.1×)."' "$work/hyperfine.json"
	echo
	echo "Exact commands (\`\$WORK\` is the temp dir; podman's image is the busybox rootfs imported"
	echo "with \`podman import\`, nook's the image it embeds):"
	echo
	bench_commands
	echo
	echo "<!-- run-image:end -->"
} >"$table"
cat "$table"
bench_write_doc run-image "$table"
