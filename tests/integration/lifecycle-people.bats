#!/usr/bin/env bats
# The lifecycle verbs of `nook run`'s containers, as podman users know them: ps, logs, attach,
# exec, stop, kill, wait, start, restart, pause, inspect, stats, on containers of `run -d`.
# No assertion depends on timing: waits poll with a bound, and containers that must be at a
# point first say so in their output.

load helpers

load run-helpers

setup() {
	nook_run_setup
}

# rund ARGS...: `nook run -d`, which must succeed; its stdio never holds bats' pipes.
rund() {
	nrun -d "$@" </dev/null >"$TEST_DIR/rund.out" 2>"$TEST_DIR/rund.err" || {
		cat "$TEST_DIR/rund.err" >&2
		return 1
	}
}

# wait_for_log NAME TEXT [SECONDS]: poll `nook logs NAME` until it shows TEXT.
wait_for_log() {
	local i
	for ((i = 0; i < ${3:-20} * 10; i++)); do
		nook_cli logs "$1" 2>&1 | grep -qF -- "$2" && return 0
		sleep 0.1
	done
	echo "\`$2' did not appear in the logs of $1; they are:" >&2
	nook_cli logs "$1" >&2
	return 1
}

# wait_for_ps NAME TEXT [SECONDS]: poll `nook ps -a` until NAME's STATUS contains TEXT.
wait_for_ps() {
	local i s=
	for ((i = 0; i < ${3:-20} * 10; i++)); do
		s=$(nook_cli ps -a --format '{{.Names}} {{.Status}}' | sed -n "s/^$1 //p")
		[[ "$s" == *"$2"* ]] && return 0
		sleep 0.1
	done
	echo "status of $1 is \`$s', expected \`$2'" >&2
	return 1
}

# inspect_field NAME JQ: a field of `nook inspect NAME`.
inspect_field() {
	nook_cli inspect "$1" | jq -r ".[0]$2"
}

@test "run -d prints the id; ps lists running containers, ps -a all of them" {
	rund --name web busybox sleep 1000
	id=$(cat "$TEST_DIR/rund.out")
	[[ "$id" =~ ^[0-9a-f]{64}$ ]]
	rund --name done busybox true
	run nook_cli wait done
	assert_status 0
	assert_output 0

	run nook_cli ps
	assert_status 0
	[[ "${lines[0]}" =~ ^CONTAINER\ ID\ +IMAGE\ +COMMAND\ +CREATED\ +STATUS\ +PORTS\ +NAMES$ ]]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" =~ ^${id:0:12}\ +busybox\ +sleep\ 1000\ +.*\ ago\ +Up\ .*\ web$ ]]

	run nook_cli ps -a --format '{{.Names}} {{.Status}}'
	assert_status 0
	[ "${lines[0]%% *}" = done ] # newest first
	[[ "${lines[0]}" =~ ^done\ Exited\ \(0\)\ .*\ ago$ ]]
	[[ "${lines[1]}" =~ ^web\ Up\  ]]

	run nook_cli ps -q
	assert_output "${id:0:12}"
	run nook_cli ps -q --no-trunc
	assert_output "$id"
	run nook_cli ps -a --format json
	assert_status 0
	[ "$(jq -r '.[1].Names[0]' <<<"$output")" = web ]
	[ "$(jq -r '.[1].State' <<<"$output")" = running ]
	[ "$(jq -r '.[1].Id' <<<"$output")" = "$id" ]
	[ "$(jq -r '.[0].ExitCode' <<<"$output")" = 0 ]
	run nook_cli ps --format 'table {{.ID}}\t{{.Names}}'
	assert_output "ID	NAMES
${id:0:12}	web"
	run --separate-stderr nook_cli ps --format '{{.Nope}}'
	assert_status 125
	assert_one_line_error "no field \`.Nope\`"
}

