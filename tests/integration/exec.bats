#!/usr/bin/env bats
# exec: a new process in a created or running container joins the init's namespaces and cgroup,
# takes config.json's process with the flags or a --process file over it, the container's
# seccomp filter and capabilities, and reports exit codes and errors as runc does.

load helpers

# start_sleeper [ID]: a running container ($ID, default "c") whose init sleeps.
start_sleeper() {
	CID=${1:-c}
	set_args sleep 1000
	run_detached "$CID"
	wait_for_status "$CID" running
	INIT_PID=$(container_pid "$CID")
}

# exec_in ARGS...: the runtime's exec on the test's container; use with bats' `run`.
exec_in() {
	runtime exec "$@" </dev/null
}

@test "exec: the process joins every namespace of the container's init" {
	update_config '.hostname = "exec-host"'
	start_sleeper
	for ns in pid mnt uts net ipc cgroup user time; do
		[ -e "/proc/self/ns/$ns" ] || continue
		run exec_in "$CID" readlink "/proc/self/ns/$ns"
		assert_status 0
		assert_output "$(readlink "/proc/$INIT_PID/ns/$ns")"
	done
	run exec_in "$CID" hostname
	assert_status 0
	assert_output exec-host
	# In the container's pid namespace the init is pid 1.
	run exec_in "$CID" sh -c 'cat /proc/1/cmdline | tr "\0" " "'
	assert_output "sleep 1000 "
}

@test "exec: the process joins a user namespace, its root mapped as the init's" {
	require_runtime_ns user
	use_userns
	start_sleeper
	run exec_in "$CID" sh -c 'readlink /proc/self/ns/user; id -u'
	assert_status 0
	[ "${lines[0]}" = "$(readlink "/proc/$INIT_PID/ns/user")" ]
	[ "${lines[1]}" = 0 ]
	run exec_in --detach --pid-file "$TEST_DIR/pid" "$CID" sleep 1000
	assert_status 0
	run awk '/^Uid:/ { print $2 }' "/proc/$(cat "$TEST_DIR/pid")/status"
	assert_output 100000
}

@test "exec: the process is in the container's cgroup and ps lists it" {
	start_sleeper
	run exec_in --detach --pid-file "$TEST_DIR/pid" "$CID" sleep 999
	assert_status 0
	pid=$(cat "$TEST_DIR/pid")
	[ "$(cat "/proc/$pid/cgroup")" = "$(cat "/proc/$INIT_PID/cgroup")" ]
	run runtime ps --format json "$CID"
	assert_status 0
	jq -e --argjson p "$pid" --argjson i "$INIT_PID" 'index($p) != null and index($i) != null' \
		<<<"$output" >/dev/null
}

@test "exec: env, cwd, user and additional gids from the flags" {
	update_config '.process.env += ["KEEP=config", "HOME=/root"]'
	start_sleeper
	run exec_in -e FOO=bar -e HOME=/x --cwd /tmp -u 1000:1001 -g 10 -g 20 "$CID" \
		sh -c 'pwd; id -u; id -g; id -G; echo $FOO $HOME $KEEP; env | grep -c ^HOME='
	assert_status 0
	[ "${lines[0]}" = /tmp ]
	[ "${lines[1]}" = 1000 ]
	[ "${lines[2]}" = 1001 ]
	[[ " ${lines[3]} " == *" 10 "* && " ${lines[3]} " == *" 20 "* ]]
	[ "${lines[4]}" = "bar /x config" ]
	[ "${lines[5]}" = 1 ]
}

@test "exec: without flags the process is config.json's (cwd, env, user), not its args" {
	update_config '.process.cwd = "/tmp" | .process.env += ["FROM_CONFIG=yes"]
		| .process.user = {"uid": 7, "gid": 8}'
	start_sleeper
	run exec_in "$CID" sh -c 'pwd; echo $FROM_CONFIG; id -u; id -g'
	assert_status 0
	assert_output "/tmp
yes
7
8"
}

@test "exec: --process FILE is the process (args, cwd, env, user)" {
	start_sleeper
	jq -n --arg m "$(container_env_marker)" '{args: ["sh", "-c", "pwd; echo $P; id -u"],
		cwd: "/etc", env: ["P=from-file", "PATH=/bin", $m], user: {uid: 5, gid: 5}}' \
		>"$TEST_DIR/process.json"
	run exec_in --process "$TEST_DIR/process.json" "$CID"
	assert_status 0
	assert_output "/etc
from-file
5"
}

@test "exec: a malformed --process file is refused naming the field" {
	start_sleeper
	echo '{"args": "sh", "cwd": "/"}' >"$TEST_DIR/process.json"
	run --separate-stderr runtime exec -p "$TEST_DIR/process.json" "$CID"
	assert_failure
	assert_one_line_error args
	echo '{"args": ["sh"' >"$TEST_DIR/process.json"
	run --separate-stderr runtime exec -p "$TEST_DIR/process.json" "$CID"
	assert_failure
	mapfile -t stderr_lines <<<"$stderr"
	[ "${#stderr_lines[@]}" -eq 1 ]
	if is_nook; then
		assert_one_line_error "--process \`$TEST_DIR/process.json\`: invalid JSON"
	fi
}

