#!/usr/bin/env bats
# Full disks: a store, a state root or a container's root filesystem on a small tmpfs.  A
# failure is one line naming ENOSPC and the path; nothing half-written gets a name; the store
# stays consistent (`nook system check`) and prune gives the space back; a container that
# fills its disk gets ENOSPC itself, and nook can still tell its state and delete it.

load helpers
load run-helpers
# shellcheck source=../helpers/registry.bash
. "$NOOK_SRCDIR/tests/helpers/registry.bash"

MAKE_LAYOUT=$NOOK_SRCDIR/tests/helpers/make-oci-layout.py

setup() {
	nook_setup
	SMALL=$TEST_DIR/small
	STORAGE=$SMALL/storage
	CGP=$CG_PARENT/$TEST_TAG-run
	on_teardown 'nook_run_teardown'
}

# small_fs [SIZE]: mount a tmpfs of SIZE (default 4m) on $SMALL, unmounted by the teardown.
small_fs() {
	mkdir -p "$SMALL"
	mount -t tmpfs -o "size=${1:-4m},mode=0755" nook-diskfull "$SMALL"
	on_teardown "umount -l '$SMALL'"
}

# fill DIR: fill the filesystem of DIR (a file DIR/fill) until it has no space left.
fill() {
	dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null || true
}

# make_layout NAME DIR...: an OCI layout $TEST_DIR/NAME of the layer dirs DIR... named
# example.org/NAME:1 (extra args go to make-oci-layout.py).
make_layout() {
	local name=$1
	shift
	python3 "$MAKE_LAYOUT" "$TEST_DIR/$name" --ref "example.org/$name:1" "$@" >/dev/null
}

# names: the names in the store's index.json, one a line.
names() {
	[ -e "$STORAGE/index.json" ] || return 0
	jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$STORAGE/index.json"
}

# assert_consistent: `nook system check` passes and tmp/ is empty.
assert_consistent() {
	run --separate-stderr nook_cli system check
	assert_status 0
	assert_output ""
	[ -z "$(ls -A "$STORAGE/tmp")" ]
}

@test "an import bigger than the store's disk: ENOSPC and the path, no name, prune gives the space back" {
	require_nook "nook image"
	small_fs 4m
	# Two layers: a small one that fits, then 6 MB that cannot be compressed.
	mkdir -p "$TEST_DIR/l1" "$TEST_DIR/l2"
	head -c 500000 /dev/urandom >"$TEST_DIR/l1/small"
	head -c 6000000 /dev/urandom >"$TEST_DIR/l2/big"
	make_layout big "$TEST_DIR/l1" "$TEST_DIR/l2"
	run --separate-stderr nook_cli image import "$TEST_DIR/big"
	assert_status 125
	assert_one_line_error "No space left on device" "$STORAGE/tmp/"
	[ -z "$(names)" ]
	assert_consistent
	# The blobs that were whole before the disk filled up are unreferenced: prune takes them.
	[ -n "$(ls -A "$STORAGE/blobs/sha256")" ]
	run nook_cli image prune
	assert_status 0
	[ -z "$(ls -A "$STORAGE/blobs/sha256")" ]
	[ -z "$(ls -A "$STORAGE/layers")" ]
	[ "$(df --output=used -k "$SMALL" | tail -n1)" -lt 100 ]
	# The same disk takes an image that fits.
	make_layout fits "$TEST_DIR/l1"
	run nook_cli image import "$TEST_DIR/fits"
	assert_status 0
	assert_consistent
}

@test "a pull that fills the disk: ENOSPC naming the partial download; the next pull resumes it, prune frees it" {
	require_nook "nook image"
	small_fs 16m
	mkdir -p "$TEST_DIR/l1" "$TEST_DIR/l2"
	head -c 3000000 /dev/urandom >"$TEST_DIR/l1/random"
	head -c 3000000 /dev/urandom >"$TEST_DIR/l2/random"
	python3 "$MAKE_LAYOUT" "$TEST_DIR/layout" --ref latest "$TEST_DIR/l1" "$TEST_DIR/l2" >/dev/null
	fake_registry_start "$TEST_DIR/layout" "$TEST_DIR/fake"
	on_teardown "registry_stop $FAKE_PID"
	# About 1 MB left: neither layer's blob can be whole.
	dd if=/dev/zero of="$SMALL/fill" bs=1M count=15 2>/dev/null
	run --separate-stderr nook_cli image pull --insecure "$FAKE/test/random:latest"
	assert_status 125
	assert_one_line_error "No space left on device" "$STORAGE/tmp/partial-"
	[ -z "$(names)" ]
	# Partial downloads with something in them; an empty one would be litter.
	[ -n "$(find "$STORAGE/tmp" -name 'partial-*' -size +0)" ]
	[ -z "$(find "$STORAGE/tmp" -empty)" ]
	run --separate-stderr nook_cli system check --format json
	assert_status 0
	[ "$(jq -r .consistent <<<"$output")" = true ]
	[ "$(jq -r .resumable <<<"$output")" -ge 1 ]
	# prune is how a full disk is freed: the partial download goes too.
	run nook_cli image prune
	assert_status 0
	[ -z "$(ls -A "$STORAGE/tmp")" ]
	# Failed again, then with room the next pull continues from where the partial stops.
	run nook_cli image pull --insecure "$FAKE/test/random:latest"
	assert_status 125
	rm "$SMALL/fill"
	: >"$TEST_DIR/fake/requests"
	run nook_cli image pull --insecure "$FAKE/test/random:latest"
	assert_status 0
	grep -q "^GET /v2/test/random/blobs/sha256:[0-9a-f]* range=bytes=[1-9][0-9]*-" "$TEST_DIR/fake/requests"
	assert_consistent
}

