#!/usr/bin/env bats
# How nook is linked (docs/ARCHITECTURE.md, "Linking"): libarchive and libcurl are loaded with
# dlopen by the commands that need them, so a runtime process never maps them, and without them
# those commands fail with one line naming the library; the binary is PIE with full RELRO.

load helpers

NOOK=${NOOK_BUILDDIR:-$NOOK_SRCDIR}/nook

# soname DEFINE: the soname configure recorded in config.h for dlopen.
soname() {
	sed -n "s/^#define $1 \"\\(.*\\)\"\$/\\1/p" "$NOOK_BUILDDIR/config.h"
}

# lib_path SONAME: the file the dynamic linker finds for SONAME.
lib_path() {
	ldconfig -p | awk -v s="$1" '$1 == s { print $NF; exit }'
}

# without_file FILE CMD...: run CMD in a private mount namespace, without a network, where
# FILE is the (empty) null device.
without_file() {
	local file=$1
	shift
	timeout -k 5 "$NOOK_TEST_TIMEOUT" unshare -mn \
		sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' sh "$file" "$@" 3>&-
}

@test "nook links neither libarchive nor libcurl, and is PIE with full RELRO" {
	run readelf -d "$NOOK"
	assert_status 0
	assert_output_contains "Shared library: [libc.so.6]"
	[[ "$output" != *libarchive* && "$output" != *libcurl* ]] || {
		echo "$output" | grep NEEDED >&2
		false
	}
	assert_output_contains BIND_NOW
	[[ "$output" =~ FLAGS_1\).*PIE ]]
	run readelf -lW "$NOOK"
	assert_output_contains GNU_RELRO
}

@test "the nook process of a running container maps neither libarchive nor libcurl" {
	require_nook "the maps of nook's process"
	set_args sleep 100
	runtime_direct run --bundle "$BUNDLE" maps </dev/null >"$TEST_DIR/run.out" 2>&1 &
	local bg=$! init nook_pid
	wait_for_status maps running
	init=$(container_pid maps)
	nook_pid=$(awk '$1 == "PPid:" { print $2 }' "/proc/$init/status")
	run cat "/proc/$nook_pid/maps"
	assert_output_contains libc.so.6
	[[ "$output" != *libarchive* && "$output" != *libcurl* ]]
	runtime kill maps KILL
	wait "$bg" || true # `run` deletes the container once its process is gone
}

@test "without libarchive, an import fails with one line naming it; without libcurl, a pull" {
	local archive curl
	archive=$(lib_path "$(soname NOOK_LIBARCHIVE_SONAME)")
	curl=$(lib_path "$(soname NOOK_LIBCURL_SONAME)")
	[ -n "$archive" ] && [ -n "$curl" ] || skip "libarchive or libcurl not in the linker's cache"
	tar -C "$(nook_rootfs_cache)" -cf "$TEST_DIR/rootfs.tar" ./bin
	run --separate-stderr without_file "$archive" \
		"$NOOK" --storage "$TEST_DIR/storage" image import --name x:1 "$TEST_DIR/rootfs.tar"
	assert_failure
	assert_one_line_error "$archive"
	run --separate-stderr without_file "$curl" \
		"$NOOK" --storage "$TEST_DIR/storage" image pull --insecure 127.0.0.1:9/x:1
	assert_failure
	assert_one_line_error "pull \`127.0.0.1:9/x:1\`" "$curl"

	# and with them, the same import works
	run "$NOOK" --storage "$TEST_DIR/storage" image import --name x:1 "$TEST_DIR/rootfs.tar"
	assert_status 0
}
