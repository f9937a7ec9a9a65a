#!/bin/bash
# cloned-binary.sh [--runs N]: what the CVE-2019-5736 protection costs a create or run.
#
# Times one nook binary two ways, in a private mount namespace: from a read-only bind mount
# of itself, where nook finds /proc/self/exe read-only and does not re-execute, and from a
# writable copy, where it re-executes from a read-only detached bind mount of the binary
# (runtime/cloned-binary.c).  Two commands each: `run --bundle /nonexistent` (start-up and the
# protection alone, failing before anything is created) and a whole `run` of /bin/true.
# Prints a markdown table of medians; paste it into docs/benchmarks.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
runs=200

case ${1:-} in
--runs) runs=$2 ;;
'') ;;
*) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || { echo "cloned-binary.sh: must run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "cloned-binary.sh: hyperfine is not installed" >&2; exit 1; }

# shellcheck source=../integration/helpers.bash
. "$srcdir/tests/integration/helpers.bash" # nook_cgroup_bases, nook_kill_cgroup

work=$(mktemp -d /tmp/nook-bench-cb.XXXXXX)
chmod 0755 "$work"
tag=$(basename "$work")
cleanup() {
	local base
	while read -r base; do
		[ -d "$base/$tag" ] && nook_kill_cgroup "$base/$tag"
	done < <(nook_cgroup_bases)
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

mkdir -p "$work/ro" "$work/rw" "$work/bundle" "$work/root-ro" "$work/root-rw"
cp "$builddir/nook" "$work/ro/nook-runc"
cp "$builddir/nook" "$work/rw/nook-runc"
"$srcdir/tests/helpers/make-busybox-rootfs.sh" "$work/bundle/rootfs"
(cd "$work/bundle" && "$work/rw/nook-runc" spec)
jq --arg cg "$tag/c" '.process.terminal = false | .process.args = ["/bin/true"]
	| .linux.cgroupsPath = $cg' "$work/bundle/config.json" >"$work/config.json"
mv "$work/config.json" "$work/bundle/config.json"

# The bind mount lives in this private mount namespace only; hyperfine runs inside it.
unshare -m --propagation private sh -c '
	mount --bind "$1/ro/nook-runc" "$1/ro/nook-runc" &&
	mount -o remount,bind,ro "$1/ro/nook-runc" &&
	exec hyperfine -N -i --style none --warmup 10 --runs "$2" --export-json "$1/h.json" \
		-n "read-only binary: no re-exec | start-up" "$1/ro/nook-runc --root $1/root-ro run --bundle /nonexistent x" \
		-n "writable binary: re-exec | start-up" "$1/rw/nook-runc --root $1/root-rw run --bundle /nonexistent x" \
		-n "read-only binary: no re-exec | run /bin/true" "$1/ro/nook-runc --root $1/root-ro run --bundle $1/bundle b" \
		-n "writable binary: re-exec | run /bin/true" "$1/rw/nook-runc --root $1/root-rw run --bundle $1/bundle b" \
		' sh "$work" "$runs" >/dev/null

echo "Measured $(date -u '+%Y-%m-%d') on Linux $(uname -r), $(nproc) cores; nook $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo '?'), $(stat -c %s "$builddir/nook") byte binary; hyperfine, $runs runs, medians."
echo
echo "| binary | command | median | mean ± σ |"
echo "| --- | --- | ---: | ---: |"
jq -r '.results[] | def us: (. * 1e6 | round | tostring) + " us";
	(.command | split(" | ")) as $n | "| \($n[0]) | \($n[1]) | \(.median | us) | \(.mean | us) ± \(.stddev | us) |"' \
	"$work/h.json"