@test "exec: the exit code is the process's (128+N for signal N)" {
	start_sleeper
	run exec_in "$CID" sh -c 'exit 7'
	assert_status 7
	run exec_in "$CID" sh -c 'kill -TERM $$'
	assert_status 143
	run exec_in "$CID" true
	assert_status 0
}

@test "exec: a command not found exits 127, one not executable 126, naming it" {
	start_sleeper
	if is_nook; then
		run -127 --separate-stderr runtime exec "$CID" no-such-cmd
	else
		run --separate-stderr runtime exec "$CID" no-such-cmd
		assert_failure
	fi
	assert_one_line_error no-such-cmd "not found"
	run --separate-stderr runtime exec "$CID" /etc/passwd
	if is_nook; then assert_status 126; else assert_failure; fi
	assert_one_line_error /etc/passwd "ermission denied"
	# Nothing is left: only the init is in the container.
	run runtime ps --format json "$CID"
	[ "$(jq length <<<"$output")" = 1 ]
}

@test "exec: --detach returns once the process runs; --pid-file has its host pid" {
	start_sleeper
	run exec_in -d --pid-file "$TEST_DIR/pid" "$CID" sleep 998
	assert_status 0
	pid=$(cat "$TEST_DIR/pid")
	[[ "$pid" =~ ^[0-9]+$ ]]
	[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "sleep 998 " ]
	[ "$(readlink "/proc/$pid/ns/pid")" = "$(readlink "/proc/$INIT_PID/ns/pid")" ]
	# Relative pid files are relative to the caller's directory.
	(cd "$TEST_DIR" && runtime exec -d --pid-file rel.pid "$CID" sleep 997 </dev/null)
	[ -s "$TEST_DIR/rel.pid" ]
}

@test "exec: --tty --console-socket sends the pty master" {
	start_sleeper
	sock=$TEST_DIR/console.sock
	python3 "$NOOK_RECVTTY" "$sock" "$TEST_DIR/tty.out" --timeout 30 --input $'from-pty\n' 3>&- &
	recv=$!
	wait_for_socket "$sock"
	run exec_in -d -t --console-socket "$sock" "$CID" \
		sh -c 'tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys; read l; echo got:$l'
	assert_status 0
	wait "$recv"
	run tr -d '\r' <"$TEST_DIR/tty.out"
	assert_output_contains /dev/pts/
	assert_output_contains all-ttys
	assert_output_contains got:from-pty
}

@test "exec: --tty in the foreground relays the pty and exits with the process's code" {
	command -v script >/dev/null || skip "script(1) not installed"
	start_sleeper
	run timeout 30 script -qec "$(printf '%q ' "${RUNTIME_CMD[@]}") --root $ROOT exec -t $CID sh -c 'tty; exit 3'" \
		/dev/null </dev/null
	assert_status 3
	assert_output_contains /dev/pts/
}

@test "exec: refused in a paused container unless --ignore-paused" {
	start_sleeper
	runtime pause "$CID"
	run --separate-stderr runtime exec "$CID" true
	assert_failure
	assert_one_line_error paused
	# With --ignore-paused the process starts frozen, and runs once the container resumes.
	runtime_direct exec --ignore-paused -d --pid-file "$TEST_DIR/pid" "$CID" sleep 996 \
		</dev/null >/dev/null 2>&1 &
	bg=$!
	sleep 0.3
	runtime resume "$CID"
	wait "$bg"
	wait_for_file "$TEST_DIR/pid"
	kill -0 "$(cat "$TEST_DIR/pid")"
}

@test "exec: the container's seccomp filter applies to the process" {
	on_teardown 'rm -rf "$ROOT/.seccomp-cache"'
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
	start_sleeper
	run exec_in "$CID" sh -c 'mkdir /tmp/x; echo rc=$?; grep ^Seccomp: /proc/self/status'
	assert_status 0
	assert_output_contains "Operation not permitted"
	assert_output_contains rc=1
	assert_output_contains "Seccomp:	2"
}

@test "exec: a seccomp notify rule sends the process's listener to listenerPath" {
	local sock=$TEST_DIR/agent.sock agent=$NOOK_SRCDIR/tests/helpers/seccomp-agent.py
	on_teardown 'rm -rf "$ROOT/.seccomp-cache"'
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": $s,
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}' \
		--arg s "$sock"
	# One agent for the init, then a second one on the same path for the exec'd process.
	python3 "$agent" "$sock" "$TEST_DIR/init.json" --timeout 30 3>&- &
	wait_for_socket "$sock"
	start_sleeper
	wait_for_file "$TEST_DIR/init.json"
	rm -f "$sock"
	python3 "$agent" "$sock" "$TEST_DIR/exec.json" --timeout 30 3>&- &
	wait_for_socket "$sock"
	run exec_in "$CID" sh -c 'mkdir /tmp/x && echo made; [ -d /tmp/x ] || echo absent'
	assert_status 0
	assert_output "made
