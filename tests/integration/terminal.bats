#!/usr/bin/env bats
# process.terminal: the pty master goes to --console-socket (received by recvtty.py), or is
# copied to the runtime's own terminal in the foreground.

load helpers

setup() {
	nook_setup
	SOCK=$TEST_DIR/console.sock
	TTY_OUT=$TEST_DIR/tty.out
	update_config '.process.terminal = true'
}

# start_receiver [ARGS...]: run recvtty.py on $SOCK in the background, copying to $TTY_OUT.
start_receiver() {
	python3 "$NOOK_RECVTTY" "$SOCK" "$TTY_OUT" --timeout 30 "$@" 3>&- &
	RECV_PID=$!
	wait_for_socket "$SOCK"
}

# wait_receiver: wait for the receiver to see the pty close; fail if it does not.
wait_receiver() {
	local i
	for i in $(seq 200); do
		kill -0 "$RECV_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$RECV_PID" 2>/dev/null; then
		echo "the pty was not closed after the container exited" >&2
		return 1
	fi
	wait "$RECV_PID"
}

@test "terminal: the pty master is sent to --console-socket" {
	set_args sh -c 'tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys; read l; echo got:$l'
	start_receiver --input $'hello-pty\n'
	run run_detached tty1 --console-socket "$SOCK"
	assert_status 0
	wait_receiver
	run tr -d '\r' <"$TTY_OUT"
	assert_output_contains /dev/pts/0
	assert_output_contains all-ttys
	assert_output_contains got:hello-pty
}

@test "terminal: create + start with --console-socket" {
	set_args sh -c 'echo started-on-tty'
	start_receiver
	run create_container tty2 --console-socket "$SOCK"
	assert_status 0
	run runtime start tty2
	assert_status 0
	wait_receiver
	run tr -d '\r' <"$TTY_OUT"
	assert_output_contains started-on-tty
}

@test "terminal: consoleSize sets the window size" {
	update_config '.process.consoleSize = {"height": 40, "width": 120}'
	set_args stty size
	start_receiver
	run run_detached tty3 --console-socket "$SOCK"
	assert_status 0
	wait_receiver
	run tr -d '\r' <"$TTY_OUT"
	assert_output_contains "40 120"
}

@test "terminal: the pty is the controlling terminal of a session leader" {
	set_args sh -c 'cat /proc/self/stat | cut -d" " -f6,7; ls -l /proc/self/fd/0'
	start_receiver
	run run_detached tty4 --console-socket "$SOCK"
	assert_status 0
	wait_receiver
	run tr -d '\r' <"$TTY_OUT"
	# Field 6 (session) is the pid of sh (1), field 7 (tty_nr) is non-zero.
	[[ "${lines[0]}" =~ ^1\ [1-9][0-9]*$ ]]
	assert_output_contains /dev/pts/0
}

@test "terminal: create without --console-socket fails and leaves nothing" {
	set_args true
	run create_container notty
	assert_failure
	state_root_is_empty
	run marker_pids
	assert_output ""
}

@test "terminal false with --console-socket is refused" {
	update_config '.process.terminal = false'
	start_receiver
	run run_detached notty2 --console-socket "$SOCK"
	assert_failure
	state_root_is_empty
}

@test "terminal: foreground run copies the pty to the caller's terminal" {
	command -v script >/dev/null || skip "script(1) not installed"
	set_args sh -c 'tty; exit 3'
	run timeout 30 script -qec "$(printf '%q ' "${RUNTIME_CMD[@]}") --root $ROOT run --bundle $BUNDLE fg" \
		/dev/null </dev/null
	assert_status 3
	assert_output_contains /dev/pts/0
}
