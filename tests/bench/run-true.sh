#!/bin/bash
# run-true.sh [--runs N] [--warmup N] [--doc FILE | --no-doc]: time `run` of /bin/true in a
# busybox bundle with nook-runc, runc and crun, plus two floors, with hyperfine; write a markdown
# table of medians (and the ratio to crun) with the exact commands into docs/benchmarks.md
# between the run-true markers, so a rerun replaces it.
#
# crun 1.8 refuses a hybrid cgroup host ("cgroups in hybrid mode not supported"), so it runs as
# `unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec crun ...'`.  For a fair comparison
# nook-runc is also timed through the same wrapper, and the wrapper's own cost is measured
# (`... exec /bin/true`).  The bare floor is `unshare -fmpiun --mount-proc /bin/true`: the
# namespaces alone, with no runtime.
#
# Each run uses a unique container id (bench-$$ of hyperfine's shell) and the same relative
# cgroupsPath; every container, state dir and cgroup is removed at the end.  Run as root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
NOOK=${NOOK:-$builddir/nook-runc}
RUNC=${RUNC:-runc}
CRUN=${CRUN:-crun}
runs=30
warmup=3
doc=$srcdir/docs/benchmarks.md

# shellcheck source=bench-lib.sh
. "$here/bench-lib.sh"
bench_args "$@"

[ "$(id -u)" = 0 ] || { echo "run-true.sh: must run as root" >&2; exit 1; }
for tool in hyperfine jq unshare; do
	command -v "$tool" >/dev/null || { echo "run-true.sh: \`$tool' is not installed" >&2; exit 1; }
done

# shellcheck source=../integration/helpers.bash
. "$srcdir/tests/integration/helpers.bash" # nook_cgroup_bases, nook_kill_cgroup

work=$(mktemp -d /tmp/nook-bench.XXXXXX)
chmod 0755 "$work"
tag=$(basename "$work")
bundle=$work/bundle
roots=$work/roots

cleanup() {
	local r id base rt
	for r in nook nook-wrapped runc crun; do
		[ -d "$roots/$r" ] || continue
		case $r in
		nook | nook-wrapped) rt=("$NOOK") ;;
		runc) rt=("$RUNC") ;;
		crun) rt=(wrap "$CRUN") ;;
		esac
		for id in $({ "${rt[@]}" --root "$roots/$r" list -q 2>/dev/null
			find "$roots/$r" -mindepth 1 -maxdepth 1 -printf '%f\n'; } | sort -u); do
			"${rt[@]}" --root "$roots/$r" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	while read -r base; do
		[ -d "$base/$tag" ] && { nook_kill_cgroup "$base/$tag" || echo "run-true.sh: cannot remove $base/$tag" >&2; }
	done < <(nook_cgroup_bases)
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# The crun wrapper: a private mount namespace without the cgroup2 mount of the hybrid layout.
if awk '$2 == "/sys/fs/cgroup/unified" && $3 == "cgroup2" { f = 1 } END { exit !f }' /proc/self/mounts; then
	unmount_unified='umount /sys/fs/cgroup/unified && '
	layout="hybrid (cgroup v1 controllers, cgroup2 at /sys/fs/cgroup/unified)"
elif awk '$2 == "/sys/fs/cgroup" && $3 == "cgroup2" { f = 1 } END { exit !f }' /proc/self/mounts; then
	unmount_unified=
	layout="unified (cgroup v2)"
else
	unmount_unified=
	layout="legacy (cgroup v1)"
fi
wrap() {
	unshare -m sh -c "${unmount_unified}exec \"\$@\"" sh "$@"
}
wrapped() { # wrapped COMMAND-STRING: the same wrapper, as a string for hyperfine
	printf "unshare -m sh -c '%sexec %s'" "$unmount_unified" "$1"
}

echo "run-true.sh: building the bundle in $bundle" >&2
mkdir -p "$bundle" "$roots"/{nook,nook-wrapped,runc,crun}
"$srcdir/tests/helpers/make-busybox-rootfs.sh" "$bundle/rootfs"
# One config for every runtime: runc's default spec if runc is here, else nook's.
if command -v "$RUNC" >/dev/null; then
	(cd "$bundle" && "$RUNC" spec)
else
	(cd "$bundle" && "$NOOK" spec)
fi
jq --arg cg "$tag/c" '.process.terminal = false | .process.args = ["/bin/true"]
	| .linux.cgroupsPath = $cg' "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