@test "a layer that unpacks bigger than the disk: ENOSPC naming the entry, nothing half-unpacked" {
	require_nook "nook image"
	small_fs 4m
	mkdir -p "$TEST_DIR/zeros"
	head -c 6000000 /dev/zero >"$TEST_DIR/zeros/zeros"
	make_layout zeros --gzip "$TEST_DIR/zeros"
	run --separate-stderr nook_cli image import "$TEST_DIR/zeros"
	assert_status 125
	assert_one_line_error "No space left on device" "layer entry \`zeros\`"
	[ -z "$(names)" ]
	[ -z "$(ls -A "$STORAGE/layers")" ]
	assert_consistent
	run nook_cli image prune
	assert_status 0
	[ -z "$(ls -A "$STORAGE/blobs/sha256")" ]
}

@test "a full disk when only index.json is written: the old index stays, nothing is left in tmp/" {
	require_nook "nook image"
	small_fs 4m
	mkdir -p "$TEST_DIR/l1"
	echo one >"$TEST_DIR/l1/one"
	make_layout one "$TEST_DIR/l1"
	nook_cli image import "$TEST_DIR/one" >/dev/null
	fill "$SMALL"
	# Every blob and layer is there already: the new name is the only write.
	run --separate-stderr nook_cli image import --name example.org/two:1 "$TEST_DIR/one"
	assert_status 125
	assert_one_line_error "No space left on device" "$STORAGE/index.json"
	[ "$(names)" = example.org/one:1 ]
	assert_consistent
	rm "$SMALL/fill"
	run nook_cli image import --name example.org/two:1 "$TEST_DIR/one"
	assert_status 0
	[ "$(names | sort | tr '\n' ' ')" = "example.org/one:1 example.org/two:1 " ]
}

@test "a container that fills its root filesystem gets ENOSPC; state and delete still work" {
	small_fs 8m
	cp -a "$BUNDLE/rootfs" "$SMALL/rootfs"
	update_config '.root.path = $r' --arg r "$SMALL/rootfs"
	set_args sh -c 'dd if=/dev/zero of=/fill bs=64k; echo "dd: $?"'
	create_container full
	runtime start full
	wait_for_status full stopped 30
	run cat "$TEST_DIR/$(stdio_name full).out" "$TEST_DIR/$(stdio_name full).err"
	assert_output_contains "No space left on device"
	assert_output_contains "dd: 1"
	run runtime state full
	assert_status 0
	[ "$(jq -r .status <<<"$output")" = stopped ]
	run runtime delete full
	assert_status 0
	state_root_is_empty
	[ -z "$(cgroup_dirs bundle)" ]
}

@test "a state root on a full disk: create fails with ENOSPC, nothing is left" {
	require_nook "exact messages"
	small_fs 1m
	ROOT=$SMALL/root
	mkdir -p "$ROOT"
	fill "$SMALL"
	run --separate-stderr runtime create --bundle "$BUNDLE" full </dev/null
	assert_failure
	assert_one_line_error "No space left on device" "$ROOT/full/"
	state_root_is_empty
	[ -z "$(cgroup_dirs bundle)" ]
	rm "$SMALL/fill"
	create_container full
	[ "$(container_status full)" = created ]
	runtime delete --force full
	state_root_is_empty
}

@test "nook run on a full store: ENOSPC naming the file, no container directory, no mount" {
	require_nook "nook run"
	small_fs 8m
	run nrun --rm busybox true
	assert_status 0
	fill "$SMALL"
	run --separate-stderr nrun --rm busybox true
	assert_status 125
	assert_one_line_error "No space left on device" "$STORAGE/containers/"
	[ -z "$(ls -A "$STORAGE/containers")" ]
	[ -z "$(nook_find_mounts "$STORAGE")" ]
	state_root_is_empty
	assert_consistent
}

@test "nook run whose container fills the store: the process gets ENOSPC, --rm gives the space back" {
	require_nook "nook run"
	small_fs 16m
	run --separate-stderr nrun --rm busybox \
		sh -c 'dd if=/dev/zero of=/fill bs=64k 2>/dev/null; echo "dd: $?"'
	assert_status 0
	assert_output "dd: 1"
	[ -z "$(ls -A "$STORAGE/containers")" ]
	[ -z "$(nook_find_mounts "$STORAGE")" ]
	state_root_is_empty
	assert_consistent
	# Only the image is left on the disk.
	[ "$(df --output=used -k "$SMALL" | tail -n1)" -lt 8000 ]
}
