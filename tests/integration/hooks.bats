#!/usr/bin/env bats
# Hooks: every kind runs, in order, with the state on stdin, its args and env; failures and
# timeouts abort create and leave nothing behind.

load helpers

setup() {
	nook_setup
	HOOKS=$TEST_DIR/hooks
	mkdir -p "$HOOKS"
	chmod 0777 "$HOOKS"
	# startContainer runs inside the container: it sees $HOOKS as /hooks.
	update_config '.mounts += [{"destination": "/hooks", "type": "bind", "source": $h,
		"options": ["rbind", "rw"]}]' --arg h "$HOOKS"
}

# hook SCRIPT [TIMEOUT]: a hook object running `sh -c SCRIPT` with FOO=bar and the env marker.
hook() {
	jq -n --arg s "$1" --arg m "$(container_env_marker)" --argjson t "${2:-null}" \
		'{path: "/bin/sh", args: ["sh", "-c", $s, "hook-arg0"], env: ["FOO=bar", $m]}
		 + (if $t == null then {} else {timeout: $t} end)'
}

# recording_hooks: every hook kind saves its stdin to KIND.json and appends "KIND $FOO $0" to
# the order log.
recording_hooks() {
	local kind dir hooks='{}'
	for kind in prestart createRuntime createContainer startContainer poststart poststop; do
		dir=$HOOKS
		[ "$kind" = startContainer ] && dir=/hooks
		hooks=$(jq --arg k "$kind" --argjson h "$(hook "cat >$dir/$kind.json; echo \"$kind \$FOO \$0\" >>$dir/order")" \
			'.[$k] = [$h]' <<<"$hooks")
	done
	update_config '.hooks = $h' --argjson h "$hooks"
}

# line_of KIND: the line number of KIND in the order log.
line_of() {
	grep -n "^$1 " "$HOOKS/order" | cut -d: -f1
}

@test "hooks: every kind runs in order with its args, env and the state on stdin" {
	recording_hooks
	set_args true
	run run_container hooked
	assert_status 0

	for kind in prestart createRuntime createContainer startContainer poststart poststop; do
		[ -s "$HOOKS/$kind.json" ] || {
			echo "hook $kind did not run" >&2
			false
		}
		run jq -e --arg b "$BUNDLE" '.id == "hooked" and .bundle == $b
			and (.ociVersion | type == "string")' "$HOOKS/$kind.json"
		assert_status 0
	done
	grep -qx 'prestart bar hook-arg0' "$HOOKS/order"

	# pids: the container's init, seen from the runtime's namespace.
	pid=$(jq -r .pid "$HOOKS/createRuntime.json")
	[ "$pid" -gt 1 ]
	[ "$(jq -r .pid "$HOOKS/prestart.json")" = "$pid" ]
	[ "$(jq -r .pid "$HOOKS/poststart.json")" = "$pid" ]

	# Statuses.
	[ "$(jq -r .status "$HOOKS/createRuntime.json")" = creating ]
	[ "$(jq -r .status "$HOOKS/createContainer.json")" = creating ]
	[[ "$(jq -r .status "$HOOKS/poststart.json")" =~ ^(created|running)$ ]]
	[ "$(jq -r .status "$HOOKS/poststop.json")" = stopped ]

	# Order.
	[ "$(line_of createContainer)" -gt "$(line_of createRuntime)" ]
	[ "$(line_of createContainer)" -gt "$(line_of prestart)" ]
	[ "$(line_of startContainer)" -gt "$(line_of createContainer)" ]
	# runtime-spec: poststart runs after the user's process is exec'ed, startContainer before.
	# runc 1.1 runs them concurrently, so only nook is held to it.
	if is_nook; then
		[ "$(line_of poststart)" -gt "$(line_of startContainer)" ]
	fi
	[ "$(line_of poststop)" -eq 6 ]
}

@test "hooks: startContainer runs inside the container, createRuntime outside" {
	update_config '.hooks = {
		"createRuntime": [$a], "startContainer": [$b]}' \
		--argjson a "$(hook "readlink /proc/self/ns/mnt >$HOOKS/rt-ns")" \
		--argjson b "$(hook 'readlink /proc/self/ns/mnt >/hooks/start-ns; hostname >/hooks/start-host')"
	update_config '.hostname = "inside-hooks"'
	run run_container where
	assert_status 0
	[ "$(cat "$HOOKS/rt-ns")" = "$(readlink /proc/self/ns/mnt)" ]
	[ "$(cat "$HOOKS/start-ns")" != "$(readlink /proc/self/ns/mnt)" ]
	[ "$(cat "$HOOKS/start-host")" = inside-hooks ]
}

@test "hooks: poststop runs on delete, not before" {
	recording_hooks
	set_args sleep 1000
	create_container ps
	[ -s "$HOOKS/createRuntime.json" ]
	[ ! -e "$HOOKS/startContainer.json" ]
	runtime start ps
	wait_for_file "$HOOKS/poststart.json"
	[ -s "$HOOKS/startContainer.json" ]
	runtime kill ps KILL
	wait_for_status ps stopped
	[ ! -e "$HOOKS/poststop.json" ]
	run runtime delete ps
	assert_status 0
	[ -s "$HOOKS/poststop.json" ]
	[ "$(jq -r .status "$HOOKS/poststop.json")" = stopped ]
}

@test "hooks: a failing prestart hook makes create fail and leaves nothing behind" {
	update_config '.hooks.prestart = [$h]' --argjson h "$(hook 'exit 3')"
	set_args sleep 1000
	run create_container failpre
	assert_failure
	run container_state failpre
	assert_failure
	state_root_is_empty
	run marker_pids
	assert_output ""
	[ -z "$(cgroup_dirs bundle)" ]
}

@test "hooks: a failing createRuntime hook makes run fail" {
	update_config '.hooks.createRuntime = [$h]' --argjson h "$(hook 'echo hook-said-no >&2; exit 1')"
	set_args echo should-not-run
	run run_container failrt
	assert_failure
	[[ "$output" != *should-not-run* ]]
	state_root_is_empty
	run marker_pids
	assert_output ""
}

@test "hooks: a hook that outlives its timeout fails create, and is killed" {
	update_config '.hooks.createRuntime = [$h]' --argjson h "$(hook 'echo started >'"$HOOKS"'/slow; exec sleep 60' 1)"
	set_args sleep 1000
	SECONDS=0
	run create_container slow
	assert_failure
	[ "$SECONDS" -lt 15 ]
	[ -s "$HOOKS/slow" ]
	state_root_is_empty
	for _ in $(seq 100); do [ -z "$(marker_pids)" ] && break; sleep 0.05; done
	run marker_pids
	assert_output ""
}

@test "hooks: a hook that fits in its timeout succeeds" {
	update_config '.hooks.createRuntime = [$h]' --argjson h "$(hook 'sleep 0.2; echo ok >'"$HOOKS"'/fast' 10)"
	set_args true
	run run_container fast
	assert_status 0
	[ "$(cat "$HOOKS/fast")" = ok ]
}

@test "hooks: a hook path that does not exist fails create" {
	update_config '.hooks.createRuntime = [{"path": "/no/such/hook"}]'
	run create_container nohook
	assert_failure
	state_root_is_empty
}