# name|command: the commands hyperfine runs through sh (so $$ is unique per run).
candidates=(
	"bare floor|unshare -fmpiun --mount-proc /bin/true"
	"wrapper floor|$(wrapped /bin/true)"
	"crun (wrapped)|$(wrapped "$CRUN --root $roots/crun run --bundle $bundle bench-\$\$")"
	"nook-runc (wrapped)|$(wrapped "$NOOK --root $roots/nook-wrapped run --bundle $bundle bench-\$\$")"
	"nook-runc|$NOOK --root $roots/nook run --bundle $bundle bench-\$\$"
	"runc|$RUNC --root $roots/runc run --bundle $bundle bench-\$\$"
)

# Try each once; a runtime that fails (nook while it is being written) is reported, not timed.
# The trial runs a twin bundle whose process prints a word, so a runtime that exits 0 without
# running anything is caught.
trial=$work/trial
mkdir -p "$trial"
jq --arg r "$bundle/rootfs" '.root.path = $r | .process.args = ["/bin/echo", "bench-ok"]' \
	"$bundle/config.json" >"$trial/config.json"
names=()
cmds=()
failed=()
for c in "${candidates[@]}"; do
	name=${c%%|*}
	cmd=${c#*|}
	trial_cmd=${cmd//--bundle $bundle /--bundle $trial }
	if out=$(sh -c "$trial_cmd" 2>&1 </dev/null) &&
		{ [ "$trial_cmd" = "$cmd" ] || [ "$out" = bench-ok ]; }; then
		names+=("$name")
		cmds+=("$cmd")
	else
		out=${out:-exit 0 without running the container}
		failed+=("$name|$cmd|$(printf '%s' "$out" | head -n1 | cut -c1-120)")
		echo "run-true.sh: $name fails, not timed: $(printf '%s' "$out" | head -n1)" >&2
	fi
done

json=$work/hyperfine.json
args=()
for i in "${!names[@]}"; do
	args+=(-n "${names[$i]}" "${cmds[$i]}")
done
echo "run-true.sh: hyperfine, $runs runs and $warmup warmups each" >&2
hyperfine --style basic --warmup "$warmup" --runs "$runs" --export-json "$json" "${args[@]}" \
	>"$work/hyperfine.log" 2>&1 || {
	tail -n 20 "$work/hyperfine.log" >&2
	exit 1
}

crun_median=$(jq -r '.results[] | select(.command == "crun (wrapped)") | .median' "$json")
table=$work/table.md
{
	echo "<!-- run-true:begin (written by tests/bench/run-true.sh; do not edit by hand) -->"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on Linux $(uname -r), $(nproc) cores, cgroups $layout;"
	echo "hyperfine $(hyperfine --version | awk '{ print $2 }'), $runs runs after $warmup warmups, medians."
	echo "Runtimes: $("$RUNC" --version 2>/dev/null | head -n1 || echo 'runc: none'); $("$CRUN" --version 2>/dev/null | head -n1 || echo 'crun: none'); nook $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')."
	echo
	echo "| what | median | mean ± σ | min | vs crun (wrapped) |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	jq -r --arg crun "${crun_median:-}" '.results[] |
		def ms: (. * 1000 * 100 | round / 100 | tostring) + " ms";
		"| \(.command) | \(.median | ms) | \(.mean | ms) ± \(.stddev // 0 | ms) | \(.min | ms) | " +
		(if $crun == "" then "n/a" else ((.median / ($crun | tonumber) * 100 | round / 100 | tostring) + "×") end) +
		" |"' "$json"
	for f in "${failed[@]}"; do
		IFS='|' read -r name _cmd err <<<"$f"
		echo "| $name | failed: \`$err\` | | | |"
	done
	echo
	echo "Exact commands (run by hyperfine through \`sh -c\`, whose startup it subtracts):"
	echo
	echo '```sh'
	for c in "${candidates[@]}"; do
		printf '# %s\n%s\n' "${c%%|*}" "${c#*|}"
	done | sed "s|$work|\$WORK|g"
	echo '```'
	echo
	echo "\`\$WORK\` is the temp dir holding the bundle (busybox rootfs, \`runc spec\` with args"
	echo "\`/bin/true\`, terminal false, cgroupsPath \`$tag/c\` relative to the runtime's cgroup)."
	echo
	echo "<!-- run-true:end -->"
} >"$table"

cat "$table"

bench_write_doc run-true "$table"
