#!/usr/bin/env bats
# The container process: env, cwd, user, capabilities, rlimits, no_new_privs, oom score, sysctl,
# umask.

load helpers

# status_field NAME: print field NAME of /proc/self/status as the container saw it ($output).
status_field() {
	awk -v f="$1:" '$1 == f { print $2 }' <<<"$output"
}

@test "env is exactly what the config says (plus nothing secret from the host)" {
	update_config '.process.env = ["PATH=/bin", "FOO=bar baz", "EMPTY=", "MULTI=a=b=c", $m]' \
		--arg m "$(container_env_marker)"
	export NOOK_HOST_ONLY=leak
	set_args env
	run run_container env
	assert_status 0
	grep -qx 'FOO=bar baz' <<<"$output"
	grep -qx 'EMPTY=' <<<"$output"
	grep -qx 'MULTI=a=b=c' <<<"$output"
	grep -qx 'PATH=/bin' <<<"$output"
	! grep -q NOOK_HOST_ONLY <<<"$output"
	! grep -q '^BATS_' <<<"$output"
}

@test "cwd is applied" {
	mkdir -p "$BUNDLE/rootfs/work/dir"
	update_config '.process.cwd = "/work/dir"'
	set_args pwd
	run run_container cwd
	assert_status 0
	assert_output /work/dir
}

@test "user: uid, gid and additionalGids" {
	update_config '.process.user = {"uid": 1000, "gid": 1001, "additionalGids": [5, 100, 65534]}'
	set_args sh -c 'id -u; id -g; grep -E "^(Uid|Gid|Groups):" /proc/self/status'
	run run_container user
	assert_status 0
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 1001 ]
	[ "$(echo ${lines[2]})" = "Uid: 1000 1000 1000 1000" ]
	[ "$(echo ${lines[3]})" = "Gid: 1001 1001 1001 1001" ]
	[ "$(echo ${lines[4]})" = "Groups: 5 100 65534" ]
}

@test "user: root without additionalGids has no supplementary groups" {
	set_args grep -E '^Groups:' /proc/self/status
	run run_container rootgroups
	assert_status 0
	[ "$(echo $output)" = "Groups:" ] || [ "$(echo $output)" = "Groups: 0" ]
}

@test "user: a non-root user cannot write where root can" {
	update_config '.process.user = {"uid": 65534, "gid": 65534}'
	set_args sh -c 'touch /root/x; echo rc=$?; id'
	run run_container nobody
	assert_status 0
	assert_output_contains "rc=1"
	assert_output_contains "uid=65534(nobody) gid=65534(nobody)"
}

@test "capabilities: root gets exactly the configured set" {
	# CAP_CHOWN (0) and CAP_KILL (5): 0x21.
	update_config '.process.capabilities = {
		"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN", "CAP_KILL"],
		"permitted": ["CAP_CHOWN", "CAP_KILL"], "inheritable": [], "ambient": []}'
	set_args cat /proc/self/status
	run run_container capsroot
	assert_status 0
	[ "$(status_field CapBnd)" = 0000000000000021 ]
	[ "$(status_field CapEff)" = 0000000000000021 ]
	[ "$(status_field CapPrm)" = 0000000000000021 ]
	[ "$(status_field CapInh)" = 0000000000000000 ]
	[ "$(status_field CapAmb)" = 0000000000000000 ]
}

@test "capabilities: a non-root user keeps only its ambient set" {
	update_config '.process.user = {"uid": 1000, "gid": 1000}
		| .process.capabilities = {
		"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_KILL"],
		"permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}'
	set_args cat /proc/self/status
	run run_container capsuser
	assert_status 0
	[ "$(status_field CapBnd)" = 0000000000000021 ]
	[ "$(status_field CapEff)" = 0000000000000020 ]
	[ "$(status_field CapPrm)" = 0000000000000020 ]
	[ "$(status_field CapAmb)" = 0000000000000020 ]
}

@test "capabilities: the default set does not include CAP_SYS_ADMIN" {
	set_args sh -c 'grep CapEff /proc/self/status; mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>&1; echo rc=$?'
	run run_container capsdefault
	assert_status 0
	eff=$(awk '/CapEff/ { print $2 }' <<<"$output")
	# CAP_SYS_ADMIN is bit 21.
	(((0x$eff & (1 << 21)) == 0))
	assert_output_contains "permission denied"
	! grep -qx "rc=0" <<<"$output"
}

