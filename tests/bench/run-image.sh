#!/bin/bash
# run-image.sh [--runs N] [--warmup N] [--doc FILE | --no-doc]: time `nook run --rm busybox true`
# against podman with runc (`--network none`, and with its default network when podman has
# one), with hyperfine; write a markdown table of medians and ratios to podman into
# docs/benchmarks.md between the run-image markers, so a rerun replaces it.
#
# podman runs on its own --root/--runroot/--tmpdir under the work dir (overlay storage, cgroupfs,
# file events), with the busybox rootfs `podman import`ed: nothing of the machine's podman is
# touched.  This host needs `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024` for podman
# (no CAP_SYS_RESOURCE).  nook uses the image it embeds.  Run as root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
NOOK=${NOOK:-$builddir/nook}
runs=20
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

[ "$(id -u)" = 0 ] || { echo "run-image.sh: must run as root" >&2; exit 1; }
for tool in hyperfine jq podman runc; do
	command -v "$tool" >/dev/null || { echo "run-image.sh: \`$tool' is not installed" >&2; exit 1; }
done

# shellcheck source=../integration/helpers.bash
. "$srcdir/tests/integration/helpers.bash" # nook_cgroup_bases, nook_kill_cgroup

work=$(mktemp -d /tmp/nook-bench-image.XXXXXX)
chmod 0755 "$work"
tag=$(basename "$work")
pm=(podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp"
	--storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime runc)
nk=("$NOOK" --root "$work/nook/run" --storage "$work/nook/storage")

cleanup() {
	local d base
	"${pm[@]}" rm -af >/dev/null 2>&1 || true
	"${pm[@]}" system reset -f >/dev/null 2>&1 || true
	for d in "$work"/nook/storage/containers/*/; do
		[ -d "$d" ] && "${nk[@]}" rm -f "$(basename "$d")" >/dev/null 2>&1
	done
	grep -o "$work[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	while read -r base; do
		[ -d "$base/$tag" ] && { nook_kill_cgroup "$base/$tag" || true; }
	done < <(nook_cgroup_bases)
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "run-image.sh: importing busybox into podman and nook" >&2
"$srcdir/tests/helpers/make-busybox-rootfs.sh" "$work/rootfs"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"${pm[@]}" import "$work/rootfs.tar" localhost/bench-busybox >/dev/null
"${nk[@]}" run --rm --cgroup-parent "$tag" busybox true # imports the embedded image

ulimits="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
candidates=(
	"nook run --rm busybox true|${nk[*]} run --rm --cgroup-parent $tag busybox true"
	"podman --runtime runc, --network none|${pm[*]} run --rm $ulimits --network none localhost/bench-busybox true"
	"podman --runtime runc, default network|${pm[*]} run --rm $ulimits localhost/bench-busybox true"
)
names=()
cmds=()
failed=()
for c in "${candidates[@]}"; do
	if out=$(sh -c "${c#*|}" 2>&1 </dev/null); then
		names+=("${c%%|*}")
		cmds+=("${c#*|}")
	else
		failed+=("${c%%|*}|$(printf '%s' "$out" | head -n1 | cut -c1-120)")
		echo "run-image.sh: ${c%%|*} fails, not timed: $(printf '%s' "$out" | head -n1)" >&2
	fi
done

json=$work/hyperfine.json
args=()
for i in "${!names[@]}"; do
	args+=(-n "${names[$i]}" "${cmds[$i]}")
done
hyperfine --style basic --warmup "$warmup" --runs "$runs" --export-json "$json" "${args[@]}" \
	>"$work/hyperfine.log" 2>&1 || { tail -n 20 "$work/hyperfine.log" >&2; exit 1; }

base=$(jq -r '.results[] | select(.command == "podman --runtime runc, --network none") | .median' "$json")
table=$work/table.md
{
	echo "<!-- run-image:begin (written by tests/bench/run-image.sh; do not edit by hand) -->"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on Linux $(uname -r), $(nproc) cores;"
	echo "hyperfine $(hyperfine --version | awk '{ print $2 }'), $runs runs after $warmup warmups, medians."
	echo "$(podman --version), $(runc --version | head -n1), nook $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')."
	echo
	echo "| what | median | mean ± σ | vs podman --network none |"
	echo "| --- | ---: | ---: | ---: |"
	jq -r --arg b "${base:-}" '.results[] |
		def ms: (. * 1000 * 100 | round / 100 | tostring) + " ms";
		"| \(.command) | \(.median | ms) | \(.mean | ms) ± \(.stddev // 0 | ms) | " +
		(if $b == "" then "n/a" else ((.median / ($b | tonumber) * 1000 | round / 1000 | tostring) + "×") end) + " |"' "$json"
	for f in "${failed[@]}"; do
		echo "| ${f%%|*} | failed: \`${f#*|}\` | | |"
	done
	echo
	echo "Exact commands (\`\$WORK\` is the temp dir; podman's image is the busybox rootfs imported"
	echo "with \`podman import\`, nook's the image it embeds):"
	echo
	echo '```sh'
	for c in "${candidates[@]}"; do
		printf '# %s\n%s\n' "${c%%|*}" "${c#*|}"
	done | sed "s|$work|\$WORK|g"
	echo '```'
	echo
	echo "<!-- run-image:end -->"
} >"$table"
cat "$table"

if [ -n "$doc" ]; then
	if grep -q '^<!-- run-image:begin' "$doc" && grep -q '^<!-- run-image:end' "$doc"; then
		awk -v t="$table" '
			/^<!-- run-image:begin/ { while ((getline l < t) > 0) print l; skip = 1; next }
			/^<!-- run-image:end/ { skip = 0; next }
			!skip { print }' "$doc" >"$doc.new"
	else
		{ cat "$doc"; echo; echo "## \`nook run\` from an image vs podman"; echo; cat "$table"; } >"$doc.new"
	fi
	mv "$doc.new" "$doc"
	echo "run-image.sh: wrote $doc" >&2
fi
