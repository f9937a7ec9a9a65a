#!/usr/bin/env bats
# Fault injection: nook killed (SIGKILL, by itself) at each NOOK_FAULT_POINT of common/fault.h.
# The command fails; then the cleanup verbs (`nook oci delete -f`, `nook rm -f`, `nook image
# prune`) must leave no mount, cgroup, veth, nft rule, lease, process, half-written blob or
# state dir, and `nook system check` must pass.  Only a nook configured with
# --enable-fault-injection has the points (`nook version` says "+fault-injection"); every test
# is skipped otherwise.  The `nook run` tests run in a network namespace of the test's own, as
# in net-run.bats.

load helpers
load net-helpers
# shellcheck source=../helpers/registry.bash
. "$NOOK_SRCDIR/tests/helpers/registry.bash"

MAKE_LAYOUT=$NOOK_SRCDIR/tests/helpers/make-oci-layout.py

setup() {
	nook_setup
	require_nook "fault injection"
	"$NOOK_BUILDDIR/nook" version | grep -q '+fault-injection' ||
		skip "nook was built without --enable-fault-injection"
	net_ns_setup fault
	on_teardown 'fault_teardown'
}

fault_teardown() {
	registry_stop "${FAKE_PID:-}"
	net_teardown
}

# assert_nothing_left: no process, mount, state dir, cgroup, veth, nft rule, lease, netns file
# or store tmp/ entry of the test remains, and `nook system check` finds the store consistent.
assert_nothing_left() {
	local left base d
	left=$(nook_find_processes "$TEST_DIR" "$(container_env_marker)" | grep -v "^${FAKE_PID:-none} " || true)
	[ -z "$left" ] || { echo "processes left: $left" >&2; return 1; }
	left=$(nook_find_mounts "$SUITE_TAG/$TEST_TAG" | grep -vx "$NS" || true)
	[ -z "$left" ] || { echo "mounts left: $left" >&2; return 1; }
	state_root_is_empty || { echo "state left: $(ls -A "$ROOT")" >&2; return 1; }
	while read -r base; do
		for d in "$base/$CGP"/* "$base/$CG_PARENT/$TEST_TAG"-*; do
			[ -d "$d" ] && [ "$d" != "$base/$CGP" ] || continue
			echo "cgroup left: $d" >&2
			return 1
		done
	done < <(nook_cgroup_bases)
	left=$(inns ip -o link show type veth)
	[ -z "$left" ] || { echo "veths left: $left" >&2; return 1; }
	left=$(inns nft -a list table inet nook 2>/dev/null | grep "nook ctr=" || true)
	[ -z "$left" ] || { echo "nft rules left: $left" >&2; return 1; }
	if [ -d "$STORAGE/networks/nook" ]; then
		left=$(ncli network inspect nook | jq -c '.[0].containers')
		[ "$left" = "[]" ] || { echo "leases left: $left" >&2; return 1; }
	fi
	[ ! -e "$ROOT/@netns" ] || { echo "netns files left" >&2; return 1; }
	if [ -d "$STORAGE" ]; then
		left=$(ls -A "$STORAGE/tmp" 2>/dev/null || true)
		[ -z "$left" ] || { echo "store tmp/ left: $left" >&2; return 1; }
		run --separate-stderr ncli system check
		assert_status 0
		[ -z "$stderr" ]
	fi
}

# oci_fault POINT: `nook oci create` killed at POINT; `oci delete -f` removes all of it.
oci_fault() {
	local rc=0
	# not `run`: a killed create leaves the init holding its stdio until delete kills it
	env NOOK_FAULT="$1" timeout 20 "${RUNTIME_CMD[@]}" --root "$ROOT" create --bundle "$BUNDLE" c1 \
		>"$TEST_DIR/create.out" 2>&1 </dev/null 3>&- || rc=$?
	[ "$rc" -eq 137 ] || { echo "create: exit $rc: $(cat "$TEST_DIR/create.out")" >&2; return 1; }
	runtime delete -f c1
	assert_nothing_left
}

@test "oci create killed after the cgroup is made: delete -f cleans up" {
	oci_fault after-cgroup
}

@test "oci create killed after clone: delete -f cleans up" {
	oci_fault after-clone
}

@test "oci create killed after the init's mounts: delete -f cleans up" {
	oci_fault after-mounts
}

# run_fault POINT ARGS...: `nook run -d --name c1 ARGS busybox sleep 100` killed at POINT (in
# nook run or its supervisor); `rm -f c1` then `image prune` remove all of it, and a second run
# of the same container name works.
run_fault() {
	local point=$1
	shift
	nrun --rm --net none busybox true # the embedded busybox, imported before the fault
	run --separate-stderr inns env NOOK_FAULT="$point" "$NOOK_BUILDDIR/nook" --root "$ROOT" \
		--storage "$STORAGE" run --cgroup-parent "$CGP" -e "$(container_env_marker)" -d --name c1 "$@" \
		busybox sleep 100
	[ "$status" -ne 0 ]
	run --separate-stderr ncli rm -f c1
	[ "$status" -eq 0 ] || [[ "$stderr" == *"no container \`c1\`"* ]]
	run --separate-stderr ncli image prune
	assert_status 0
	assert_nothing_left
	run --separate-stderr nrun --rm --name c1 "$@" busybox true
	assert_status 0
	assert_nothing_left
}

@test "nook run killed after the rootfs mount: rm -f cleans up" {
	run_fault after-rootfs-mount
}

@test "nook run killed after the network setup: rm -f cleans up" {
	run_fault after-network-setup -p 18090:80
}

@test "nook run's supervisor killed after the cgroup is made: rm -f cleans up" {
	run_fault after-cgroup
}

@test "nook run's supervisor killed after clone: rm -f cleans up" {
	run_fault after-clone
}

@test "nook run's supervisor killed after the init's mounts: rm -f cleans up" {
	run_fault after-mounts
}

@test "supervisor killed before it records the exit: rm -f cleans up" {
	local i
	run --separate-stderr inns env NOOK_FAULT=supervisor-before-exit-record "$NOOK_BUILDDIR/nook" \
		--root "$ROOT" --storage "$STORAGE" run --cgroup-parent "$CGP" \
		-e "$(container_env_marker)" -d --name c1 busybox true
	assert_status 0
	id=$output
	# the container exits at once; its supervisor dies then, without a word in status.json
	for ((i = 0; i < 100; i++)); do
		[ -z "$(nook_find_processes "$TEST_DIR" "$(container_env_marker)")" ] && break
		sleep 0.05
	done
	[ -e "$STORAGE/containers/$id" ]
	run --separate-stderr ncli rm -f c1
	assert_status 0
	[ ! -e "$STORAGE/containers/$id" ]
	assert_nothing_left
}

@test "image import killed mid-unpack: prune removes the half-made layer" {
	# the first run imports the embedded busybox
	run --separate-stderr env NOOK_FAULT=mid-unpack "$NOOK_BUILDDIR/nook" --root "$ROOT" \
		--storage "$STORAGE" run --rm --net none busybox true
	[ "$status" -eq 137 ]
	run --separate-stderr ncli image prune
	assert_status 0
	assert_nothing_left
	run --separate-stderr nrun --rm busybox true
	assert_status 0
	assert_nothing_left
}

@test "image pull killed mid-blob: prune removes the partial blob; a second pull completes" {
	mkdir -p "$TEST_DIR/big"
	head -c 3000000 /dev/urandom >"$TEST_DIR/big/blob"
	python3 "$MAKE_LAYOUT" "$TEST_DIR/layout" --ref latest "$BUNDLE/rootfs" "$TEST_DIR/big" >/dev/null
	fake_registry_start "$TEST_DIR/layout" "$TEST_DIR/fake"
	run --separate-stderr env NOOK_FAULT=mid-pull timeout 30 "$NOOK_BUILDDIR/nook" --storage "$STORAGE" \
		image pull --tls-verify=false "$FAKE/test/f:latest"
	[ "$status" -eq 137 ]
	run --separate-stderr ncli image prune
	assert_status 0
	assert_nothing_left
	run --separate-stderr timeout 30 "$NOOK_BUILDDIR/nook" --storage "$STORAGE" \
		image pull --tls-verify=false "$FAKE/test/f:latest"
	assert_status 0
	assert_nothing_left
}
