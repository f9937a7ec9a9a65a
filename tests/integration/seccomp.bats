#!/usr/bin/env bats
# linux.seccomp: actions, errnoRet, argument filters, the default action with an allow list,
# the apply order without no_new_privs, config errors, and the listenerPath notify agent.

load helpers

NOOK_SECCOMP_AGENT=$NOOK_SRCDIR/tests/helpers/seccomp-agent.py

# The cache nook keeps beside the containers is not a container's state.
seccomp_setup() {
	on_teardown 'rm -rf "$ROOT/.seccomp-cache"'
}

# set_seccomp JSON: set linux.seccomp.
set_seccomp() {
	seccomp_setup
	update_config '.linux.seccomp = $s' --argjson s "$1"
}

# A profile allowing everything but NAMES (a JSON array) with ACTION (and more rule fields).
deny_profile() {
	local names=$1 action=$2 extra=${3:-}
	printf '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":%s,"action":"%s"%s}]}' \
		"$names" "$action" "$extra"
}

# What busybox sh, its applets and the runtime's own init need between loading the filter
# and execve (runc's Go runtime included).
ALLOW_LIST='["accept","accept4","access","arch_prctl","bind","brk","capget","capset","chdir",
"chmod","chown","clock_getres","clock_gettime","clock_nanosleep","clone","clone3","close",
"close_range","connect","dup","dup2","dup3","epoll_create","epoll_create1","epoll_ctl",
"epoll_pwait","epoll_wait","execve","execveat","exit","exit_group","faccessat","faccessat2",
"fchdir","fchmod","fchmodat","fchown","fchownat","fcntl","fdatasync","fstat","fstatfs","fsync",
"ftruncate","futex","getcwd","getdents","getdents64","getegid","geteuid","getgid","getgroups",
"getpeername","getpgid","getpgrp","getpid","getppid","getpriority","getrandom","getresgid",
"getresuid","getrlimit","getrusage","getsid","getsockname","getsockopt","gettid",
"gettimeofday","getuid","getxattr","ioctl","kill","lgetxattr","listen","lseek","lstat",
"madvise","membarrier","mmap","mprotect","mremap","munmap","nanosleep","newfstatat","open",
"openat","openat2","pipe","pipe2","poll","ppoll","prctl","pread64","prlimit64","pselect6",
"read","readlink","readlinkat","readv","recvfrom","recvmsg","restart_syscall","rseq",
"rt_sigaction","rt_sigprocmask","rt_sigreturn","rt_sigsuspend","sched_getaffinity",
"sched_yield","select","sendmsg","sendto","set_robust_list","set_tid_address","setgid",
"setgroups","setitimer","setpgid","setresgid","setresuid","setsid","setsockopt","setuid",
"shutdown","sigaltstack","socket","socketpair","stat","statfs","statx","sysinfo","tgkill",
"time","tkill","umask","uname","unlink","unlinkat","wait4","waitid","write","writev"]'

@test "an ERRNO rule denies mkdir with EPERM" {
	set_seccomp "$(deny_profile '["mkdir","mkdirat"]' SCMP_ACT_ERRNO)"
	set_args sh -c 'mkdir /tmp/x; echo rc=$?; touch /tmp/y && echo touched'
	run run_container deny
	assert_status 0
	assert_output_contains "Operation not permitted"
	assert_output_contains "rc=1"
	assert_output_contains "touched"
}

@test "errnoRet is the errno the syscall fails with" {
	set_seccomp "$(deny_profile '["mkdir","mkdirat"]' SCMP_ACT_ERRNO ',"errnoRet":38')"
	set_args mkdir /tmp/x
	run run_container errnoret
	assert_status 1
	assert_output_contains "Function not implemented"
}

@test "an args rule matches only the given argument" {
	set_seccomp "$(deny_profile '["kill"]' SCMP_ACT_ERRNO \
		',"args":[{"index":1,"value":10,"op":"SCMP_CMP_EQ"}]')"
	set_args sh -c 'kill -0 $$ && echo zero-ok; kill -USR1 $$ || echo usr1-denied'
	run run_container args
	assert_status 0
	assert_output_contains "zero-ok"
	assert_output_contains "usr1-denied"
}

@test "unknown syscall names are skipped" {
	set_seccomp "$(deny_profile '["no_such_syscall_nook","mkdir","mkdirat"]' SCMP_ACT_ERRNO)"
	set_args mkdir /tmp/x
	run run_container unknown
	assert_status 1
	assert_output_contains "Operation not permitted"
}

