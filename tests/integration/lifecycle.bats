#!/usr/bin/env bats
# create, start, state, kill, delete, run, list: the OCI lifecycle and its exit codes.

load helpers

@test "create -> created, start -> running, kill -> stopped, delete -> gone" {
	set_args sleep 1000
	run create_container life
	assert_status 0

	run container_state life
	assert_status 0
	run jq -e '.id == "life" and .status == "created" and (.pid | type == "number" and . > 0)
		and (.ociVersion | type == "string") and (.bundle == $b)' --arg b "$BUNDLE" <<<"$output"
	assert_status 0
	pid=$(container_pid life)
	kill -0 "$pid"
	# Not started yet: the user's process has not been exec'ed.
	! grep -qx 'sleep' "/proc/$pid/comm"

	run runtime start life
	assert_status 0
	wait_for_status life running
	[ "$(container_pid life)" = "$pid" ]
	run cat "/proc/$pid/comm"
	assert_output sleep

	run runtime kill life KILL
	assert_status 0
	wait_for_status life stopped
	run marker_pids
	assert_output ""

	run runtime delete life
	assert_status 0
	run container_state life
	assert_failure
	state_root_is_empty
	[ -z "$(cgroup_dirs bundle)" ]
}

@test "start of a container that is already running fails" {
	set_args sleep 1000
	create_container twice
	runtime start twice
	run runtime start twice
	assert_failure
	[ "$(container_status twice)" = running ]
}

@test "run propagates the exit code of the container process" {
	set_args sh -c 'exit 7'
	run run_container seven
	assert_status 7
	# A foreground run deletes the container when it exits.
	run container_state seven
	assert_failure
	state_root_is_empty
}

@test "run prints the container's output and exits 0" {
	set_args echo hello from nook
	run --separate-stderr run_container hello
	assert_status 0
	assert_output "hello from nook"
}

@test "run of a container killed by a signal exits 128+N" {
	set_args sleep 1000
	run_container sig >"$TEST_DIR/sig.out" 2>&1 &
	runpid=$!
	wait_for_status sig running
	runtime kill sig KILL
	status=0
	wait "$runpid" || status=$?
	[ "$status" -eq 137 ] || {
		echo "run exited $status, expected 137; output: $(head -c 500 "$TEST_DIR/sig.out")" >&2
		false
	}
}

@test "run of a container whose process kills itself with SIGTERM exits 143" {
	# Without a pid namespace the process is not an init and receives its own signal.
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	set_args sh -c 'kill -TERM $$; sleep 5'
	run run_container selfterm
	assert_status 143
}

@test "run --detach returns at once and leaves the container running" {
	set_args sleep 1000
	SECONDS=0
	run run_detached det
	assert_status 0
	[ "$SECONDS" -lt 10 ]
	[ "$(container_status det)" = running ]
	kill -0 "$(container_pid det)"
}

@test "--pid-file is written by create and run --detach" {
	set_args sleep 1000
	run create_container pf1 --pid-file "$TEST_DIR/pf1.pid"
	assert_status 0
	[ "$(cat "$TEST_DIR/pf1.pid")" = "$(container_pid pf1)" ]

	b2=$(new_bundle b2)
	BUNDLE=$b2 set_args sleep 1000
	BUNDLE=$b2 run run_detached pf2 --pid-file "$TEST_DIR/pf2.pid"
	assert_status 0
	[ "$(cat "$TEST_DIR/pf2.pid")" = "$(container_pid pf2)" ]
	kill -0 "$(cat "$TEST_DIR/pf2.pid")"
}

@test "list, list -q and list --format json" {
	run runtime list -q
	assert_status 0
	assert_output ""
	run runtime list --format json
	assert_status 0
	run jq -e 'length == 0' <<<"$output"
	assert_status 0

	set_args sleep 1000
	create_container one
	b2=$(new_bundle b2)
	BUNDLE=$b2 set_args sleep 1000
	BUNDLE=$b2 run_detached two

	run runtime list -q
	assert_status 0
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "one two " ]

	run runtime list
	assert_status 0
	[[ "${lines[0]}" == ID* ]]
	[[ "${lines[0]}" == *STATUS* ]]
	[ "${#lines[@]}" -eq 3 ]
	grep -E '^one +[0-9]+ +created ' <<<"$output"
	grep -E '^two +[0-9]+ +running ' <<<"$output"

	run runtime list --format json
	assert_status 0
	run jq -e --arg b1 "$BUNDLE" --arg b2 "$b2" '
		length == 2
		and (map(select(.id == "one"))[0] | .status == "created" and .bundle == $b1 and .pid > 0)
		and (map(select(.id == "two"))[0] | .status == "running" and .bundle == $b2 and .pid > 0)
		' <<<"$output"
	assert_status 0
}

@test "state of an unknown container fails" {
	run --separate-stderr runtime state no-such-container
	assert_failure
	assert_output ""
	[ -n "$stderr" ]
}

@test "state of an unknown container: exit 1 and one line naming the id" {
	require_nook "exact error line"
	run --separate-stderr runtime state no-such-container
	assert_status 1
	assert_one_line_error no-such-container
}

@test "delete of a running container fails without --force and works with it" {
	set_args sleep 1000
	run_detached busy
	pid=$(container_pid busy)
	run runtime delete busy
	assert_failure
	[ "$(container_status busy)" = running ]
	kill -0 "$pid"

	run runtime delete --force busy
	assert_status 0
	run container_state busy
	assert_failure
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	! kill -0 "$pid" 2>/dev/null
	state_root_is_empty
	[ -z "$(cgroup_dirs bundle)" ]
}

