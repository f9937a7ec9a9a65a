#!/usr/bin/env bats
# File descriptors: nothing but stdio reaches the container, except what --preserve-fds passes.

load helpers

@test "fds: only 0 1 2 reach the container (ls's own dir fd is 3)" {
	# Extra fds in the caller must not leak through the runtime.
	exec 7>"$TEST_DIR/seven" 8<"$BUNDLE/config.json" 9</dev/null
	set_args ls /proc/self/fd
	run run_container nofds
	exec 7>&- 8<&- 9<&-
	assert_status 0
	[ "$(echo $output)" = "0 1 2 3" ]
}

@test "fds: nothing leaks into a created and started container either" {
	exec 7>"$TEST_DIR/seven"
	set_args sh -c 'ls /proc/self/fd >/tmp/fds'
	create_container nofds2
	exec 7>&-
	runtime start nofds2
	wait_for_file "$BUNDLE/rootfs/tmp/fds"
	wait_for_status nofds2 stopped
	[ "$(echo $(cat "$BUNDLE/rootfs/tmp/fds"))" = "0 1 2 3" ]
}

@test "fds: stdio of the container is the stdio of run" {
	set_args sh -c 'echo to-stdout; echo to-stderr >&2; cat'
	echo from-stdin >"$TEST_DIR/in"
	runtime run --bundle "$BUNDLE" stdio <"$TEST_DIR/in" >"$TEST_DIR/out" 2>"$TEST_DIR/err"
	[ "$(cat "$TEST_DIR/out")" = "to-stdout
from-stdin" ]
	grep -qx to-stderr "$TEST_DIR/err"
}

@test "fds: --preserve-fds 1 passes fd 3" {
	set_args sh -c 'echo via-fd3 >&3; ls /proc/self/fd'
	NOOK_PASS_FD3=1 run runtime run --preserve-fds 1 --bundle "$BUNDLE" keep3 \
		3>"$TEST_DIR/fd3.out" </dev/null
	assert_status 0
	# fd 4 is ls's own directory fd.
	[ "$(echo $output)" = "0 1 2 3 4" ]
	[ "$(cat "$TEST_DIR/fd3.out")" = via-fd3 ]
}

@test "fds: --preserve-fds 2 passes fds 3 and 4, not 5" {
	set_args sh -c 'echo three >&3; echo four >&4; ls /proc/self/fd'
	NOOK_PASS_FD3=1 run runtime run --preserve-fds 2 --bundle "$BUNDLE" keep34 \
		3>"$TEST_DIR/fd3.out" 4>"$TEST_DIR/fd4.out" 5>"$TEST_DIR/fd5.out" </dev/null
	assert_status 0
	[ "$(echo $output)" = "0 1 2 3 4 5" ]
	[ "$(cat "$TEST_DIR/fd3.out")" = three ]
	[ "$(cat "$TEST_DIR/fd4.out")" = four ]
}