@test "KILL_PROCESS kills the container with SIGSYS (exit 159)" {
	set_seccomp "$(deny_profile '["mkdir","mkdirat"]' SCMP_ACT_KILL_PROCESS)"
	set_args mkdir /tmp/x
	run run_container killproc
	assert_status 159
}

@test "defaultAction ERRNO with an allow list runs busybox sh" {
	set_seccomp "$(jq -cn --argjson allow "$ALLOW_LIST" \
		'{defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
		  syscalls: [{names: $allow, action: "SCMP_ACT_ALLOW"}]}')"
	set_args sh -c 'echo hello; ls / >/dev/null && echo listed; mkdir /tmp/x || echo no-mkdir'
	run run_container allowlist
	assert_status 0
	assert_output_contains "hello"
	assert_output_contains "listed"
	assert_output_contains "no-mkdir"
}

@test "seccomp applies with noNewPrivileges false (loaded before the identity switch)" {
	update_config '.process.noNewPrivileges = false | .process.user = {"uid": 1000, "gid": 1000}'
	set_seccomp "$(deny_profile '["mkdir","mkdirat"]' SCMP_ACT_ERRNO)"
	set_args sh -c 'id -u; grep NoNewPrivs /proc/self/status; mkdir /tmp/x'
	run run_container nonnp
	assert_status 1
	assert_output_contains "1000"
	assert_output_contains "Operation not permitted"
	grep -Eq 'NoNewPrivs:[[:space:]]+0' <<<"$output"
}

@test "a second run uses the same profile again (cached for nook)" {
	set_seccomp "$(deny_profile '["mkdir","mkdirat"]' SCMP_ACT_ERRNO ',"errnoRet":38')"
	set_args mkdir /tmp/x
	run run_container cache1
	assert_status 1
	assert_output_contains "Function not implemented"
	run run_container cache2
	assert_status 1
	assert_output_contains "Function not implemented"
	if is_nook; then
		[ "$(find "$ROOT/.seccomp-cache" -name '*.bpf' | wc -l)" = 1 ]
		[ "$(stat -c %a "$ROOT/.seccomp-cache")" = 700 ]
	fi
}

@test "an unknown action fails create with one line naming linux.seccomp" {
	require_nook "message"
	set_seccomp "$(deny_profile '["mkdir"]' SCMP_ACT_FOO)"
	run --separate-stderr create_container badaction
	[ "$status" -ne 0 ]
	stderr=$(cat "$TEST_DIR/$(stdio_name badaction).err")
	mapfile -t stderr_lines <<<"$stderr"
	assert_one_line_error "linux.seccomp" "SCMP_ACT_FOO"
	state_root_is_empty || [ "$(ls -A "$ROOT")" = .seccomp-cache ]
}

@test "an architecture libseccomp does not know fails with one line naming it" {
	require_nook "message"
	set_seccomp '{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_LOONGARCH64"]}'
	run --separate-stderr create_container badarch
	if [ "$status" -eq 0 ]; then
		skip "this libseccomp knows loongarch64"
	fi
	stderr=$(cat "$TEST_DIR/$(stdio_name badarch).err")
	mapfile -t stderr_lines <<<"$stderr"
	assert_one_line_error "linux.seccomp.architectures[0]" "SCMP_ARCH_LOONGARCH64"
}

@test "listenerPath: the agent gets the notify fd and containerProcessState with metadata" {
	local sock=$TEST_DIR/agent.sock out=$TEST_DIR/agent.json
	python3 "$NOOK_SECCOMP_AGENT" "$sock" "$out" --timeout 30 3>&- &
	wait_for_socket "$sock"
	set_seccomp "$(jq -cn --arg sock "$sock" '{defaultAction: "SCMP_ACT_ALLOW", listenerPath: $sock,
		listenerMetadata: "meta=data;x", syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY"}]}')"
	set_args sh -c 'mkdir /tmp/x && echo made; [ -d /tmp/x ] || echo absent'
	run run_container notify
	assert_status 0
	assert_output_contains "made"
	assert_output_contains "absent"
	[ "$(jq -r .metadata "$out")" = "meta=data;x" ]
	[ "$(jq -c .fds "$out")" = '["seccompFd"]' ]
	[ "$(jq -r .state.id "$out")" = notify ]
	[ "$(jq -r .pid "$out")" -gt 0 ]
	[ "$(jq -r .pid "$out")" = "$(jq -r .state.pid "$out")" ]
	grep -q '^notified ' "$out.notify"
}
