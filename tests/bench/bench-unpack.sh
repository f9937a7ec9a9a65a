#!/bin/bash
# bench-unpack.sh [--runs N] [--warmup N] [--doc FILE | --no-doc]: time nook's layer unpack
# (tests/bench/bench-unpack, image_unpack()) against GNU tar on a ~100 MB layer made from this
# machine's /usr/share (small files) and /usr/lib (large ones), as a plain tar, tar+gzip and
# tar+zstd, with hyperfine; write a markdown table of medians and of nook's speed relative to
# tar into docs/benchmarks.md between the bench-unpack-FS markers, so a rerun replaces it.
#
# Both extract into an empty directory on the same file system (the work dir, below /var/tmp
# unless TMPDIR says otherwise: TMPDIR=/dev/shm measures without the disk), which hyperfine's
# --prepare removes, recreates and syncs before each run.  As root both keep owners and modes
# (tar's default for root); neither fsyncs.  GNU tar runs gzip/zstd as a second process; nook
# decompresses in a second thread, and also computes the sha256 of the tar (the diff-id),
# which tar does not.  Build first: `make bench`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
BENCH=${BENCH:-$builddir/tests/bench/bench-unpack}
runs=10
warmup=2
doc=$srcdir/docs/benchmarks.md

# shellcheck source=bench-lib.sh
. "$here/bench-lib.sh"
bench_args "$@"

for tool in hyperfine jq tar gzip zstd; do
	command -v "$tool" >/dev/null || { echo "bench-unpack.sh: \`$tool' is not installed" >&2; exit 1; }
done
[ -x "$BENCH" ] || { echo "bench-unpack.sh: no $BENCH (run \`make bench')" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/nook-bench-unpack.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT

# The layer: files below 64 KiB from /usr/share until 50 MB, files above 1 MiB from /usr/lib
# until 50 MB, in name order (the same layer on the same machine each time).
pick() { # pick DIR SIZE BYTES: files of find's -size SIZE, in name order, until BYTES
	find "$1" -xdev -type f -size "$2" -readable -printf '%s %p\n' 2>/dev/null | LC_ALL=C sort -k2 |
		awk -v max="$3" '!done && t + $1 > max { done = 1 } !done { t += $1; sub(/^[0-9]+ /, ""); print }'
}
{
	pick /usr/share -64k 50000000
	pick /usr/lib +1M 50000000
} >"$work/files"
tar -C / --no-recursion -cf "$work/layer.tar" -T <(sed 's|^/||' "$work/files")
gzip -6 -c "$work/layer.tar" >"$work/layer.tar.gz"
zstd -q -3 -c "$work/layer.tar" >"$work/layer.tar.zst"
n_files=$(wc -l <"$work/files")
mb() { echo "$(($(stat -c %s "$1") / 1000000)) MB"; }
echo "bench-unpack.sh: $n_files files, tar $(mb "$work/layer.tar"), gzip $(mb "$work/layer.tar.gz"), zstd $(mb "$work/layer.tar.zst")" >&2

# Check once that nook unpacks what tar does: the same names, sizes and modes.
mkdir "$work/a" "$work/b"
tar -C "$work/a" -xf "$work/layer.tar.gz"
"$BENCH" "$work/layer.tar.gz" "$work/b" >/dev/null
if ! diff <(cd "$work/a" && find . -printf '%p %s %m %U %G\n' | sort) \
	<(cd "$work/b" && find . -printf '%p %s %m %U %G\n' | sort) >/dev/null; then
	echo "bench-unpack.sh: nook's tree differs from tar's" >&2
	exit 1
fi
rm -rf "$work/a" "$work/b"

out=$work/out
json=$work/hyperfine.json
args=()
for kind in tar tar.gz tar.zst; do
	case $kind in
	tar) flag=-xf ;;
	tar.gz) flag=-xzf ;;
	tar.zst) flag="--zstd -xf" ;;
	esac
	args+=(-n "tar $kind" "tar -C $out $flag $work/layer.$kind")
	args+=(-n "nook $kind" "$BENCH $work/layer.$kind $out")
done
echo "bench-unpack.sh: hyperfine, $runs runs and $warmup warmups each" >&2
hyperfine --style basic -N --warmup "$warmup" --runs "$runs" --prepare "sh -c 'rm -rf $out && mkdir $out && sync'" \
	--export-json "$json" "${args[@]}" >"$work/hyperfine.log" 2>&1 || {
	tail -n 20 "$work/hyperfine.log" >&2
	exit 1
}

# One section per file system (ext4 and tmpfs side by side), replaced by a rerun on the same.
fs=$(df -T "$work" | awk 'NR == 2 { print $2 }')
table=$work/table.md
{
	echo "<!-- bench-unpack-$fs:begin (written by tests/bench/bench-unpack.sh; do not edit by hand) -->"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on Linux $(uname -r), $(nproc) cores, the output on $fs;"
	echo "hyperfine $(hyperfine --version | awk '{ print $2 }'), $runs runs after $warmup warmups, medians;"
	echo "$(tar --version | head -n1), gzip $(gzip --version | awk 'NR == 1 { print $2 }'), zstd $(zstd --version | sed 's/.* v\([0-9.]*\).*/\1/'); nook $(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')."
	echo "The layer: $n_files files, $(mb "$work/layer.tar") as a tar, $(mb "$work/layer.tar.gz") gzip -6, $(mb "$work/layer.tar.zst") zstd -3."
	echo
	echo "| layer | GNU tar median (mean ± σ) | nook median (mean ± σ) | nook's speed / tar's |"
	echo "| --- | ---: | ---: | ---: |"
	jq -r '[.results[] | { key: .command, value: . }] | from_entries as $r |
		def ms: (. * 1000 | round | tostring) + " ms";
		def cell: "\(.median | ms) (\(.mean | ms) ± \(.stddev // 0 | ms))";
		["tar", "tar.gz", "tar.zst"][] as $k |
		"| \($k) | \($r["tar " + $k] | cell) | \($r["nook " + $k] | cell) | " +
		(($r["tar " + $k].median / $r["nook " + $k].median * 100 | round / 100 | tostring) + "×") + " |"' "$json"
	echo
	echo "Exact commands (hyperfine -N, each after \`--prepare 'rm -rf \$WORK/out && mkdir \$WORK/out && sync'\`):"
	echo
	echo '```sh'
	for ((i = 0; i < ${#args[@]}; i += 3)); do
		printf '# %s\n%s\n' "${args[i + 1]}" "${args[i + 2]}"
	done | sed "s|$work|\$WORK|g; s|$builddir/||g"
	echo '```'
	echo
	echo "<!-- bench-unpack-$fs:end -->"
} >"$table"

cat "$table"

bench_write_doc "bench-unpack-$fs" "$table"
