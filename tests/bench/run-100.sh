#!/bin/bash
# run-100.sh [--count N] [--waves W] [--doc FILE | --no-doc]: W times (3), start N (100) detached
# containers at once with `nook run -d --net none busybox sleep 1000`, as many in parallel as
# there are, and time the whole wave (the issue's goal: <= 2 s on 2 cores); then the average
# Pss of their supervisors, then remove them all and time that too; the medians into
# docs/benchmarks.md (run-100 markers).
# Run as root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
NOOK=${NOOK:-$builddir/nook}
count=100
waves=3
runs=0
warmup=0
doc=$srcdir/docs/benchmarks.md

args=()
while [ $# -gt 0 ]; do
	case $1 in
	--count) count=$2; shift 2 ;;
	--waves) waves=$2; shift 2 ;;
	*) args+=("$1"); shift ;;
	esac
done
# shellcheck source=bench-lib.sh
. "$here/bench-lib.sh"
bench_args "${args[@]+"${args[@]}"}"
bench_setup

nk=("$NOOK" --root "$work/run" --storage "$work/storage")
cleanup() {
	local d
	for d in "$work"/storage/containers/*/; do
		[ -d "$d" ] && "${nk[@]}" rm -f "$(basename "$d")" >/dev/null 2>&1 || true
	done
	bench_remove_cgroups
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
# The image is imported once, before the clock starts.
"${nk[@]}" run --rm --net none --cgroup-parent "$tag" busybox true

# wave: one wave of $count starts, the Pss of their supervisors, and their removal; appends the
# start and removal times (s) to $work/starts and $work/removes, the average Pss to $work/pss.
wave() {
	local t0 t1 t2 t3 started left pss=0 id spid
	t0=$(now)
	seq 1 "$count" | xargs -P "$count" -I{} "${nk[@]}" run -d --net none --cgroup-parent "$tag" \
		--name "c{}" busybox sleep 1000 >"$work/ids" 2>"$work/errors" || true
	t1=$(now)
	started=$(grep -c . "$work/ids" || true)
	[ "$started" = "$count" ] || { echo "run-100.sh: only $started of $count started:" >&2; head "$work/errors" >&2; exit 1; }
	sleep 3 # the supervisors settle into their idle loops (runtime/supervisor.c, TRIM_DELAY_MS)
	while read -r id; do
		spid=$(jq -r .supervisorPid "$work/storage/containers/$id/status.json")
		pss=$((pss + $(awk '/^Pss:/ { print $2 }' "/proc/$spid/smaps_rollup")))
	done <"$work/ids"
	t2=$(now)
	xargs -P "$count" -n 1 "${nk[@]}" rm -f <"$work/ids" >/dev/null
	t3=$(now)
	left=$(find "$work/storage/containers" -mindepth 1 -maxdepth 1 | wc -l)
	[ "$left" = 0 ] || { echo "run-100.sh: $left containers left after rm -f" >&2; exit 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }' >>"$work/starts"
	awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.2f\n", b - a }' >>"$work/removes"
	echo $((pss / count)) >>"$work/pss"
}

# median FILE: the median of the numbers in FILE, one a line.
median() {
	sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for w in $(seq 1 "$waves"); do
	wave
	echo "run-100.sh: wave $w: $(tail -n1 "$work/starts") s to start, $(tail -n1 "$work/removes") s to remove" >&2
done

table=$work/table.md
{
	echo "<!-- run-100:begin (written by tests/bench/run-100.sh; do not edit by hand) -->"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on Linux $(uname -r), $(nproc) cores, load average"
	echo "$(cut -d' ' -f1 /proc/loadavg) at the end; nook $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')."
	echo
	echo "| what | median |"
	echo "| --- | ---: |"
	echo "| $count \`nook run -d\` at once, until the last one printed its id (goal <= 2 s) | $(median "$work/starts") s |"
	echo "| average Pss of their $count supervisors | $(median "$work/pss") kB |"
	echo "| $count \`nook rm -f\` at once | $(median "$work/removes") s |"
	echo
	echo "Medians of $waves waves; each wave's start times: $(paste -sd' ' "$work/starts") s."
	echo
	echo '```sh'
	echo "seq 1 $count | xargs -P $count -I{} ${nk[*]} run -d --net none --cgroup-parent $tag --name c{} busybox sleep 1000"
	echo "xargs -P $count -n 1 ${nk[*]} rm -f <ids"
	echo '```'
	echo
	echo "<!-- run-100:end -->"
} | sed "s|$work|\$WORK|g" >"$table"
cat "$table"
bench_write_doc run-100 "$table"
