#!/bin/bash
# soak.sh [--doc FILE | --no-doc]: SOAK_CYCLES (default 1000) cycles of `nook run --rm --net
# none busybox true` and of `nook oci run --keep` of a bundle + `nook oci delete`, next to a long-lived
# `nook run -d` container whose supervisor serves a `nook exec` every cycle; every 100 cycles
# (SOAK_EVERY) a sample of what would grow with a leak.  Fails when any grows between the
# first and the last sample: counts by more than 0, memory by more than 10%.
#
# A sample: the supervisor's open fds (/proc/PID/fd), mounts (/proc/self/mountinfo lines, in a
# mount namespace of the script's own, so that other work on the machine does not count),
# cgroups below the script's parent, links (`ip -o link`, in a network namespace of the
# script's own), files under --root and under --storage/containers, the supervisor's Pss and
# Rss (smaps_rollup), and the largest max RSS of nook itself (/usr/bin/time -f %M) over the
# cycles since the last sample.  The table goes into docs/benchmarks.md between the soak
# markers.  Everything lives in a temp dir and a cgroup parent of the script's own, removed at
# the end.  Run as root; `make check-soak` runs it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
NOOK=${NOOK:-$builddir/nook}
cycles=${SOAK_CYCLES:-1000}
every=${SOAK_EVERY:-100}
doc=$srcdir/docs/benchmarks.md

while [ $# -gt 0 ]; do
	case $1 in
	--doc) doc=$2; shift 2 ;;
	--no-doc) doc=; shift ;;
	*) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
case $cycles$every in *[!0-9]*) echo "soak.sh: SOAK_CYCLES and SOAK_EVERY must be numbers" >&2; exit 2 ;; esac
[ "$every" -gt 0 ] && [ "$cycles" -ge $((2 * every)) ] ||
	{ echo "soak.sh: SOAK_CYCLES ($cycles) must be at least twice SOAK_EVERY ($every) > 0" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "soak.sh: must run as root" >&2; exit 1; }
for tool in jq unshare ip /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "soak.sh: \`$tool' is not installed" >&2; exit 1; }
done

# a mount and a network namespace of the script's own: the mounts and links it counts are its
if [ -z "${SOAK_IN_NS:-}" ]; then
	if [ -n "$doc" ]; then set -- --doc "$doc"; else set -- --no-doc; fi
	SOAK_IN_NS=1 exec unshare --mount --propagation private --net "$0" "$@"
fi
ip link set lo up

# shellcheck source=../bench/bench-lib.sh
. "$srcdir/tests/bench/bench-lib.sh" # bench_write_doc, bench_remove_cgroups
# shellcheck source=../integration/helpers.bash
. "$srcdir/tests/integration/helpers.bash" # nook_cgroup_bases, nook_kill_cgroup
work=$(mktemp -d /tmp/nook-soak.XXXXXX)
chmod 0755 "$work"
tag=$(basename "$work")
nk=("$NOOK" --root "$work/run" --storage "$work/storage")
oci=("$NOOK" oci --root "$work/oci")

