#!/usr/bin/env bats
# Concurrency: many runtimes at once on one --root, many nooks at once on one --storage.  Every
# command must succeed (or fail as it should, once), and nothing may be lost or left: no state
# dir, cgroup or mount, no second copy of a blob or layer, nothing in the store's tmp/, and
# `nook system check` must find the store consistent.  The loops are bounded so that the file
# takes well under two minutes on two cores.

load helpers
load run-helpers
# shellcheck source=../helpers/registry.bash
. "$NOOK_SRCDIR/tests/helpers/registry.bash"

MAKE_LAYOUT=$NOOK_SRCDIR/tests/helpers/make-oci-layout.py
IMAGE=example.org/concurrency:1

# The runtime's tests run against any OCI runtime; those of `nook` need nook.
setup() {
	nook_setup
	STORAGE=$TEST_DIR/storage
	CGP=$CG_PARENT/$TEST_TAG-run
	on_teardown 'nook_run_teardown'
}

# parallel N CMD ARGS...: run CMD N times at once, `{}` in ARGS replaced by the run's number
# (1..N); run I leaves its exit code, stdout and stderr in $TEST_DIR/par/I.rc, .out, .err.
parallel() {
	local n=$1 i pids=()
	shift
	rm -rf "$TEST_DIR/par"
	mkdir -p "$TEST_DIR/par"
	for ((i = 1; i <= n; i++)); do
		(
			args=("${@//\{\}/$i}")
			rc=0
			"${args[@]}" >"$TEST_DIR/par/$i.out" 2>"$TEST_DIR/par/$i.err" </dev/null 3>&- || rc=$?
			echo "$rc" >"$TEST_DIR/par/$i.rc"
		) &
		pids+=("$!")
	done
	wait "${pids[@]}"
}

# par_count RC: how many runs of the last `parallel` exited with RC.
par_count() {
	grep -lx -- "$1" "$TEST_DIR"/par/*.rc 2>/dev/null | wc -l
}

# assert_par_ok N: all N runs of the last `parallel` succeeded (else show the failures).
assert_par_ok() {
	local n=$1 f
	if [ "$(par_count 0)" -ne "$n" ]; then
		for f in "$TEST_DIR"/par/*.rc; do
			[ "$(cat "$f")" = 0 ] && continue
			echo "run ${f##*/}: exit $(cat "$f"): $(cat "${f%.rc}.err")" >&2
		done
		return 1
	fi
}

# make_image: an OCI layout ($TEST_DIR/layout) and an oci-archive of it ($TEST_DIR/image.tar)
# of two gzip layers, the busybox rootfs and a small one, named $IMAGE.
make_image() {
	mkdir -p "$TEST_DIR/top/etc"
	echo concurrency >"$TEST_DIR/top/etc/motd"
	python3 "$MAKE_LAYOUT" "$TEST_DIR/layout" --ref "$IMAGE" --gzip "$BUNDLE/rootfs" "$TEST_DIR/top" \
		>/dev/null
	tar -C "$TEST_DIR/layout" -cf "$TEST_DIR/image.tar" .
}

# assert_store_clean BLOBS LAYERS: `nook system check` passes and prints nothing; the store
# holds exactly BLOBS blobs and LAYERS layers, nothing in tmp/.
assert_store_clean() {
	run --separate-stderr nook_cli system check
	assert_status 0
	assert_output ""
	[ -z "$stderr" ]
	run ls "$STORAGE/blobs/sha256"
	[ "${#lines[@]}" -eq "$1" ] || { echo "blobs: $output" >&2 && return 1; }
	run ls "$STORAGE/layers"
	[ "${#lines[@]}" -eq "$2" ] || { echo "layers: $output" >&2 && return 1; }
	run ls -A "$STORAGE/tmp"
	assert_output ""
}

# make_bundles N: bundles $TEST_DIR/b-1..N sharing $BUNDLE's rootfs, each with its own cgroup.
make_bundles() {
	local i
	for ((i = 1; i <= $1; i++)); do
		mkdir -p "$TEST_DIR/b-$i"
		jq --arg root "$BUNDLE/rootfs" --arg cg "$CG_PARENT/$TEST_TAG-b-$i" \
			'.root.path = $root | .linux.cgroupsPath = $cg' "$BUNDLE/config.json" \
			>"$TEST_DIR/b-$i/config.json"
	done
}

