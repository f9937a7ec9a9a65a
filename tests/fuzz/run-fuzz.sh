#!/bin/bash
# run-fuzz.sh [--build-only] [--seconds N] [--corpus DIR] [-- FUZZER-ARGS...]: builds the layer
# unpack fuzz target tests/fuzz/fuzz-unpack and runs it for N seconds (default 60) on seed
# layers written by tests/fuzz/make-seeds.py.
#
# With clang and its libFuzzer (clang -fsanitize=fuzzer works), the target is a libFuzzer binary
# with ASan and UBSan; new inputs go to the corpus dir (a temp dir unless --corpus), crashes to
# $NOOK_BUILDDIR/tests/fuzz/crash-*.  Otherwise it is built with $CC, ASan and UBSan around a
# standalone runner that mutates the seeds itself (crashes: crash-unpack-PID in the same dir).
# Run as root (owners, devices and trusted.* xattrs are part of what is fuzzed).
#
# `make fuzz` builds, `make check-fuzz` runs 60 s (FUZZ_SECONDS=N to change).  For a longer
# campaign keep a corpus: `tests/fuzz/run-fuzz.sh --seconds 3600 --corpus ~/unpack-corpus`,
# and replay a crash with `tests/fuzz/fuzz-unpack CRASH-FILE`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${NOOK_SRCDIR:-$(cd "$here/../.." && pwd)}
builddir=${NOOK_BUILDDIR:-$srcdir}
seconds=60
build_only=
corpus=
extra=()

while [ $# -gt 0 ]; do
	case $1 in
	--build-only) build_only=1; shift ;;
	--seconds) seconds=$2; shift 2 ;;
	--corpus) corpus=$2; shift 2 ;;
	--) shift; extra=("$@"); break ;;
	*) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done

out=$builddir/tests/fuzz
mkdir -p "$out"
target=$out/fuzz-unpack
# What the target compiles: itself, the unpack sources and the common code they use, all
# instrumented (libnook.a is not); flags from make, or pkg-config when run by hand.  libarchive
# is loaded with dlopen as in nook (images/dl-archive.c, the soname from config.h), so its
# headers are needed but it is not linked.
sources=(tests/fuzz/fuzz-unpack.c images/unpack.c images/unpack-stream.c images/blob.c common/error.c
	common/util.c images/dl.c images/dl-archive.c)
pkgs="zlib libzstd nettle"
cppflags=${FUZZ_CPPFLAGS:-"-I$srcdir -I$builddir -D_GNU_SOURCE $(pkg-config --cflags libarchive $pkgs)"}
libs=${FUZZ_LIBS:-"$(pkg-config --libs $pkgs)"}
clang=${CLANG:-clang}
flags="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"

if command -v "$clang" >/dev/null &&
	echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
	"$clang" -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then
	kind=libfuzzer
	cmd=("$clang" $flags -fsanitize=fuzzer -DNOOK_LIBFUZZER)
else
	kind=standalone
	cmd=(${CC:-cc} $flags)
fi
srcs=()
for s in "${sources[@]}"; do
	srcs+=("$srcdir/$s")
done
# shellcheck disable=SC2086 # flags are word lists
"${cmd[@]}" -std=gnu11 $cppflags "${srcs[@]}" $libs -lpthread -o "$target"
echo "run-fuzz.sh: built $target ($kind)" >&2
[ -z "$build_only" ] || exit 0

[ "$(id -u)" = 0 ] || echo "run-fuzz.sh: not root: owners and devices will fail early" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/nook-fuzz-run.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
python3 "$here/make-seeds.py" "$work/seeds"
if [ -z "$corpus" ]; then
	corpus=$work/corpus
fi
mkdir -p "$corpus"

cd "$out" # where crash files land
if [ "$kind" = libfuzzer ]; then
	"$target" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=262144 \
		-dict="$here/unpack.dict" -print_final_stats=1 "${extra[@]}" "$corpus" "$work/seeds"
else
	"$target" -t "$seconds" "${extra[@]}" "$work/seeds" "$corpus"
fi
