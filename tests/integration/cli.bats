#!/usr/bin/env bats
# The runtime's own command line: signal forwarding of a foreground run, --no-pivot, the log
# file in runc's JSON format, and recovery from a create that crashed.

load helpers

@test "a foreground run forwards SIGTERM to the container and exits with its code" {
	set_args sh -c 'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.1; done'
	term_foreground "$TEST_DIR/fwd.out" run --bundle "$BUNDLE" fwd
	[ "$status" -eq 42 ] && grep -q "got TERM" "$TEST_DIR/fwd.out" || {
		echo "run exited $status; output: $(cat "$TEST_DIR/fwd.out")" >&2
		false
	}
}

@test "--no-pivot runs the container in its rootfs" {
	set_args sh -c 'test -x /bin/busybox && test ! -e /etc/os-release && echo in-rootfs'
	run run_container nopivot --no-pivot
	assert_status 0
	assert_output in-rootfs
}

@test "domainname is set in the uts namespace" {
	require_nook # runc 1.1 does not set domainname
	update_config '.domainname = "example.test"'
	set_args cat /proc/sys/kernel/domainname
	run run_container dom
	assert_status 0
	assert_output example.test
}

@test "--log with --log-format json gets the error as one JSON object" {
	run "${RUNTIME_CMD[@]}" --root "$ROOT" --log "$TEST_DIR/log.json" --log-format json state nosuch
	assert_failure
	# runc's shape: {"level":"error","msg":...,"time":...}; nook's message also names the id.
	want='select(.level == "error" and (.time | length) > 0) | .msg | length > 0'
	is_nook && want='select(.level == "error" and (.time | length) > 0) | .msg | test("nosuch")'
	jq -e "$want" "$TEST_DIR/log.json" >/dev/null || {
		echo "log: $(cat "$TEST_DIR/log.json")" >&2
		false
	}
}

@test "a create that crashed before writing its state is removed by delete --force" {
	require_nook
	mkdir -p "$ROOT/crashed"
	run runtime_direct delete --force crashed
	assert_status 0
	[ ! -e "$ROOT/crashed" ]
}

@test "a create that crashed after its init died is stopped, and delete removes it" {
	require_nook
	mkdir -p "$ROOT/dead"
	# The init's pid is known but it is gone (pid_max is below 4194304).
	printf '{"id":"dead","pid":4194304,"pidStart":1,"bundle":"%s","createdDone":false}' \
		"$BUNDLE" >"$ROOT/dead/state.json"
	cp "$BUNDLE/config.json" "$ROOT/dead/config.json"
	run container_status dead
	assert_output stopped
	run runtime_direct delete dead
	assert_status 0
	[ ! -e "$ROOT/dead" ]
}