absent"
	wait_for_file "$TEST_DIR/exec.json"
	[ "$(jq -r .state.id "$TEST_DIR/exec.json")" = "$CID" ]
	[ "$(jq -r .pid "$TEST_DIR/exec.json")" != "$INIT_PID" ]
	grep -q '^notified ' "$TEST_DIR/exec.json.notify"
}

@test "exec: capabilities are the container's, --cap adds one" {
	start_sleeper
	init_bnd=$(awk '/^CapBnd:/ { print $2 }' "/proc/$INIT_PID/status")
	run exec_in "$CID" awk '/^CapBnd:/ { print $2 }' /proc/self/status
	assert_status 0
	assert_output "$init_bnd"
	# CAP_SYS_ADMIN is bit 21; `runc spec` does not grant it.
	run exec_in --cap CAP_SYS_ADMIN "$CID" awk '/^CapBnd:|^CapEff:/ { print $2 }' /proc/self/status
	assert_status 0
	for v in "${lines[@]}"; do
		(((0x$v >> 21) & 1))
	done
	(((0x$init_bnd >> 21) & 1 ^ 1))
}

@test "exec: no fd of the runtime reaches the process, --preserve-fds passes N" {
	start_sleeper
	# fd 3 is ls's own directory fd.
	run exec_in "$CID" ls /proc/self/fd
	assert_status 0
	[ "$(echo $output)" = "0 1 2 3" ]
	NOOK_PASS_FD3=1 run runtime exec --preserve-fds 1 "$CID" sh -c 'echo via-fd3 >&3; ls /proc/self/fd' \
		3>"$TEST_DIR/fd3.out" </dev/null
	assert_status 0
	[ "$(echo $output)" = "0 1 2 3 4" ]
	[ "$(cat "$TEST_DIR/fd3.out")" = via-fd3 ]
}

@test "exec: the cwd is inside the container" {
	start_sleeper
	run exec_in "$CID" sh -c 'readlink /proc/self/cwd; ls /proc/self/cwd/bin/busybox'
	assert_status 0
	assert_output "/
/proc/self/cwd/bin/busybox"
	run --separate-stderr runtime exec --cwd /no-such-dir "$CID" true
	assert_failure
	assert_one_line_error /no-such-dir
}

@test "exec: signals to a foreground exec are forwarded to the process" {
	start_sleeper
	term_foreground "$TEST_DIR/fwd.out" exec "$CID" \
		sh -c 'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.1; done'
	[ "$status" -eq 42 ] && grep -q "got TERM" "$TEST_DIR/fwd.out" || {
		echo "exec exited $status; output: $(cat "$TEST_DIR/fwd.out")" >&2
		false
	}
}

@test "exec: into a created container" {
	set_args sleep 1000
	create_container created
	run exec_in created echo in-created
	assert_status 0
	assert_output in-created
	[ "$(container_status created)" = created ]
}

@test "exec: into a stopped or unknown container fails" {
	set_args true
	create_container done
	runtime start done
	wait_for_status done stopped
	run --separate-stderr runtime exec done true
	assert_failure
	assert_one_line_error stopped
	run --separate-stderr runtime exec no-such-ctr true
	assert_failure
	assert_one_line_error "does not exist"
}

@test "exec: bad flags are one-line errors naming the flag, nothing is left" {
	require_nook "messages"
	start_sleeper
	for args in "--user abc" "--user 1:x" "--cap CAP_NOPE" "--cwd rel" "--env NOEQUALS" \
		"--additional-gids -3" "--preserve-fds x" "--process $TEST_DIR/missing.json"; do
		# shellcheck disable=SC2086
		run --separate-stderr runtime exec $args "$CID" true
		assert_status 1
		assert_one_line_error "${args%% *}"
	done
	run --separate-stderr runtime exec "$CID"
	assert_status 1
	assert_one_line_error "command"
	run --separate-stderr runtime exec --console-socket "$TEST_DIR/x.sock" "$CID" true
	assert_status 1
	assert_one_line_error "--console-socket" "--tty"
	run --separate-stderr runtime exec --apparmor nook-test-profile "$CID" true
	if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" != Y ]; then
		assert_status 1
		assert_one_line_error apparmor nook-test-profile
	fi
	run runtime ps --format json "$CID"
	[ "$(jq length <<<"$output")" = 1 ]
}

@test "exec: the time namespace is joined" {
	require_runtime_ns time
	update_config '.linux.namespaces += [{"type": "time"}]
		| .linux.timeOffsets = {"boottime": {"secs": 172800, "nanosecs": 0}}'
	start_sleeper
	run exec_in "$CID" sh -c 'readlink /proc/self/ns/time; cat /proc/self/timens_offsets'
	assert_status 0
	[ "${lines[0]}" = "$(readlink "/proc/$INIT_PID/ns/time")" ]
	assert_output_contains 172800
}
