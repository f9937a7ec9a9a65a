#!/bin/bash
# run-network.sh [--runs N] [--warmup N] [--doc FILE | --no-doc]: what a container's network
# costs in `nook run`: hyperfine times `nook run --rm busybox true` with --net none, the default
# network, and one published port, and bench-run-network times setup and teardown alone; the
# tables go into docs/benchmarks.md between the run-network markers.
#
# Everything runs in a network namespace made here and bound on a file in the work dir (it
# plays the host for the bridge, the nft table and ip_forward), so the machine's network is
# never touched; the work dir is removed at the end.  Run as root after `make bench`.
# BEFORE=DIR compares with the build tree DIR of another version (its nook and
# tests/bench/bench-run-network), in a namespace and state of its own; BEFORE_REV names it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
NOOK=${NOOK:-$builddir/nook}
runs=30
warmup=3
doc=$srcdir/docs/benchmarks.md

# shellcheck source=bench-lib.sh
. "$here/bench-lib.sh"
bench_args "$@"
bench_setup nsenter
[ -x "$builddir/tests/bench/bench-run-network" ] || {
	echo "run-network.sh: run \`make bench' first" >&2
	exit 1
}

before=${BEFORE:-}
if [ -n "$before" ] && ! { [ -x "$before/nook" ] && [ -x "$before/tests/bench/bench-run-network" ]; }; then
	echo "run-network.sh: BEFORE=$before: no nook and tests/bench/bench-run-network there" >&2
	exit 1
fi

ns=$work/netns
nk=("$NOOK" --root "$work/nook/run" --storage "$work/nook/storage")
nk_before=("$before/nook" --root "$work/before/run" --storage "$work/before/storage")

cleanup() {
	local d
	for d in "$work"/nook/storage/containers/*/; do
		[ -d "$d" ] && nsenter --net="$ns" "${nk[@]}" rm -f "$(basename "$d")" >/dev/null 2>&1
	done
	for d in "$work"/before/storage/containers/*/; do
		[ -d "$d" ] && nsenter --net="$ns.before" "${nk_before[@]}" rm -f "$(basename "$d")" >/dev/null 2>&1
	done
	umount "$ns" "$ns.before" 2>/dev/null || true
	grep -o "$work[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	bench_remove_cgroups
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

for n in "$ns" ${before:+"$ns.before"}; do
	touch "$n"
	unshare --net="$n" true
	nsenter --net="$n" ip link set lo up
done
in_ns="nsenter --net=$ns"
run="${nk[*]} run --rm --cgroup-parent $tag"
# imports the embedded image; makes the default network's bridge and nft table
$in_ns $run busybox true

candidates=(
	"net none|$in_ns $run --net none busybox true"
	"default network|$in_ns $run busybox true"
	"default network, -p 18080:80|$in_ns $run -p 18080:80 busybox true"
)
if [ -n "$before" ]; then
	run_before="${nk_before[*]} run --rm --cgroup-parent $tag"
	nsenter --net="$ns.before" $run_before busybox true
	candidates+=(
		"before: default network|nsenter --net=$ns.before $run_before busybox true"
		"before: default network, -p 18080:80|nsenter --net=$ns.before $run_before -p 18080:80 busybox true"
	)
fi
args=()
for c in "${candidates[@]}"; do
	args+=(-n "${c%%|*}" "${c#*|}")
done
bench_hyperfine "$work/hyperfine.json" "${args[@]}"

# The same commands interleaved, one run of each in turn: on a shared machine the load drifts
# between hyperfine's rows, and here it falls on every row alike.
echo "run-network.sh: $runs rounds of the commands interleaved" >&2
for ((i = 0; i < runs; i++)); do
	for c in "${candidates[@]}"; do
		t0=$(date +%s%N)
		# shellcheck disable=SC2086 # the command's words, as hyperfine splits them
		${c#*|} >/dev/null 2>&1 || { echo "run-network.sh: failed: ${c#*|}" >&2; exit 1; }
		t1=$(date +%s%N)
		printf '%s\t%s\n' "${c%%|*}" "$(((t1 - t0) / 1000))"
	done
done >"$work/interleaved.tsv"

# setup and teardown alone, state on the work dir's file system and on tmpfs
fs=$(findmnt -n -o FSTYPE -T "$work")
echo "run-network.sh: bench-run-network 100 on $fs and on /dev/shm" >&2
"$builddir/tests/bench/bench-run-network" 100 "$work" >"$work/bench-disk.md"
"$builddir/tests/bench/bench-run-network" 100 /dev/shm >"$work/bench-shm.md"
if [ -n "$before" ]; then
	echo "run-network.sh: bench-run-network 100 of $before on /dev/shm" >&2
	"$before/tests/bench/bench-run-network" 100 /dev/shm >"$work/bench-shm-before.md"
fi

table=$work/table.md
{
	echo "<!-- run-network:begin (written by tests/bench/run-network.sh; do not edit by hand) -->"
	echo
	bench_measured ", load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "nook $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')."
	echo
	echo "Whole runs, \`nook run --rm busybox true\`:"
	echo
	bench_table "$work/hyperfine.json" "net none"
	echo
	echo "The same, $runs rounds of one run of each command in turn (wall time, with \`date\`):"
	echo
	echo "| what | median | min |"
	echo "| --- | ---: | ---: |"
	for c in "${candidates[@]}"; do
		awk -F'\t' -v n="${c%%|*}" '$1 == n { print $2 }' "$work/interleaved.tsv" | sort -n |
			awk -v n="${c%%|*}" '{ v[NR] = $1 } END {
				printf "| %s | %.2f ms | %.2f ms |\n", n, v[int((NR + 1) / 2)] / 1000, v[1] / 1000 }'
	done
	echo
	echo "Setup and teardown alone (\`tests/bench/bench-run-network 100 DIR\`), --root and"
	echo "--storage on $fs (\`$work\`):"
	echo
	tail -n +4 "$work/bench-disk.md"
	echo
	echo "... and on tmpfs (\`/dev/shm\`):"
	echo
	tail -n +4 "$work/bench-shm.md"
	echo
	if [ -n "$before" ]; then
		echo "Before: the same on tmpfs with the nook of BEFORE (${BEFORE_REV:-$before}):"
		echo
		tail -n +4 "$work/bench-shm-before.md"
		echo
	fi
	echo "Exact commands (\`\$WORK\` is the temp dir):"
	echo
	bench_commands
	echo
	echo "<!-- run-network:end -->"
} >"$table"
cat "$table"
bench_write_doc run-network "$table"