@test "capabilities: an unknown capability is ignored with a warning naming it" {
	# runtime-spec: values that cannot be mapped MUST be logged as a warning; runtimes SHOULD
	# NOT fail.
	update_config '.process.capabilities.bounding += ["CAP_NOOK_NOPE"]'
	set_args echo ran
	run --separate-stderr run_container badcap
	assert_status 0
	assert_output ran
	[[ "$stderr" == *CAP_NOOK_NOPE* ]]
}

@test "rlimits: RLIMIT_NOFILE soft and hard" {
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1234, "hard": 2345},
		{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]'
	set_args sh -c 'ulimit -n; ulimit -H -n; ulimit -c'
	run run_container rlimits
	assert_status 0
	[ "${lines[0]}" = 1234 ]
	[ "${lines[1]}" = 2345 ]
	[ "${lines[2]}" = 0 ]
}

# nofile_over_hard: the host's hard RLIMIT_NOFILE plus 1000, or skip when the runtime could
# raise it (CAP_SYS_RESOURCE, bit 24) or there is no limit.
nofile_over_hard() {
	local hard eff
	hard=$(ulimit -H -n)
	[ "$hard" != unlimited ] || skip "RLIMIT_NOFILE is unlimited"
	eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
	(((0x$eff & (1 << 24)) == 0)) || skip "the host has CAP_SYS_RESOURCE: limits can be raised"
	echo $((hard + 1000))
}

@test "rlimits: a limit above the host's hard limit fails" {
	n=$(nofile_over_hard)
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": $n, "hard": $n}]' \
		--argjson n "$n"
	run --separate-stderr run_container rlimitbig
	assert_failure
	[ -n "$stderr" ]
	state_root_is_empty
	run marker_pids
	assert_output ""
}

@test "rlimits: a limit above the host's hard limit: one line naming RLIMIT_NOFILE" {
	require_nook "exact error line"
	n=$(nofile_over_hard)
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": $n, "hard": $n}]' \
		--argjson n "$n"
	run --separate-stderr run_container rlimitbig
	assert_status 1
	assert_one_line_error RLIMIT_NOFILE
}

@test "rlimits: an unknown type is refused" {
	update_config '.process.rlimits = [{"type": "RLIMIT_NOOK", "soft": 1, "hard": 1}]'
	run --separate-stderr run_container badrlimit
	assert_failure
	[[ "$stderr" == *RLIMIT_NOOK* ]]
}

@test "noNewPrivileges true sets NoNewPrivs" {
	update_config '.process.noNewPrivileges = true'
	set_args cat /proc/self/status
	run run_container nnp
	assert_status 0
	[ "$(status_field NoNewPrivs)" = 1 ]
}

@test "noNewPrivileges false leaves NoNewPrivs unset" {
	update_config '.process.noNewPrivileges = false'
	set_args cat /proc/self/status
	run run_container nonnp
	assert_status 0
	[ "$(status_field NoNewPrivs)" = 0 ]
}

@test "oomScoreAdj is applied" {
	update_config '.process.oomScoreAdj = 567'
	set_args cat /proc/self/oom_score_adj
	run run_container oom
	assert_status 0
	assert_output 567
}

@test "sysctl net.ipv4.ip_forward in a new network namespace, host untouched" {
	before=$(cat /proc/sys/net/ipv4/ip_forward)
	want=$((1 - before))
	update_config '.linux.sysctl = {"net.ipv4.ip_forward": ($w | tostring)}' --argjson w "$want"
	set_args cat /proc/sys/net/ipv4/ip_forward
	run run_container sysctl
	assert_status 0
	assert_output "$want"
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$before" ]
}

@test "sysctl: a non-namespaced sysctl is refused" {
	update_config '.linux.sysctl = {"vm.swappiness": "10"}'
	before=$(cat /proc/sys/vm/swappiness)
	run run_container badsysctl
	assert_failure
	[ "$(cat /proc/sys/vm/swappiness)" = "$before" ]
	state_root_is_empty
}

@test "umask is applied" {
	update_config '.process.user.umask = 23'
	set_args sh -c 'umask; touch /tmp/f; stat -c %a /tmp/f'
	run run_container umask
	assert_status 0
	[ "${lines[0]}" = 0027 ]
	[ "${lines[1]}" = 640 ]
}

@test "the process is the exec'ed binary itself, not a wrapper" {
	set_args sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; readlink /proc/1/exe'
	run run_container exe
	assert_status 0
	[ "${lines[0]}" = "sh -c cat /proc/1/cmdline | tr \"\\0\" \" \"; echo; readlink /proc/1/exe " ]
	[ "${lines[1]}" = /bin/busybox ]
}
