#!/usr/bin/env bats
# `spec`: the default config.json.

load helpers

setup() {
	nook_setup
	SPEC_DIR=$TEST_DIR/spec
	mkdir -p "$SPEC_DIR"
}

@test "spec writes a valid config.json for a root container" {
	cd "$SPEC_DIR"
	run runtime spec
	assert_status 0
	[ -f config.json ]
	run jq -e '
		(.ociVersion | type == "string" and startswith("1."))
		and (.process.args | type == "array" and length > 0)
		and (.process.cwd == "/")
		and (.process.user.uid == 0 and .process.user.gid == 0)
		and (.root.path == "rootfs")
		and (.linux.namespaces | type == "array")
		and ([.linux.namespaces[].type] as $t
			| all("pid", "mount", "ipc", "uts", "network"; . as $n | $t | index($n)))
		and ([.linux.namespaces[].type] | index("user") | not)
		and ([.mounts[].destination] | index("/proc") and index("/dev"))
		and (.linux.maskedPaths | index("/proc/kcore"))
		and (.linux.readonlyPaths | index("/proc/sys"))' config.json
	assert_status 0
}

@test "spec --bundle writes into the given directory" {
	run runtime spec --bundle "$SPEC_DIR"
	assert_status 0
	run jq -e '.root.path == "rootfs"' "$SPEC_DIR/config.json"
	assert_status 0
}

@test "spec --rootless has a user namespace, no network namespace and maps the caller" {
	cd "$SPEC_DIR"
	run runtime spec --rootless
	assert_status 0
	run jq -e --argjson uid "$(id -u)" --argjson gid "$(id -g)" '
		([.linux.namespaces[].type] as $t
			| ($t | index("user")) and ($t | index("network") | not)
			  and ($t | index("pid")) and ($t | index("mount")))
		and (.linux.uidMappings == [{"containerID": 0, "hostID": $uid, "size": 1}])
		and (.linux.gidMappings == [{"containerID": 0, "hostID": $gid, "size": 1}])' config.json
	assert_status 0
}

@test "spec refuses to overwrite an existing config.json" {
	cd "$SPEC_DIR"
	echo '{"mine": true}' >config.json
	run --separate-stderr runtime spec
	assert_failure
	[ -n "$stderr" ]
	run cat config.json
	assert_output '{"mine": true}'
}

@test "spec refuses to overwrite: one line naming config.json" {
	require_nook "exact error line"
	cd "$SPEC_DIR"
	echo '{}' >config.json
	run --separate-stderr runtime spec
	assert_status 1
	assert_one_line_error config.json
}

@test "a config from spec runs as written (args replaced)" {
	# The default config (readonly root, its namespaces and mounts) works with a busybox rootfs.
	cp -a "$BUNDLE/rootfs" "$SPEC_DIR/rootfs"
	(cd "$SPEC_DIR" && runtime spec)
	jq '.process.terminal = false | .process.args = ["echo", "spec-ok"]
		| .linux.cgroupsPath = $cg' --arg cg "$CG_PARENT/$TEST_TAG-spec" \
		"$SPEC_DIR/config.json" >"$SPEC_DIR/c.json"
	mv "$SPEC_DIR/c.json" "$SPEC_DIR/config.json"
	BUNDLE=$SPEC_DIR run run_container spec-default
	assert_status 0
	assert_output spec-ok
}