@test "delete of a created (never started) container" {
	set_args sleep 1000
	create_container fresh
	pid=$(container_pid fresh)
	run runtime delete fresh
	assert_status 0
	run container_state fresh
	assert_failure
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	! kill -0 "$pid" 2>/dev/null
	state_root_is_empty
}

@test "a duplicate container id is refused and the first container is untouched" {
	set_args sleep 1000
	run create_container dup
	assert_status 0
	pid=$(container_pid dup)
	run create_container dup
	assert_failure
	[ "$(container_status dup)" = created ]
	[ "$(container_pid dup)" = "$pid" ]
	run runtime list -q
	assert_output dup
}

@test "nook oci ARGS is nook-runc ARGS" {
	require_nook "the \`nook oci' spelling"
	[ -x "$NOOK_BUILDDIR/nook" ] || skip "no $NOOK_BUILDDIR/nook"
	set_args sleep 1000
	create_container spelled
	run timeout 30 "$NOOK_BUILDDIR/nook" oci --root "$ROOT" state spelled
	assert_status 0
	[ "$output" = "$(runtime state spelled)" ]
	run timeout 30 "$NOOK_BUILDDIR/nook" oci --root "$ROOT" list -q
	assert_output spelled
	run timeout 30 "$NOOK_BUILDDIR/nook" oci --root "$ROOT" delete --force spelled
	assert_status 0
	run container_state spelled
	assert_failure
}

@test "invalid container ids are refused" {
	long=$(printf 'x%.0s' $(seq 1000))
	for id in 'a/b' '..' '' "$long" '../escape'; do
		run create_container "$id"
		if [ "$status" -eq 0 ] || [ "$status" -ge 124 ]; then
			echo "id \`${id:0:40}' accepted (status $status)" >&2
			false
		fi
	done
	state_root_is_empty
	[ ! -e "$TEST_DIR/escape" ]
	[ ! -e "$ROOT/a" ]
	run marker_pids
	assert_output ""
}

@test "ids starting with . are refused: delete --force keeps nook's .seccomp-cache" {
	require_nook "nook's own files under --root"
	mkdir -p "$ROOT/.seccomp-cache"
	touch "$ROOT/.seccomp-cache/x.bpf"
	run runtime delete --force .seccomp-cache
	assert_failure
	[ -e "$ROOT/.seccomp-cache/x.bpf" ]
	run create_container .hidden
	assert_failure
	rm -rf "$ROOT/.seccomp-cache"
	state_root_is_empty
}

@test "invalid container ids: one line naming the id" {
	require_nook "exact error line"
	run --separate-stderr runtime create --bundle "$BUNDLE" 'a/b'
	assert_status 1
	assert_one_line_error 'a/b'
}

# A process that counts the SIGTERMs it gets in /sigs (pid 1 only gets signals it handles).
term_counter() {
	set_args sh -c 'trap "echo TERM >>/sigs" TERM; echo ready >/ready; while :; do sleep 1 & wait $!; done'
}

@test "kill accepts signal names and numbers (TERM, SIGTERM, 15, KILL)" {
	term_counter
	run_detached sigs
	wait_for_file "$BUNDLE/rootfs/ready"
	n=0
	for sig in TERM SIGTERM 15; do
		run runtime kill sigs "$sig"
		assert_status 0
		n=$((n + 1))
		for _ in $(seq 100); do
			[ "$(wc -l <"$BUNDLE/rootfs/sigs" 2>/dev/null)" = "$n" ] && break
			sleep 0.05
		done
		[ "$(wc -l <"$BUNDLE/rootfs/sigs")" = "$n" ]
	done
	[ "$(container_status sigs)" = running ]
	run runtime kill sigs KILL
	assert_status 0
	wait_for_status sigs stopped
}

@test "kill without a signal sends SIGTERM" {
	term_counter
	run_detached deft
	wait_for_file "$BUNDLE/rootfs/ready"
	run runtime kill deft
	assert_status 0
	wait_for_file "$BUNDLE/rootfs/sigs"
	[ "$(cat "$BUNDLE/rootfs/sigs")" = TERM ]
}

@test "kill with an unknown signal fails" {
	set_args sleep 1000
	run_detached badsig
	run runtime kill badsig SIGNOPE
	assert_failure
	[ "$(container_status badsig)" = running ]
}

@test "kill of a stopped container fails" {
	set_args sleep 1000
	run_detached gone
	runtime kill gone KILL
	wait_for_status gone stopped
	run runtime kill gone KILL
	assert_failure
}

@test "kill --all signals every process of the container" {
	# Without a pid namespace killing the init leaves its children running: only --all gets
	# them all.
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	set_args sh -c 'sleep 1000 & sleep 1000 & echo ready >/ready; wait'
	run_detached all
	wait_for_file "$BUNDLE/rootfs/ready"
	for _ in $(seq 100); do
		[ "$(marker_pids | wc -l)" -ge 3 ] && break
		sleep 0.05
	done
	[ "$(marker_pids | wc -l)" -eq 3 ]
	run runtime kill --all all KILL
	assert_status 0
	for _ in $(seq 100); do
		[ -z "$(marker_pids)" ] && break
		sleep 0.05
	done
	run marker_pids
	assert_output ""
	wait_for_status all stopped
}
