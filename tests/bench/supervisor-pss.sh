#!/bin/bash
# supervisor-pss.sh [--count N] [--doc FILE | --no-doc]: the memory of one idle supervisor alone,
# then of N (10) side by side, each with a `sleep` container, from /proc/PID/smaps_rollup:
# nook's (`nook run -d`), the same loop
# in bench-supervisor (libc and yajl only; `make bench`), and podman's conmon when podman is
# installed; a markdown table into docs/benchmarks.md between the supervisor-pss markers.
#
# Pss (proportional set size) divides each shared page among the processes that map it, so the
# average Pss of N supervisors is what one more costs: its own pages plus 1/N of the binary's
# and the libraries'.  nook runs the image it embeds on the work dir's --root and --storage;
# conmon runs as run-image.sh runs podman: its own --root, --runroot and --tmpdir, cgroupfs,
# nothing of the machine's podman touched.  Both with --network none; their cgroups go below
# /$tag, removed at the end.  Run as root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
NOOK=${NOOK:-$builddir/nook}
BENCH_SUPERVISOR=$builddir/tests/bench/bench-supervisor
count=10
runs=0
warmup=0
doc=$srcdir/docs/benchmarks.md

args=()
while [ $# -gt 0 ]; do
	case $1 in
	--count) count=$2; shift 2 ;;
	*) args+=("$1"); shift ;;
	esac
done
# shellcheck source=bench-lib.sh
. "$here/bench-lib.sh"
bench_args "${args[@]+"${args[@]}"}"
[ -x "$BENCH_SUPERVISOR" ] || { echo "supervisor-pss.sh: run \`make bench' first" >&2; exit 1; }
have_podman=false
command -v podman >/dev/null && command -v conmon >/dev/null && have_podman=true
bench_setup

nk=("$NOOK" --root "$work/nook/run" --storage "$work/nook/storage")
pm=(podman --root "$work/podman/root" --runroot "$work/podman/run" --tmpdir "$work/podman/tmp"
	--storage-driver overlay --cgroup-manager cgroupfs --events-backend file --runtime runc)
pmrun=(run -d --cgroup-parent "/$tag" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
	--network none localhost/bench-busybox sleep 1000)
nkrun=(run -d --net none --cgroup-parent "$tag" busybox sleep 1000)
sup_pids=()
nook_ids=()

