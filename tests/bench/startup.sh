#!/bin/bash
# startup.sh [--runs N] [--warmup N] [--doc FILE | --no-doc]: what a freshly exec'd nook costs
# before it does any work: the shared objects it maps, the memory of an idle fresh process
# (Pss), and the time of `nook oci --version`; writes a table into docs/benchmarks.md between
# the startup markers.  NOOKS='LABEL=PATH ...' compares binaries (default: this build's nook).
#
# The idle process is `nook oci update --resources - ID` with stdin a fifo that nobody writes:
# nook has been exec'd and linked, has parsed its arguments and blocks in read(0) before it
# looks at ID.  The numbers come from its /proc/PID/smaps_rollup: Pss (its share of every page
# it maps), Pss_Anon (private pages: relocated data, .bss, heap, stack) and Pss_File (text and
# read-only data, shared with every process mapping the same file).  Measured for one process
# alone, where nook's own text counts in full, and per process with 10 of them at once, as with
# a per-container supervisor each, where it is shared.  Run as root (or not: nothing is made).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
NOOKS=${NOOKS:-"nook=$builddir/nook"}
runs=300
warmup=30
doc=$srcdir/docs/benchmarks.md

# shellcheck source=bench-lib.sh
. "$here/bench-lib.sh"
bench_args "$@"
command -v hyperfine >/dev/null || { echo "startup.sh: hyperfine is not installed" >&2; exit 1; }
command -v jq >/dev/null || { echo "startup.sh: jq is not installed" >&2; exit 1; }

work=$(mktemp -d /tmp/nook-bench-startup.XXXXXX)

# idle NOOK N: start N idle nook processes (pids in $pids), wait until each blocks in read(0).
idle() {
	local nook=$1 n=$2 i p
	mkfifo "$work/fifo"
	exec 9<>"$work/fifo" # a writer that never writes: the reads block
	pids=()
	for ((i = 0; i < n; i++)); do
		"$nook" oci update --resources - startup-bench <"$work/fifo" >/dev/null 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		for ((i = 0; i < 500; i++)); do
			# syscall 0 (read) on fd 0x0
			[ "$(cut -d' ' -f1,2 "/proc/$p/syscall" 2>/dev/null)" = "0 0x0" ] && break
			sleep 0.01
		done
	done
}

# stop_idle: end the idle processes.
stop_idle() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	pids=()
	exec 9>&-
	rm -f "$work/fifo"
}
pids=()
trap 'stop_idle; rm -rf "$work"' EXIT

# pss FIELD: the mean of FIELD (kB) in smaps_rollup over the idle processes.
pss() {
	local p sum=0
	for p in "${pids[@]}"; do
		sum=$((sum + $(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/smaps_rollup")))
	done
	echo $((sum / ${#pids[@]}))
}

table=$work/table.md
rows=$work/rows
: >"$rows"
for entry in $NOOKS; do
	label=${entry%%=*}
	nook=${entry#*=}
	[ -x "$nook" ] || { echo "startup.sh: $nook is not executable" >&2; exit 1; }
	libs=$(ldd "$nook" | wc -l)
	idle "$nook" 1
	alone="$(pss Pss) kB | $(pss Pss_Anon) kB | $(pss Pss_File) kB"
	stop_idle
	idle "$nook" 10
	ten="$(pss Pss) kB | $(pss Pss_Anon) kB"
	stop_idle
	hyperfine -N --style basic --warmup "$warmup" --runs "$runs" --export-json "$work/h.json" \
		"$nook oci --version" >"$work/hyperfine.log" 2>&1 || {
		tail -n 20 "$work/hyperfine.log" >&2
		exit 1
	}
	t=$(jq -r '.results[0] | (.median * 1000 * 100 | round / 100 | tostring) + " ms"' "$work/h.json")
	echo "| $label | $libs | $alone | $ten | $t |" >>"$rows"
done

{
	echo "<!-- startup:begin (written by tests/bench/startup.sh; do not edit by hand) -->"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on Linux $(uname -r), $(nproc) cores;"
	echo "hyperfine $(hyperfine --version | awk '{ print $2 }') (no shell), $runs runs after $warmup warmups, medians."
	echo
	echo "| nook | \`ldd\` lines | Pss alone | Pss_Anon alone | Pss_File alone | Pss each of 10 | Pss_Anon each of 10 | \`oci --version\` |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	cat "$rows"
	echo
	echo "Exact commands:"
	echo
	echo '```sh'
	echo 'ldd ./nook | wc -l'
	echo 'mkfifo fifo; exec 9<>fifo   # a writer that never writes'
	echo './nook oci update --resources - startup-bench <fifo &   # 1 or 10 of them'
	echo 'grep -E "^Pss(_Anon|_File)?:" /proc/$!/smaps_rollup   # once it blocks in read(0)'
	echo 'hyperfine -N --warmup 30 --runs 300 "./nook oci --version"'
	echo '```'
	echo
	echo "<!-- startup:end -->"
} >"$table"
cat "$table"
bench_write_doc startup "$table"
