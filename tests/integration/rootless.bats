#!/usr/bin/env bats
# Rootless nook-runc: an unprivileged user runs the config of `spec --rootless` (a user
# namespace mapping the caller to root, no network namespace, /sys bound from the host), as
# with `runc --rootless`: the state under $XDG_RUNTIME_DIR/nook, the caller's own id mapped
# without helpers (newuidmap/newgidmap for more), no cgroup when the user may not create one.
# The user is made for each test and removed in the teardown.

load helpers

setup() {
	nook_setup
	require_nook "rootless defaults and messages"
	command -v useradd >/dev/null && command -v userdel >/dev/null || skip "no useradd"
	command -v setpriv >/dev/null || skip "no setpriv"
	RL_USER=nookrl$$
	useradd -M -N -s /usr/sbin/nologin "$RL_USER" || skip "useradd failed"
	on_teardown 'rl_cleanup'
	RL_UID=$(id -u "$RL_USER")
	RL_GID=$(id -g "$RL_USER")
	XDG=$TEST_DIR/xdg
	mkdir -m 0700 "$XDG"
	chown "$RL_USER:$RL_GID" "$XDG" "$ROOT"
	# The bundle: the rootfs as root made it (readable by all), config.json by the user.
	RL_BUNDLE=$TEST_DIR/rl
	mkdir "$RL_BUNDLE"
	cp -a "$(nook_rootfs_cache)" "$RL_BUNDLE/rootfs"
	chown "$RL_USER:$RL_GID" "$RL_BUNDLE"
	(cd "$RL_BUNDLE" && as_user spec --rootless)
	rl_config '.process.terminal = false | .process.args = ["id"]
		| .process.env += [$marker] | .linux.cgroupsPath = $cg' \
		--arg cg "$CG_PARENT/$TEST_TAG-rl" --arg marker "$(container_env_marker)"
}

# rl_cleanup: what the user left in the XDG root (the suite only looks at $ROOT), then the user.
rl_cleanup() {
	local id
	for id in $(ls -A "$XDG/nook" 2>/dev/null); do
		runtime_direct --root "$XDG/nook" delete --force "$id" >/dev/null 2>&1
	done
	[ -z "${RL_SUBID:-}" ] || sed -i "/^$RL_USER:/d" /etc/subuid /etc/subgid
	userdel "$RL_USER" 2>/dev/null || true
}

# as_user_env ENV... -- ARGS...: the runtime as the test's user in the bundle, with
# XDG_RUNTIME_DIR=$XDG and the ENV assignments (no --root unless given).  As runtime() does,
# stdout and stderr go through files: a created container's init keeps the caller's stdio open.
as_user_env() {
	local envs=() rc=0 buf
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	buf=$(mktemp "$TEST_DIR/rl-io.XXXXXX") || return 1
	(cd "$RL_BUNDLE" && timeout -k 5 "$NOOK_TEST_TIMEOUT" setpriv --reuid "$RL_UID" \
		--regid "$RL_GID" --init-groups env XDG_RUNTIME_DIR="$XDG" "${envs[@]}" \
		"${RUNTIME_CMD[@]}" "$@" >"$buf.out" 2>"$buf.err" 3>&-) || rc=$?
	cat "$buf.out"
	cat "$buf.err" >&2
	rm -f "$buf" "$buf.out" "$buf.err"
	return "$rc"
}

# as_user ARGS...: as_user_env without extra environment.
as_user() {
	as_user_env -- "$@"
}

# rl_config FILTER [JQ ARGS...]: edit the rootless bundle's config.json.
rl_config() {
	local filter=$1
	shift
	jq "$@" "$filter" "$RL_BUNDLE/config.json" >"$RL_BUNDLE/config.json.new" &&
		cat "$RL_BUNDLE/config.json.new" >"$RL_BUNDLE/config.json" && rm "$RL_BUNDLE/config.json.new"
}

# only_cgroup_warning: the one line nook prints when it goes on without a cgroup, or nothing (a
# host that delegates a cgroup to the user).
only_cgroup_warning() {
	local line
	for line in "${stderr_lines[@]}"; do
		[[ "$line" == *"warning: rootless: no cgroup for container"* ]] || {
			printf 'unexpected stderr: %s\n' "$stderr" >&2
			return 1
		}
	done
	[ "${#stderr_lines[@]}" -le 1 ]
}

@test "rootless: run as an unprivileged user is root inside" {
	run --separate-stderr as_user --root "$ROOT" run rl1
	assert_status 0
	assert_output_contains "uid=0(root) gid=0(root)"
	only_cgroup_warning
	state_root_is_empty
	[ -z "$(cgroup_dirs rl)" ]
}