@test "logs: stdout and stderr apart, the last partial line, --tail, -t, --since, --until" {
	# The supervisor reads stdout and stderr apart: the order between them is not kept.
	rund --name l busybox sh -c 'echo out1; echo err1 >&2; echo out2; printf partial'
	run nook_cli wait l
	assert_output 0
	nook_cli logs l >"$TEST_DIR/out" 2>"$TEST_DIR/err"
	[ "$(cat "$TEST_DIR/err")" = err1 ]
	printf 'out1\nout2\npartial' | cmp - "$TEST_DIR/out"
	rund --name o busybox sh -c 'echo out1; echo out2; printf partial'
	run nook_cli wait o
	run nook_cli logs --tail 2 o
	assert_output "out2
partial"
	run nook_cli logs -n 0 l
	assert_output ""
	run nook_cli logs -t --tail 1 o
	[[ "$output" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)\ partial$ ]]
	run nook_cli logs --since 1h l
	assert_output_contains out1
	run nook_cli logs --since 2100-01-01T00:00:00Z l
	assert_output ""
	run nook_cli logs --until 2000-01-01 l
	assert_output ""
	# the file itself is k8s-file
	dir=$STORAGE/containers/$(inspect_field l .Id)
	grep -qE '^[0-9T:.+Z-]+ stderr F err1$' "$dir/ctr.log"
	grep -qE '^[0-9T:.+Z-]+ stdout P partial$' "$dir/ctr.log"
}