# lifecycle I: create, start, wait for the end and delete container c-I of bundle b-I.
lifecycle() {
	local id=c-$1 i
	runtime_direct create --bundle "$TEST_DIR/b-$1" "$id" || return 1
	runtime_direct start "$id" || return 1
	for ((i = 0; i < 600; i++)); do
		[ "$(runtime_direct state "$id" 2>/dev/null | jq -r .status)" = stopped ] && break
		sleep 0.05
	done
	runtime_direct delete "$id"
}

@test "50 parallel create, start and delete on one --root: all succeed, nothing is left" {
	local i base
	make_bundles 50
	parallel 50 lifecycle {}
	assert_par_ok 50
	state_root_is_empty
	for ((i = 1; i <= 50; i++)); do
		[ -z "$(cgroup_dirs "b-$i")" ] || { echo "cgroup of c-$i left" >&2 && return 1; }
	done
	[ -z "$(nook_find_mounts "$SUITE_TAG/$TEST_TAG")" ]
	[ -z "$(marker_pids)" ]
}

@test "20 parallel creates of one id: exactly one succeeds, the others fail with 'already exists'" {
	local f pid
	# runc 1.1 checks that the id is free and makes its state dir in two steps: several of
	# the racers win and their cgroups stay behind.
	is_nook || skip "runc lets concurrent creates of one id succeed more than once"
	parallel 20 runtime_direct create --bundle "$BUNDLE" same
	[ "$(par_count 0)" -eq 1 ]
	for f in "$TEST_DIR"/par/*.rc; do
		{ [ "$(cat "$f")" = 0 ] || ! is_nook; } && continue
		run cat "${f%.rc}.err"
		[ "${#lines[@]}" -eq 1 ] || { echo "$output" >&2 && return 1; }
		assert_output_contains "container \`same\` already exists"
	done
	# The winner is whole: created, its init in its cgroup, the only container.
	[ "$(container_status same)" = created ]
	pid=$(container_pid same)
	[ "$(runtime list -q)" = same ]
	[ "$(cat "$(cgroup_dirs bundle | head -n1)/cgroup.procs")" = "$pid" ]
	runtime start same
	wait_for_status same stopped
	runtime delete same
	state_root_is_empty
	[ -z "$(cgroup_dirs bundle)" ]
}

@test "10 parallel starts of one container: one starts it, the others are refused, it runs once" {
	local f
	set_args sh -c 'echo started >>/started'
	create_container once
	parallel 10 runtime_direct start once
	[ "$(par_count 0)" -eq 1 ]
	for f in "$TEST_DIR"/par/*.rc; do
		{ [ "$(cat "$f")" = 0 ] || ! is_nook; } && continue
		run cat "${f%.rc}.err"
		assert_output_contains "cannot start container \`once\`"
	done
	wait_for_status once stopped
	[ "$(cat "$BUNDLE/rootfs/started")" = started ]
	runtime delete once
	state_root_is_empty
}

@test "20 parallel imports of one archive: one copy of each blob and layer, the store consistent" {
	require_nook "nook VERB"
	local i
	make_image
	parallel 20 nook_cli image import "$TEST_DIR/image.tar"
	assert_par_ok 20
	for ((i = 1; i <= 20; i++)); do
		[ "$(cat "$TEST_DIR/par/$i.out")" = "$IMAGE" ]
	done
	# manifest, config, two layers
	assert_store_clean 4 2
	[ "$(jq '.manifests | length' "$STORAGE/index.json")" -eq 1 ]
	run nrun --rm "$IMAGE" cat /etc/motd
	assert_status 0
	assert_output concurrency
}

# import_prune_rm: imports racing with prunes and removals of the image's name.
import_prune_rm() {
	local i rc
	parallel 10 nook_cli image import "$TEST_DIR/image.tar" &
	for ((i = 0; i < 6; i++)); do
		nook_cli image prune >/dev/null || return 1
		rc=0
		nook_cli image rm "$IMAGE" >/dev/null 2>"$TEST_DIR/rm.err" || rc=$?
		# The name may not be there (yet, or any more): only that is an acceptable failure.
		[ "$rc" = 0 ] || grep -q "image \`$IMAGE\` not found" "$TEST_DIR/rm.err" ||
			{ cat "$TEST_DIR/rm.err" >&2 && return 1; }
	done
	wait
}

@test "10 parallel imports racing with prune and rm: every import succeeds, nothing is lost or left" {
	require_nook "nook VERB"
	make_image
	nook_cli image import "$TEST_DIR/image.tar" >/dev/null
	import_prune_rm
	assert_par_ok 10
	# Whatever the last word was (an import's name or an rm), the store is consistent ...
	run --separate-stderr nook_cli system check
	assert_status 0
	# ... and a prune after a last rm leaves it empty.
	nook_cli image rm "$IMAGE" >/dev/null 2>&1 || true
	nook_cli image prune >/dev/null
	assert_store_clean 0 0
	# An import afterwards is whole again.
	nook_cli image import "$TEST_DIR/image.tar" >/dev/null
	assert_store_clean 4 2
}

# imports_in_waves N: N rounds of 8 parallel imports into an empty store (the name removed
# and the store pruned between rounds, so that every round writes its blobs anew).
imports_in_waves() {
	local i
	for ((i = 0; i < $1; i++)); do
		parallel 8 nook_cli image import "$TEST_DIR/image.tar" || return 1
		assert_par_ok 8 || return 1
		nook_cli image rm "$IMAGE" >/dev/null || return 1
		nook_cli image prune >/dev/null || return 1
	done
}

@test "nook system check beside running imports: their work in progress is never a problem" {
	require_nook "nook VERB"
	local i n=0 rc
	make_image
	imports_in_waves 3 &
	local bg=$!
	# Checks until the imports are over (at least a few, at most 100).
	for ((i = 0; i < 100; i++)); do
		rc=0
		nook_cli system check >"$TEST_DIR/check.out" 2>&1 || rc=$?
		[ "$rc" = 0 ] && [ ! -s "$TEST_DIR/check.out" ] ||
			{ echo "check $i: exit $rc" >&2 && cat "$TEST_DIR/check.out" >&2 && return 1; }
		n=$((n + 1))
		kill -0 "$bg" 2>/dev/null || break
	done
	wait "$bg"
	[ "$n" -ge 2 ]
	nook_cli image prune >/dev/null
	assert_store_clean 0 0
}

@test "parallel pulls of one image from a slow registry: one download of each blob, the store consistent" {
	require_nook "nook VERB"
	local reg=$TEST_DIR/fake
	python3 "$MAKE_LAYOUT" "$TEST_DIR/layout" --ref latest --gzip "$BUNDLE/rootfs" >/dev/null
	fake_registry_start "$TEST_DIR/layout" "$reg"
	on_teardown "registry_stop $FAKE_PID"
	# Each blob takes about a second, so the pulls meet on every blob.
	echo '{"slow": true}' >"$reg/mode"
	parallel 8 nook_cli image pull --insecure "$FAKE/test/busybox:latest"
	assert_par_ok 8
	# manifest, config, the layer
	assert_store_clean 3 1
	# A pull that found another downloading a blob waited for it instead of fetching it too.
	for d in $(ls "$STORAGE/blobs/sha256"); do
		[ "$(grep -c "^GET /v2/test/busybox/blobs/sha256:$d " "$reg/requests")" -le 1 ] ||
			{ grep "blobs/sha256:$d" "$reg/requests" >&2 && return 1; }
	done
}

@test "10 parallel nook run --rm busybox true on one storage and root: all exit 0, nothing is left" {
	require_nook "nook VERB"
	parallel 10 nrun --rm busybox true
	assert_par_ok 10
	[ -z "$(ls -A "$STORAGE/containers")" ]
	state_root_is_empty
	[ -z "$(nook_find_mounts "$STORAGE")" ]
	# The embedded image, imported once by whichever run was first: one layer.
	run --separate-stderr nook_cli system check
	assert_status 0
	assert_output ""
	[ "$(ls "$STORAGE/layers" | wc -l)" -eq 1 ]
	[ -z "$(ls -A "$STORAGE/tmp")" ]
}

@test "8 parallel nook run --name of one name: one container gets it, the others fail, none is left half-made" {
	require_nook "nook VERB"
	local f
	nrun --rm busybox true
	parallel 8 nrun --name dup busybox true
	[ "$(par_count 0)" -eq 1 ]
	[ "$(par_count 125)" -eq 7 ]
	for f in "$TEST_DIR"/par/*.rc; do
		[ "$(cat "$f")" = 0 ] && continue
		run cat "${f%.rc}.err"
		assert_output_contains "the name \`dup\` is in use by container"
	done
	[ "$(ls "$STORAGE/containers" | wc -l)" -eq 1 ]
	[ "$(readlink "$STORAGE/names/dup")" = "$(ls "$STORAGE/containers")" ]
	run --separate-stderr nook_cli system check
	assert_status 0
	run nook_cli rm dup
	assert_status 0
	[ -z "$(ls -A "$STORAGE/containers")" ]
	state_root_is_empty
}
