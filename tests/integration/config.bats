#!/usr/bin/env bats
# config.json parsing: bad configs fail cleanly (exit 1, one line) and leave nothing behind.

load helpers

# nothing_left: a failed create left no state dir, no process and no cgroup.
nothing_left() {
	state_root_is_empty || {
		echo "state left in --root: $(ls -A "$ROOT")" >&2
		return 1
	}
	[ -z "$(marker_pids)" ] || {
		echo "processes left: $(marker_pids | tr '\n' ' ')" >&2
		return 1
	}
	[ -z "$(cgroup_dirs bundle)" ] || {
		echo "cgroups left: $(cgroup_dirs bundle | tr '\n' ' ')" >&2
		return 1
	}
}

@test "malformed JSON is refused with exit 1 and nothing is left" {
	echo '{"ociVersion": "1.0.2", "process": {' >"$BUNDLE/config.json"
	run --separate-stderr runtime create --bundle "$BUNDLE" bad
	assert_status 1
	[ -n "$stderr" ]
	nothing_left
}

@test "malformed JSON: one line" {
	require_nook "exact error line"
	echo '{"ociVersion": "1.0.2", "process": {' >"$BUNDLE/config.json"
	run --separate-stderr runtime create --bundle "$BUNDLE" bad
	assert_status 1
	assert_one_line_error config.json
}

@test "an empty config.json is refused" {
	: >"$BUNDLE/config.json"
	run --separate-stderr runtime create --bundle "$BUNDLE" empty
	assert_status 1
	nothing_left
}

@test "a missing config.json is refused" {
	rm "$BUNDLE/config.json"
	run --separate-stderr runtime create --bundle "$BUNDLE" none
	assert_status 1
	nothing_left
}

@test "process.args not an array: exit 1, one line mentioning process.args" {
	update_config '.process.args = "sh"'
	run --separate-stderr runtime create --bundle "$BUNDLE" badargs
	assert_status 1
	assert_one_line_error process.args
	nothing_left
}

@test "run with a bad config fails the same way" {
	update_config '.process.args = "sh"'
	run --separate-stderr runtime run --bundle "$BUNDLE" badrun
	assert_status 1
	assert_one_line_error process.args
	nothing_left
}

@test "process.user.uid of the wrong type is refused" {
	update_config '.process.user.uid = "0"'
	run --separate-stderr runtime create --bundle "$BUNDLE" baduid
	assert_status 1
	nothing_left
}

@test "process.user.uid of the wrong type: the message names process.user.uid" {
	require_nook "exact error line"
	update_config '.process.user.uid = "0"'
	run --separate-stderr runtime create --bundle "$BUNDLE" baduid
	assert_status 1
	assert_one_line_error process.user.uid
}

@test "empty process.args is refused" {
	update_config '.process.args = []'
	run --separate-stderr runtime create --bundle "$BUNDLE" noargs
	assert_status 1
	[ -n "$stderr" ]
	nothing_left
}

@test "a missing root is refused" {
	update_config 'del(.root)'
	run --separate-stderr runtime create --bundle "$BUNDLE" noroot
	assert_status 1
	[ -n "$stderr" ]
	nothing_left
}

@test "a missing root.path is refused" {
	update_config 'del(.root.path)'
	run --separate-stderr runtime create --bundle "$BUNDLE" nopath
	assert_status 1
	[ -n "$stderr" ]
	nothing_left
}

@test "a missing root.path: one line naming root.path" {
	require_nook "exact error line"
	update_config 'del(.root.path)'
	run --separate-stderr runtime create --bundle "$BUNDLE" nopath
	assert_status 1
	assert_one_line_error root.path
}

@test "a root.path that does not exist is refused" {
	update_config '.root.path = "no-such-rootfs"'
	run --separate-stderr runtime create --bundle "$BUNDLE" norootfs
	assert_status 1
	[[ "$stderr" == *no-such-rootfs* ]]
	nothing_left
}

@test "a process.args[0] that is not in the rootfs is refused" {
	set_args /no/such/binary
	run --separate-stderr runtime run --bundle "$BUNDLE" nobin
	assert_failure
	[[ "$stderr" == */no/such/binary* ]]
	nothing_left
}

@test "unknown properties are ignored" {
	update_config '.x_nook_test = {"a": [1, 2]} | .process.x_unknown = true
		| .linux.x_unknown = "yes" | .process.args = ["echo", "still-fine"]'
	run run_container unknown
	assert_status 0
	assert_output still-fine
}

@test "a relative --bundle path works" {
	set_args echo relative
	cd "$TEST_DIR"
	run runtime run --bundle bundle rel </dev/null
	assert_status 0
	assert_output relative
}

@test "the bundle defaults to the current directory" {
	set_args echo cwd-bundle
	cd "$BUNDLE"
	run runtime run cwd </dev/null
	assert_status 0
	assert_output cwd-bundle
}
