#!/usr/bin/env bats
# cgroups: limits reach the cgroup files, OOM kills are seen (exit 137, an `events` oom
# record), pids limits hold, pause/resume freeze, update changes live limits, events --stats,
# ps.  Runs on this hybrid host (v1 controllers) and in the cgroup v2 VM lane (make check-vm):
# cg_read picks the file of whichever hierarchy the host has.

load helpers

cgroup2_root() {
	[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]
}

# cg_dir CONTROLLER [NAME]: the container's cgroup directory holding CONTROLLER's files.
cg_dir() {
	local ctrl=$1 d
	for d in $(cgroup_dirs "${2:-bundle}"); do
		if cgroup2_root || [[ $d == /sys/fs/cgroup/$ctrl/* || $d == /sys/fs/cgroup/$ctrl,*/* ||
			$d == /sys/fs/cgroup/*,$ctrl/* ]]; then
			printf '%s\n' "$d"
			return 0
		fi
	done
	echo "no $ctrl cgroup for the container" >&2
	return 1
}

# cg_read CONTROLLER V1_FILE V2_FILE
cg_read() {
	local d
	d=$(cg_dir "$1") || return 1
	if cgroup2_root; then cat "$d/$3"; else cat "$d/$2"; fi
}

@test "cgroups: memory, pids and cpu limits reach the cgroup files" {
	set_args sleep 1000
	update_config '.linux.resources.memory.limit = 67108864
		| .linux.resources.pids.limit = 42
		| .linux.resources.cpu.quota = 50000 | .linux.resources.cpu.period = 100000
		| .linux.resources.cpu.shares = 512'
	run_detached lim
	run cg_read memory memory.limit_in_bytes memory.max
	assert_output 67108864
	run cg_read pids pids.max pids.max
	assert_output 42
	if cgroup2_root; then
		run cg_read cpu - cpu.max
		assert_output "50000 100000"
		# Shares 512 as a weight, by the conversion of current runc and crun (which maps the
		# default 1024 to the default 100; runc 1.1's linear formula gave 20).
		run cg_read cpu - cpu.weight
		assert_output 59
	else
		run cg_read cpu cpu.cfs_quota_us -
		assert_output 50000
		run cg_read cpu cpu.shares -
		assert_output 512
	fi
}

@test "cgroups: a container over its memory limit is OOM-killed: run exits 137" {
	set_args dd if=/dev/zero of=/dev/null bs=64M count=1
	update_config '.linux.resources.memory.limit = 16777216'
	run run_container oom
	[ "$status" -eq 137 ] || {
		echo "run exited $status, expected 137 (SIGKILL by the OOM killer): $output" >&2
		false
	}
}

@test "cgroups: events reports the OOM kill, events --stats prints runc's JSON" {
	# The container runs into its limit only once the test tells it to (a file in a bind-mounted
	# directory), after `events` is watching: OOM kills before that are not events.
	mkdir "$TEST_DIR/trigger"
	set_args sh -c 'while [ ! -e /trigger/go ]; do sleep 0.1; done
		dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 1000'
	update_config '.linux.resources.memory.limit = 16777216
		| .mounts += [{"destination": "/trigger", "type": "bind", "source": $dir,
		               "options": ["rbind", "ro"]}]' --arg dir "$TEST_DIR/trigger"
	run_detached ev
	runtime events --stats ev >"$TEST_DIR/stats.json"
	jq -e '.type == "stats" and .id == "ev" and .data.memory.usage.usage > 0
		and .data.memory.usage.limit == 16777216 and .data.pids.current >= 1' \
		"$TEST_DIR/stats.json" || {
		cat "$TEST_DIR/stats.json" >&2
		false
	}
	timeout 20 "${RUNTIME_CMD[@]}" --root "$ROOT" events --interval 100ms ev \
		>"$TEST_DIR/events.json" 2>&1 &
	evpid=$!
	for _ in $(seq 400); do
		grep -q '"type":"stats"' "$TEST_DIR/events.json" && break
		sleep 0.05
	done
	touch "$TEST_DIR/trigger/go"
	for _ in $(seq 400); do
		grep -q '"type":"oom"' "$TEST_DIR/events.json" && break
		sleep 0.05
	done
	kill "$evpid" 2>/dev/null || true
	wait "$evpid" 2>/dev/null || true
	grep -q '"type":"oom","id":"ev"' "$TEST_DIR/events.json" || {
		echo "no oom event; events printed: $(head -c 600 "$TEST_DIR/events.json")" >&2
		false
	}
}

@test "cgroups: the pids limit holds" {
	# Eight background sleeps: the shell cannot fork past the limit (busybox sh then stops),
	# and with a higher limit the same script gets to the end.
	set_args sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1000 & done; echo all forked'
	update_config '.linux.resources.pids.limit = 5'
	run --separate-stderr run_container pl
	[ "$status" -ne 0 ] && [[ "$stderr" == *"can't fork"* ]] && [[ "$output" != *"all forked"* ]] || {
		echo "with pids.max 5: status $status, stdout: $output, stderr: $stderr" >&2
		false
	}
	update_config '.linux.resources.pids.limit = 20'
	run --separate-stderr run_container pl2
	assert_status 0
	assert_output "all forked"
}

@test "cgroups: pause freezes and resume thaws the container" {
	set_args sleep 1000
	run_detached pz
	runtime pause pz
	run container_status pz
	assert_output paused
	if cgroup2_root; then
		run cg_read freezer - cgroup.freeze
		assert_output 1
	else
		run cg_read freezer freezer.state -
		assert_output FROZEN
	fi
	# A paused container cannot be paused again, nor a running one resumed.
	run runtime pause pz
	assert_failure
	runtime resume pz
	run container_status pz
	assert_output running
	run runtime resume pz
	assert_failure
}

@test "cgroups: update changes the live limits, from flags and from --resources" {
	set_args sleep 1000
	update_config '.linux.resources.memory.limit = 67108864 | .linux.resources.pids.limit = 50'
	run_detached up
	runtime update --memory 128m --pids-limit 7 up
	run cg_read memory memory.limit_in_bytes memory.max
	assert_output 134217728
	run cg_read pids pids.max pids.max
	assert_output 7
	echo '{"memory": {"limit": 100663296}, "pids": {"limit": 9}}' >"$TEST_DIR/res.json"
	runtime update --resources "$TEST_DIR/res.json" up
	run cg_read memory memory.limit_in_bytes memory.max
	assert_output 100663296
	run cg_read pids pids.max pids.max
	assert_output 9
}

@test "cgroups: update rejects bad input with one line naming it" {
	require_nook
	set_args sleep 1000
	run_detached bad
	run --separate-stderr runtime update --memory lots bad
	assert_status 1
	assert_one_line_error "--memory" "lots"
	echo '{"memory": {"limit": "x"}}' >"$TEST_DIR/res.json"
	run --separate-stderr runtime update --resources "$TEST_DIR/res.json" bad
	assert_status 1
	assert_one_line_error "--resources" "linux.resources.memory.limit"
	run --separate-stderr runtime update --memory 64m nosuch
	assert_status 1
	assert_one_line_error "nosuch"
}

@test "cgroups: ps lists the container's processes" {
	set_args sh -c 'sleep 1000 & sleep 1000'
	run_detached ps
	pid=$(container_pid ps)
	run runtime ps --format json ps
	assert_status 0
	# The shell forks one sleep and execs the other: two processes.
	echo "$output" | jq -e --argjson p "$pid" 'index($p) != null and length == 2' >/dev/null || {
		echo "ps json: $output (init $pid)" >&2
		false
	}
	run runtime ps ps
	assert_status 0
	[ "$(echo "$output" | grep -c sleep)" -eq 2 ] || {
		echo "ps table: $output" >&2
		false
	}
}

@test "cgroups: linux.resources.unified is applied on v2 and refused elsewhere" {
	set_args sleep 1000
	update_config '.linux.resources.unified = {"pids.max": "11"}'
	if cgroup2_root; then
		run_detached uni
		run cg_read pids - pids.max
		assert_output 11
	else
		require_nook
		run --separate-stderr runtime run --detach --bundle "$BUNDLE" uni
		assert_status 1
		assert_one_line_error "linux.resources.unified"
		state_root_is_empty
		[ -z "$(cgroup_dirs bundle)" ]
	fi
}
