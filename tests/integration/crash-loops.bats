#!/usr/bin/env bats
# kill -9 loops: the supervisor of `nook run -d`, a foreground `nook run` client and `nook image
# pull` killed at random moments, tens of times.  Afterwards every container is running,
# exited with its status recorded in status.json, or (its supervisor killed while it ran)
# running without a supervisor, or never started; `nook rm -f` removes every one of them
# without a trace, `nook system check` passes and a second pull completes.  Bounded: the loops
# take well under a minute together.  They run in the fault-injection lane of tests/run-all
# (they need no fault point, but are too slow for every lane).

load helpers
load run-helpers
# shellcheck source=../helpers/registry.bash
. "$NOOK_SRCDIR/tests/helpers/registry.bash"

MAKE_LAYOUT=$NOOK_SRCDIR/tests/helpers/make-oci-layout.py

setup() {
	nook_run_setup
	"$NOOK_BUILDDIR/nook" version | grep -q '+fault-injection' ||
		skip "the kill -9 loops run in the fault-injection lane (configure --enable-fault-injection)"
	on_teardown 'registry_stop "${FAKE_PID:-}"'
}

# rand_sleep MAX_MS: sleep a random time from 0 to MAX_MS ms.
rand_sleep() {
	sleep "$(printf '0.%03d' $((RANDOM % $1)))"
}

# supervisors: the pids of the supervisors of the test's store.
supervisors() {
	local p
	for p in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "--storage $STORAGE __supervise" &&
			echo "${p#/proc/}"
	done
	return 0
}

# alive PID START: whether process PID lives and started at START (field 22 of its stat).
alive() {
	[ "$1" -gt 0 ] && [ "$(cut -d' ' -f22 "/proc/$1/stat" 2>/dev/null)" = "$2" ]
}

# assert_containers_accounted: every container of the store is running (with or without its
# supervisor), exited with a recorded status, or never started; then rm -f removes them all.
assert_containers_accounted() {
	local d id st state spid sstart pid
	for d in "$STORAGE"/containers/*/; do
		[ -d "$d" ] || continue
		id=$(basename "$d")
		st=$d/status.json
		if [ ! -e "$st" ]; then
			# never started: no init may run
			[ ! -e "$ROOT/$id/state.json" ] || ! kill -0 "$(jq -r .pid "$ROOT/$id/state.json")" 2>/dev/null ||
				{ echo "$id: an init runs without status.json" >&2; return 1; }
			continue
		fi
		state=$(jq -r .state "$st")
		spid=$(jq -r .supervisorPid "$st")
		sstart=$(jq -r .supervisorStart "$st")
		pid=$(jq -r .pid "$st")
		alive "$spid" "$sstart" && continue
		case $state in
		exited) jq -e '.exitCode | type == "number"' "$st" >/dev/null ;;
		running)
			# its supervisor died while it ran: a long-lived one (named long*) still runs ("no
			# supervisor"); a short one may have exited since, with no one to record it
			kill -0 "$pid" 2>/dev/null || [[ "$(jq -r .name "$d/run.json")" != long* ]] || { echo "$id: running, but neither init nor supervisor" >&2; return 1; } ;;
		starting | restarting | failed) ;; # killed before the start: rm -f must clean it
		*) echo "$id: state $state" >&2; return 1 ;;
		esac
	done
	for d in "$STORAGE"/containers/*/; do
		[ -d "$d" ] || continue
		run --separate-stderr nook_cli rm -f "$(basename "$d")"
		assert_status 0
	done
	[ -z "$(ls -A "$STORAGE/containers")" ]
	state_root_is_empty
	[ -z "$(nook_find_processes "$TEST_DIR" "$(container_env_marker)" | grep -v "^${FAKE_PID:-none} ")" ]
	[ -z "$(nook_find_mounts "$SUITE_TAG/$TEST_TAG")" ]
	run --separate-stderr nook_cli system check
	assert_status 0
	[ -z "$stderr" ]
}

@test "kill -9 of the supervisor of nook run -d at random moments" {
	local i p
	nrun --rm busybox true # the embedded image, once
	for ((i = 0; i < 20; i++)); do
		# long-lived and short-lived containers, the supervisor killed in spawn, create, run or exit
		if ((i % 2)); then name=long$i cmd=(sleep 30); else name=short$i cmd=(sh -c "sleep 0.0$((RANDOM % 10))"); fi
		nrun -d --name "$name" busybox "${cmd[@]}" >/dev/null 2>&1 </dev/null &
		rand_sleep 400
		for p in $(supervisors); do
			kill -9 "$p" 2>/dev/null || true
		done
		wait
	done
	sleep 0.2
	assert_containers_accounted
}

@test "kill -9 of a foreground nook run client at random moments" {
	local i pid
	nrun --rm busybox true
	for ((i = 0; i < 15; i++)); do
		"$NOOK_BUILDDIR/nook" --root "$ROOT" --storage "$STORAGE" run --net none --cgroup-parent "$CGP" \
			-e "$(container_env_marker)" --name "f$i" busybox sleep 30 >/dev/null 2>&1 </dev/null 3>&- &
		pid=$!
		rand_sleep 400
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true
	done
	assert_containers_accounted
}

@test "kill -9 of nook image pull at random moments; a second pull completes" {
	local i pid
	mkdir -p "$TEST_DIR/big"
	head -c 4000000 /dev/urandom >"$TEST_DIR/big/blob"
	python3 "$MAKE_LAYOUT" "$TEST_DIR/layout" --ref latest "$BUNDLE/rootfs" "$TEST_DIR/big" >/dev/null
	fake_registry_start "$TEST_DIR/layout" "$TEST_DIR/fake"
	for ((i = 0; i < 15; i++)); do
		"$NOOK_BUILDDIR/nook" --storage "$STORAGE" image pull --tls-verify=false "$FAKE/test/f:latest" \
			>/dev/null 2>&1 </dev/null 3>&- &
		pid=$!
		rand_sleep 300
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true
		# a pull that finished leaves an image: remove it, so the next pull starts again
		nook_cli image rm "$FAKE/test/f:latest" >/dev/null 2>&1 || true
	done
	# prune removes what the killed pulls left in tmp/ (system check reports it until then)
	run --separate-stderr nook_cli image prune
	assert_status 0
	run --separate-stderr nook_cli system check
	assert_status 0
	run --separate-stderr timeout 30 "$NOOK_BUILDDIR/nook" --storage "$STORAGE" \
		image pull --tls-verify=false "$FAKE/test/f:latest"
	assert_status 0
	run --separate-stderr nook_cli image prune
	assert_status 0
	[ -z "$(ls -A "$STORAGE/tmp" 2>/dev/null)" ]
	assert_containers_accounted
}