cleanup() {
	local d
	"${nk[@]}" rm -f soak-long >/dev/null 2>&1 || true
	"${oci[@]}" delete -f soak-oci >/dev/null 2>&1 || true
	for d in "$work"/storage/containers/*/; do
		[ -d "$d" ] && "${nk[@]}" rm -f "$(basename "$d")" >/dev/null 2>&1
	done
	# when nook itself could not run (the run failed on it): its supervisors by their arguments
	pkill -KILL -f -- "--storage $work/storage" 2>/dev/null || true
	grep -o "$work[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	bench_remove_cgroups
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

"$srcdir/tests/helpers/make-busybox-rootfs.sh" "$work/bundle/rootfs"
(cd "$work/bundle" && "$NOOK" oci spec)
jq --arg cg "$tag/soak-oci" '.process.terminal = false | .process.args = ["true"]
	| .linux.cgroupsPath = $cg' "$work/bundle/config.json" >"$work/config.json"
mv "$work/config.json" "$work/bundle/config.json"

"${nk[@]}" run --rm --net none --cgroup-parent "$tag" busybox true # imports the embedded image
"${nk[@]}" run -d --net none --cgroup-parent "$tag" --name soak-long busybox sleep 1000000 >/dev/null
long=$("${nk[@]}" inspect soak-long | jq -r '.[0].Id // .[0].id')
sup=$(jq -r .supervisorPid "$work/storage/containers/$long/status.json")
kill -0 "$sup"

# sample CYCLE RSS_RUN RSS_OCI: one row of the table, its numbers also in $work/samples.
sample() {
	local fds mounts cgroups=0 links root files pss rss base
	fds=$(find "/proc/$sup/fd" -mindepth 1 | wc -l)
	mounts=$(wc -l </proc/self/mountinfo)
	while read -r base; do
		[ -d "$base/$tag" ] && cgroups=$((cgroups + $(find "$base/$tag" -mindepth 1 -type d | wc -l)))
	done < <(nook_cgroup_bases)
	links=$(ip -o link | wc -l)
	root=$(find "$work/run" "$work/oci" -mindepth 1 2>/dev/null | wc -l)
	files=$(find "$work/storage/containers" -mindepth 1 | wc -l)
	pss=$(awk '/^Pss:/ { print $2 }' "/proc/$sup/smaps_rollup")
	rss=$(awk '/^Rss:/ { print $2 }' "/proc/$sup/smaps_rollup")
	echo "$1 $fds $mounts $cgroups $links $root $files $pss $rss $2 $3" | tee -a "$work/samples" >&2
}

# timed OUT CMD...: CMD with its max RSS (KiB) in OUT; its output only when it fails.
timed() {
	local out=$1
	shift
	/usr/bin/time -f %M -o "$out" "$@" >"$work/cmd.log" 2>&1 </dev/null ||
		{ echo "soak.sh: $* failed:" >&2; cat "$work/cmd.log" >&2; return 1; }
}

echo "soak.sh: $cycles cycles, a sample every $every" >&2
echo "cycle fds mounts cgroups links root files pss rss rss_run rss_oci" >&2
max_run=0 max_oci=0
for i in $(seq "$cycles"); do
	timed "$work/t.run" "${nk[@]}" run --rm --net none --cgroup-parent "$tag" busybox true
	timed "$work/t.oci" "${oci[@]}" run --keep --bundle "$work/bundle" soak-oci
	"${oci[@]}" delete soak-oci
	"${nk[@]}" exec soak-long true
	r=$(tail -n1 "$work/t.run") o=$(tail -n1 "$work/t.oci")
	[ "$r" -gt "$max_run" ] && max_run=$r
	[ "$o" -gt "$max_oci" ] && max_oci=$o
	if [ $((i % every)) = 0 ]; then
		sample "$i" "$max_run" "$max_oci"
		max_run=0 max_oci=0
	fi
done
kill -0 "$sup"

# The first sample is taken after SOAK_EVERY cycles (every lazy allocation made once), the
# last after the last cycle; nook's own max RSS is the largest over the cycles of each sample.
names=(cycle "supervisor fds" mounts cgroups links "files in --root" "files in containers/"
	"supervisor Pss (KiB)" "supervisor Rss (KiB)" "nook run max RSS (KiB)" "nook oci run max RSS (KiB)")
read -r -a first <"$work/samples"
read -r -a last < <(tail -n1 "$work/samples")
failed=()
for k in $(seq 1 10); do
	if [ "$k" -le 6 ]; then
		[ "${last[$k]}" -le "${first[$k]}" ] || failed+=("${names[$k]}: ${first[$k]} -> ${last[$k]}")
	else
		[ $((last[k] * 10)) -le $((first[k] * 11)) ] || failed+=("${names[$k]}: ${first[$k]} -> ${last[$k]} (> +10%)")
	fi
done

table=$work/table.md
{
	echo "<!-- soak:begin (written by tests/soak/soak.sh; do not edit by hand) -->"
	echo
	echo "## Soak"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on Linux $(uname -r), $(nproc) cores, with"
	echo "\`SOAK_CYCLES=$cycles make check-soak\`: each cycle is a \`nook run --rm --net none busybox true\`,"
	echo "a \`nook oci run\` + \`nook oci delete\` of a busybox bundle and a \`nook exec\` into a long-lived"
	echo "\`nook run -d\` container, whose supervisor the fds and memory columns are of.  The check fails"
	echo "when a count grows at all or memory by more than 10% between the first and the last row."
	echo "The Pss of one supervisor alone is higher than in the run-100 table, where 100 of them"
	echo "share the binary's pages."
	echo
	echo "| $(IFS='|'; echo "${names[*]}" | sed 's/|/ | /g') |"
	echo "|$(printf ' ---: |%.0s' "${names[@]}")"
	sed 's/ / | /g; s/^/| /; s/$/ |/' "$work/samples"
	echo
	if [ ${#failed[@]} = 0 ]; then
		echo "Nothing grew."
	else
		printf 'Grew: %s.\n' "$(IFS=';'; echo "${failed[*]}" | sed 's/;/; /g')"
	fi
	echo
	echo "<!-- soak:end -->"
} >"$table"
bench_write_doc soak "$table"
if [ ${#failed[@]} != 0 ]; then
	printf 'soak.sh: grew: %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "soak.sh: nothing grew over $cycles cycles" >&2