@test "logs -f prints new output and ends when the container exits" {
	rund --name f busybox sh -c 'echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done;
		for i in 1 2 3; do echo line$i; done; echo oops >&2; exit 3'
	wait_for_log f first
	nook_cli logs -f f >"$TEST_DIR/out" 2>"$TEST_DIR/err" &
	bg=$!
	run nook_cli exec f touch /tmp/go
	assert_status 0
	status=0
	wait "$bg" || status=$?
	[ "$status" -eq 0 ]
	[ "$(cat "$TEST_DIR/out")" = "first
line1
line2
line3" ]
	[ "$(cat "$TEST_DIR/err")" = oops ]
	# -f on an exited container prints what is there and returns
	# (the last 4 records are those written after /tmp/go, in some order of the two streams)
	run --separate-stderr nook_cli logs -f --tail 4 f
	assert_status 0
	[ "$(printf '%s\n' "${lines[@]}" "${stderr_lines[@]}" | sort)" = "$(printf 'line1\nline2\nline3\noops')" ]
}

@test "logs: rotation at --log-max-size keeps the order across ctr.log.N" {
	rund --name rot --log-max-size 4096 busybox sh -c 'i=0; while [ $i -lt 400 ]; do
		echo "line $i"; i=$((i + 1)); done'
	run nook_cli wait rot
	assert_output 0
	dir=$STORAGE/containers/$(inspect_field rot .Id)
	[ -e "$dir/ctr.log.1" ]
	[ "$(stat -c %s "$dir/ctr.log")" -le 8192 ]
	run nook_cli logs rot
	assert_status 0
	# what the kept files hold: a run of consecutive lines that ends with the last one
	[ "${lines[-1]}" = "line 399" ]
	first=${lines[0]#line }
	for ((i = 0; i < ${#lines[@]}; i++)); do
		[ "${lines[i]}" = "line $((first + i))" ]
	done
	run nook_cli logs --tail 3 rot
	assert_output "line 397
line 398
line 399"
}

@test "attach relays input and output and returns the exit code" {
	rund --name a -i busybox sh -c 'read x; echo "got $x"; exit 7'
	run nook_cli attach a <<<"hello"
	assert_status 7
	assert_output "got hello"

	rund --name b busybox sh -c 'while [ ! -e /tmp/go ]; do echo tick; sleep 0.1; done;
		echo bye >&2; exit 3'
	nook_cli attach --no-stdin b >"$TEST_DIR/out" 2>"$TEST_DIR/err" </dev/null &
	bg=$!
	wait_for_file "$TEST_DIR/out"
	nook_cli exec b touch /tmp/go
	status=0
	wait "$bg" || status=$?
	[ "$status" -eq 3 ]
	[ "$(cat "$TEST_DIR/err")" = bye ]
	grep -qx tick "$TEST_DIR/out"

	run --separate-stderr nook_cli attach b
	assert_status 125
	assert_one_line_error "container \`b\` is not running"
}

@test "exec: exit codes, -u, -e, -w, -i, -d, --env-file" {
	rund --name e -e FOO=image busybox sleep 1000
	run nook_cli exec e sh -c 'exit 5'
	assert_status 5
	run --separate-stderr nook_cli exec e no-such-command
	assert_status 127
	assert_one_line_error "no-such-command"
	run --separate-stderr nook_cli exec e /etc/passwd
	assert_status 126
	assert_one_line_error "/etc/passwd"
	run nook_cli exec -u nobody e id
	assert_output "uid=65534(nobody) gid=65534(nobody)"
	run nook_cli exec -u 1234:5 e id -u
	assert_output 1234
	run --separate-stderr nook_cli exec -u ghost e true
	assert_status 125
	assert_one_line_error "ghost"
	run nook_cli exec e sh -c 'echo $FOO'
	assert_output image
	run nook_cli exec -e FOO=bar -e BAZ=1 e sh -c 'echo $FOO $BAZ'
	assert_output "bar 1"
	printf 'A=1\n# no\nB=two words\n' >"$TEST_DIR/env"
	run nook_cli exec --env-file "$TEST_DIR/env" e sh -c 'echo "$A/$B/$FOO"'
	assert_output "1/two words/image"
	run nook_cli exec -w /tmp e pwd
	assert_output /tmp
	run nook_cli exec -i e cat <<<"through"
	assert_output through
	run nook_cli exec e cat <<<"not relayed"
	assert_output ""
	run nook_cli exec -d e sh -c 'echo detached >/tmp/d'
	assert_status 0
	assert_output ""
	for i in $(seq 50); do nook_cli exec e test -s /tmp/d && break; sleep 0.1; done
	run nook_cli exec e cat /tmp/d
	assert_output detached
	run nook_cli exec e sh -c 'kill -TERM $$'
	assert_status 143

	run nook_cli stop -t 0 e
	assert_status 0
	run --separate-stderr nook_cli exec e true
	assert_status 125
	assert_one_line_error "container \`e\` is not running"
}

@test "stop: the stop signal, a trapped TERM's code; wait prints it; ps and inspect agree" {
	rund --name t busybox sh -c 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done'
	wait_for_log t ready
	run nook_cli stop t
	assert_status 0
	assert_output t
	run nook_cli wait t
	assert_status 0
	assert_output 42
	[ "$(inspect_field t .State.Status)" = exited ]
	[ "$(inspect_field t .State.ExitCode)" = 42 ]
	[ "$(inspect_field t .State.Running)" = false ]
	wait_for_ps t "Exited (42)"
	# stop of a stopped container is fine
	run nook_cli stop t
	assert_status 0
	assert_output t
}

@test "stop -t 1 of a process that ignores TERM kills it: 137" {
	rund --name i busybox sh -c 'trap "" TERM; echo ready; while :; do sleep 0.1; done'
	wait_for_log i ready
	run nook_cli stop -t 1 i
	assert_status 0
	run nook_cli wait i
	assert_output 137
	[ "$(inspect_field i .State.ExitCode)" = 137 ]
}

@test "kill -s sends a signal through the supervisor; kill of an exited container fails" {
	rund --name k busybox sh -c 'trap "echo got USR1" USR1; echo ready;
		while :; do sleep 0.1; done'
	wait_for_log k ready
	run nook_cli kill -s USR1 k
	assert_status 0
	assert_output k
	wait_for_log k "got USR1"
	run nook_cli kill k
	assert_status 0
	run nook_cli wait k
	assert_output 137
	run --separate-stderr nook_cli kill k
	assert_status 125
	assert_one_line_error "container \`k\` is not running"
	run --separate-stderr nook_cli kill -s NOPE k
	assert_status 125
	assert_one_line_error "NOPE"
}

@test "kill -9 of the supervisor leaves the container running: ps says so, stop and rm -f work" {
	rund --name s busybox sleep 1000
	rund --name s2 busybox sleep 1000
	sup=$(inspect_field s .State.SupervisorPid)
	pid=$(inspect_field s .State.Pid)
	[ "$sup" -gt 0 ] && [ "$pid" -gt 0 ]
	kill -9 "$sup"
	for i in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$sup" 2>/dev/null
	kill -0 "$pid"
	wait_for_ps s "(no supervisor)"
	[[ "$(nook_cli ps --format '{{.Names}} {{.Status}}')" == *"s Up "*"(no supervisor)"* ]]
	[ "$(inspect_field s .State.SupervisorPid)" = 0 ]
	[ "$(inspect_field s .State.Running)" = true ]
	# exec still works, attach cannot
	run nook_cli exec s echo alive
	assert_output alive
	run --separate-stderr nook_cli attach s
	assert_status 125
	assert_one_line_error "no supervisor"
	run nook_cli rm -f s
	assert_status 0
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done # a zombie, a moment
	! kill -0 "$pid" 2>/dev/null
	run nook_cli ps -a --format '{{.Names}}'
	assert_output s2

	# stop without a supervisor: signals directly and records the exit (sleep, the init of its
	# pid namespace, has no TERM handler, so only the SIGKILL after -t ends it)
	sup=$(inspect_field s2 .State.SupervisorPid)
	kill -9 "$sup"
	for i in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
	run nook_cli stop -t 1 s2
	assert_status 0
	run nook_cli wait s2
	assert_output 137
	wait_for_ps s2 "Exited (137)"
}

@test "restart policies: on-failure:2 restarts twice; always is not restarted after stop" {
	rund --name f --restart on-failure:2 busybox sh -c 'echo run; exit 3'
	run nook_cli wait f
	assert_output 3
	[ "$(inspect_field f .RestartCount)" = 2 ]
	[ "$(inspect_field f .HostConfig.RestartPolicy.Name)" = on-failure ]
	[ "$(inspect_field f .HostConfig.RestartPolicy.MaximumRetryCount)" = 2 ]
	[ "$(nook_cli logs f | grep -c '^run$')" -eq 3 ]

	rund --name al --restart always busybox sh -c 'echo ready; sleep 1000'
	wait_for_log al ready
	run nook_cli stop -t 1 al
	assert_status 0
	run nook_cli wait al
	assert_output 137
	[ "$(inspect_field al .State.Status)" = exited ]
	[ "$(inspect_field al .RestartCount)" = 0 ]
}

@test "inspect: podman's fields" {
	rund --name i -e FOO=bar -w /tmp busybox sleep 1000
	run nook_cli inspect i
	assert_status 0
	jq -e '.[0] | .Name == "i" and .Path == "sleep" and .Args == ["1000"]
		and .ImageName == "busybox" and (.Image | startswith("sha256:"))
		and (.Id | length == 64) and (.Created | test("^[0-9]{4}-"))
		and .State.Status == "running" and .State.Running and (.State.Paused | not)
		and .State.Pid > 0 and .State.SupervisorPid > 0 and .State.ExitCode == 0
		and (.State.StartedAt | test("^[0-9]{4}-")) and .State.FinishedAt == "0001-01-01T00:00:00Z"
		and (.Config.Env | index("FOO=bar")) and .Config.WorkingDir == "/tmp"
		and .Config.Cmd == ["sleep", "1000"] and .Config.Tty == false
		and .Config.StopSignal == "SIGTERM"
		and .HostConfig.LogConfig.Type == "k8s-file"
		and (.HostConfig.LogConfig.Path | endswith("/ctr.log"))
		and .HostConfig.RestartPolicy.Name == "no" and .HostConfig.AutoRemove == false
		and (.Mounts | type == "array") and (.NetworkSettings.Ports | type == "object")' \
		<<<"$output"
	run nook_cli inspect --format '{{.State.Status}} {{.Name}}' i
	assert_output "running i"
	run nook_cli inspect -f '{{json .Args}}' i
	assert_output '["1000"]'
	run --separate-stderr nook_cli inspect --format '{{.Nope}}' i
	assert_status 125
	assert_one_line_error "no field"
	# an unknown name fails, the others are still printed
	run --separate-stderr nook_cli inspect i nope
	assert_status 125
	assert_one_line_error "no container \`nope\`"
	[ "$(jq 'length' <<<"$output")" = 1 ]
}

@test "stats --no-stream: CPU, memory and pids of the container's cgroup" {
	rund --name st busybox sleep 1000
	run nook_cli stats --no-stream st
	assert_status 0
	[[ "${lines[0]}" =~ ^ID\ +NAME\ +CPU\ %\ +MEM\ USAGE\ /\ LIMIT\ +MEM\ %\ +NET\ IO\ +BLOCK\ IO\ +PIDS$ ]]
	[[ "${lines[1]}" =~ \ st\ +[0-9.]+%\ +[0-9.]+[kMG]?B\ /\ [0-9.]+[kMGT]?B\ +[0-9.]+%\ .*\ 1$ ]]
	run nook_cli stats --no-stream --format json
	assert_status 0
	jq -e '.[0].name == "st" and .[0].pids == "1" and .[0].mem_bytes > 0
		and (.[0].cpu_percent | endswith("%"))' <<<"$output"
	run nook_cli stats --no-stream --format '{{.Name}} {{.PIDs}}'
	assert_output "st 1"
	run nook_cli stop -t 0 st
	run --separate-stderr nook_cli stats --no-stream st
	assert_status 125
	assert_one_line_error "container \`st\` is not running"
}

@test "start runs an exited container again; start -a returns its code; restart" {
	rund --name r busybox sh -c 'echo hi; exit 4'
	run nook_cli wait r
	assert_output 4
	run nook_cli start r
	assert_status 0
	assert_output r
	run nook_cli wait r
	assert_output 4
	[ "$(nook_cli logs r | grep -c '^hi$')" -eq 2 ]
	run nook_cli start -a r
	assert_status 4
	assert_output hi

	rund --name rr busybox sh -c 'echo up; sleep 1000'
	wait_for_log rr up
	started=$(inspect_field rr .State.StartedAt)
	pid=$(inspect_field rr .State.Pid)
	run nook_cli restart -t 0 rr
	assert_status 0
	assert_output rr
	[ "$(inspect_field rr .State.Status)" = running ]
	[ "$(inspect_field rr .State.StartedAt)" != "$started" ]
	[ "$(inspect_field rr .State.Pid)" != "$pid" ]
	# start of a running container: nothing to do
	run nook_cli start rr
	assert_status 0
	assert_output rr
}

@test "pause and unpause freeze and thaw the container" {
	rund --name p busybox sleep 1000
	run nook_cli pause p
	assert_status 0
	assert_output p
	wait_for_ps p Paused
	[ "$(inspect_field p .State.Paused)" = true ]
	run --separate-stderr nook_cli exec p true
	assert_status 125
	assert_one_line_error "paused"
	run --separate-stderr nook_cli pause p
	assert_status 125
	run nook_cli unpause p
	assert_status 0
	wait_for_ps p Up
	run --separate-stderr nook_cli unpause p
	assert_status 125
	assert_one_line_error "container \`p\` is not paused"
	# stop of a paused container thaws it first
	run nook_cli pause p
	run nook_cli stop -t 1 p
	assert_status 0
	run nook_cli wait p
	assert_output 137
}

@test "every verb: an unknown container is one line naming it, exit 125" {
	for verb in logs attach stop kill wait start restart inspect pause unpause; do
		run --separate-stderr nook_cli "$verb" ghost
		assert_status 125
		assert_one_line_error "no container \`ghost\`"
	done
	run --separate-stderr nook_cli exec ghost true
	assert_status 125
	assert_one_line_error "no container \`ghost\`"
	run --separate-stderr nook_cli stats --no-stream ghost
	assert_status 125
	assert_one_line_error "no container \`ghost\`"
}

@test "every verb: bad flags and missing arguments are usage errors, exit 125" {
	for verb in ps logs attach stop kill wait start restart exec inspect stats pause unpause; do
		run --separate-stderr nook_cli "$verb" --bogus x
		assert_status 125
		assert_one_line_error "unknown option \`--bogus\`"
		run nook_cli "$verb" --help
		assert_status 0
		assert_output_contains "usage: nook $verb"
	done
	for verb in logs attach stop kill wait start restart exec inspect pause unpause; do
		run --separate-stderr nook_cli "$verb"
		assert_status 125
		assert_one_line_error "missing CONTAINER"
	done
	run --separate-stderr nook_cli logs --tail x c
	assert_status 125
	assert_one_line_error "--tail \`x\`"
	run --separate-stderr nook_cli logs --since yesterday c
	assert_status 125
	assert_one_line_error "--since \`yesterday\`"
	run --separate-stderr nook_cli stop -t x c
	assert_status 125
	assert_one_line_error "--time \`x\`"
	run --separate-stderr nook_cli exec c
	assert_status 125
	assert_one_line_error "missing COMMAND"
	run --separate-stderr nook_cli exec -w rel c true
	assert_status 125
	assert_one_line_error "--workdir \`rel\`"
	run --separate-stderr nook_cli attach --sig-proxy=maybe c
	assert_status 125
	assert_one_line_error "--sig-proxy"
	run --separate-stderr nook_cli ps extra
	assert_status 125
	assert_one_line_error "extra"
	run --separate-stderr nook_cli start -a c d
	assert_status 125
	assert_one_line_error "one CONTAINER"
}