cleanup() {
	local i
	for id in "${nook_ids[@]+"${nook_ids[@]}"}"; do
		"${nk[@]}" rm -f "$id" >/dev/null 2>&1 || true
	done
	for i in $(seq 1 "$count"); do
		[ -f "$work/floor/$i/status.json" ] && kill -KILL "$(jq -r .pid "$work/floor/$i/status.json")" 2>/dev/null
	done
	for i in $(seq 1 50); do
		alive=0
		for p in "${sup_pids[@]+"${sup_pids[@]}"}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${sup_pids[@]+"${sup_pids[@]}"}"; do kill -KILL "$p" 2>/dev/null || true; done
	if $have_podman; then
		"${pm[@]}" rm -af -t 0 >/dev/null 2>&1 || true
		"${pm[@]}" system reset -f >/dev/null 2>&1 || true
	fi
	grep -o "$work[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	bench_remove_cgroups
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# wait_running STATUS_JSON: until the supervisor recorded a running container (at most 10 s).
wait_running() {
	local i
	for i in $(seq 1 100); do
		[ "$(jq -r .state "$1" 2>/dev/null)" = running ] && return 0
		[ "$(jq -r .state "$1" 2>/dev/null)" = failed ] && break
		sleep 0.1
	done
	echo "supervisor-pss.sh: no running container in $1: $(cat "$1" 2>/dev/null)" >&2
	exit 1
}

# row NAME PID...: one table row, the averages over the pids' smaps_rollup.
row() {
	local name=$1
	shift
	for p in "$@"; do cat "/proc/$p/smaps_rollup"; done | awk -v name="$name" -v n=$# '
		$1 == "Pss:" { pss += $2 } $1 == "Pss_Anon:" { anon += $2 }
		$1 == "Pss_File:" { file += $2 } $1 == "Rss:" { rss += $2 }
		END { printf "| %s | %d | %d kB | %d kB | %d kB | %d kB |\n", name, n, pss / n, anon / n, file / n, rss / n }'
}

# start FROM TO: containers FROM..TO of each supervisor.
nook_pids=() floor_pids=() conmon_pids=()
start() {
	local i id
	for i in $(seq "$1" "$2"); do
		id=$("${nk[@]}" "${nkrun[@]}")
		nook_ids+=("$id")
		wait_running "$work/nook/storage/containers/$id/status.json"
		nook_pids+=("$(jq -r .supervisorPid "$work/nook/storage/containers/$id/status.json")")
		sup_pids+=("${nook_pids[-1]}")
		mkdir -p "$work/floor/$i"
		setsid "$BENCH_SUPERVISOR" "$work/floor/$i" sleep 1000 </dev/null >/dev/null 2>&1 &
		wait_running "$work/floor/$i/status.json"
		floor_pids+=("$(jq -r .supervisorPid "$work/floor/$i/status.json")")
		sup_pids+=("${floor_pids[-1]}")
		if $have_podman; then
			id=$("${pm[@]}" "${pmrun[@]}")
			conmon_pids+=("$("${pm[@]}" inspect --format '{{.State.ConmonPid}}' "$id")")
		fi
	done
	# Let every supervisor settle into its idle loop: nook's drops the code its events ran
	# after 2 s of quiet (runtime/supervisor.c, TRIM_DELAY_MS).
	sleep 3
}

# rows: the table's rows for what runs now.
rows() {
	row "nook (\`nook run -d\`)" "${nook_pids[@]}"
	row "bench-supervisor (the same loop, libc and yajl only)" "${floor_pids[@]}"
	if $have_podman; then row "conmon (podman run -d)" "${conmon_pids[@]}"; fi
}

if $have_podman; then
	"$srcdir/tests/helpers/make-busybox-rootfs.sh" "$work/rootfs"
	tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
	"${pm[@]}" import "$work/rootfs.tar" localhost/bench-busybox >/dev/null
fi
echo "supervisor-pss.sh: one container for each supervisor, then $count" >&2
start 1 1
alone=$(rows)
[ "$count" -gt 1 ] && start 2 "$count"
together=$(rows)

table=$work/table.md
{
	echo "<!-- supervisor-pss:begin (written by tests/bench/supervisor-pss.sh; do not edit by hand) -->"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on Linux $(uname -r), $(nproc) cores: one idle"
	echo "container (\`sleep 1000\`) per supervisor alone, then $count of each, averages over the"
	echo "supervisors' smaps_rollup;"
	echo -n "nook $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')"
	echo " ($(ldd "$NOOK" | grep -c '=>') shared libraries)$($have_podman && echo ", $(podman --version), $(conmon --version | head -n1)")."
	echo
	echo "| supervisor | processes | Pss | of it anonymous | of it file-backed | Rss |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: |"
	echo "$alone"
	[ "$count" -gt 1 ] && echo "$together"
	echo
	echo "Exact commands, each run $count times (\`\$WORK\` is the temp dir, \`\$I\` the container's number):"
	echo
	echo '```sh'
	echo "# nook"
	echo "${nk[*]} ${nkrun[*]}"
	echo "# bench-supervisor"
	echo "setsid $BENCH_SUPERVISOR \$WORK/floor/\$I sleep 1000"
	$have_podman && printf '# conmon\n%s\n' "${pm[*]} ${pmrun[*]}"
	echo '```'
	echo
	echo "<!-- supervisor-pss:end -->"
} | sed "s|$work|\$WORK|g" >"$table"
cat "$table"
bench_write_doc supervisor-pss "$table"