@test "rootless: create, start, state, ps, kill --all, delete; pause and update need a cgroup" {
	rl_config '.process.args = ["sleep", "1000"]'
	run --separate-stderr as_user --root "$ROOT" create rl2
	assert_status 0
	only_cgroup_warning
	[ -d "$ROOT/rl2" ]
	[ "$(stat -c %u "$ROOT/rl2")" = "$RL_UID" ]

	run as_user --root "$ROOT" start rl2
	assert_status 0
	run as_user --root "$ROOT" state rl2
	assert_status 0
	pid=$(jq -r .pid <<<"$output")
	[ "$(jq -r .status <<<"$output")" = running ]
	# Outside, the process runs as the user.
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = "$RL_UID" ]
	run as_user --root "$ROOT" ps rl2
	assert_status 0
	assert_output_contains "$pid"
	run as_user --root "$ROOT" exec rl2 id -u
	assert_status 0
	assert_output 0

	if [ -z "$(cgroup_dirs rl)" ]; then
		run --separate-stderr as_user --root "$ROOT" pause rl2
		assert_failure
		assert_one_line_error "container \`rl2\` has no cgroup"
		run --separate-stderr as_user --root "$ROOT" update --pids-limit 10 rl2
		assert_failure
		assert_one_line_error "has no cgroup"
	fi

	run as_user --root "$ROOT" kill --all rl2 KILL
	assert_status 0
	for _ in $(seq 50); do
		[ "$(as_user --root "$ROOT" state rl2 | jq -r .status)" = stopped ] && break
		sleep 0.1
	done
	run as_user --root "$ROOT" delete rl2
	assert_status 0
	state_root_is_empty
	[ -z "$(cgroup_dirs rl)" ]
	run marker_pids
	assert_output ""
}

@test "rootless: the state root defaults to \$XDG_RUNTIME_DIR/nook" {
	rl_config '.process.args = ["sleep", "1000"]'
	run as_user create rl3
	assert_status 0
	[ -d "$XDG/nook/rl3" ]
	run as_user delete --force rl3
	assert_status 0
	[ ! -e "$XDG/nook/rl3" ]

	run --separate-stderr as_user_env XDG_RUNTIME_DIR= -- list
	assert_failure
	assert_one_line_error XDG_RUNTIME_DIR --root
}

@test "rootless: oomScoreAdj below the current one is left as it is, with a warning" {
	rl_config '.process.oomScoreAdj = -500 | .process.args = ["cat", "/proc/self/oom_score_adj"]'
	run --separate-stderr as_user --root "$ROOT" run rl4
	assert_status 0
	assert_output 0
	[[ "$stderr" == *"process.oomScoreAdj: cannot lower it to -500"* ]]
}

@test "rootless: an rlimit above the hard limit is a clear error" {
	hard=$(setpriv --reuid "$RL_UID" --regid "$RL_GID" --init-groups sh -c 'ulimit -Hn')
	[ "$hard" != unlimited ] || skip "the hard RLIMIT_NOFILE is unlimited"
	rl_config '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 1024, hard: ($h + 1)}]' \
		--argjson h "$hard"
	run --separate-stderr as_user --root "$ROOT" run rl5
	assert_failure
	[[ "$stderr" == *"process.rlimits: RLIMIT_NOFILE: cannot raise hard limit to $((hard + 1))"* ]]
	state_root_is_empty
}

@test "rootless: several ids need newuidmap (package uidmap) and /etc/subuid" {
	rl_config '.process.args = ["cat", "/proc/self/uid_map"]
		| .linux.uidMappings += [{containerID: 1, hostID: 431000, size: 10}]'
	# Without the helper: a clear error naming it.
	run --separate-stderr as_user_env PATH=/nonexistent -- --root "$ROOT" run rl6
	assert_failure
	[[ "$stderr" == *"linux.uidMappings: more than the caller's own id needs the setuid helper \`newuidmap\` (package uidmap)"* ]]
	state_root_is_empty

	command -v newuidmap >/dev/null || skip "newuidmap is not installed"
	# With the helper but no /etc/subuid entry: its own message.
	run --separate-stderr as_user --root "$ROOT" run rl6
	assert_failure
	[[ "$stderr" == *"newuidmap\` failed: "* ]]
	state_root_is_empty

	RL_SUBID=1
	echo "$RL_USER:431000:10" >>/etc/subuid
	run --separate-stderr as_user --root "$ROOT" run rl6
	assert_status 0
	assert_output_contains "431000"
	state_root_is_empty
}
