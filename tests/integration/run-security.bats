#!/usr/bin/env bats
# `nook run`'s confinement and resource flags: podman's default seccomp profile, capabilities,
# --privileged, cgroup limits, rlimits, bind mounts, tmpfs, devices and labels; and a clear
# one-line error for every bad value.

load helpers
load run-helpers

setup() {
	nook_run_setup
}

# status_field NAME: the value of NAME in the container's /proc/self/status, from $output.
status_field() {
	printf '%s\n' "$output" | awk -v n="$1:" '$1 == n { print $2 }'
}

# container_dir NAME: the store's directory of the container named NAME.
container_dir() {
	echo "$STORAGE/containers/$(readlink "$STORAGE/names/$1")"
}

# bad_flag MENTION ARGS...: `nook run ARGS busybox true` fails with 125, one line naming MENTION,
# and leaves no container behind.
bad_flag() {
	local mention=$1
	shift
	run --separate-stderr nrun --rm "$@" busybox true
	assert_status 125
	assert_one_line_error "$mention"
	[ ! -d "$STORAGE/containers" ] || [ -z "$(ls -A "$STORAGE/containers")" ]
}

@test "the default seccomp profile is podman's: filtered, and its EPERM rules hold" {
	# swapoff is denied by the profile even with CAP_SYS_ADMIN; unconfined, the kernel gets to
	# look for the file
	run nrun --rm --cap-add SYS_ADMIN busybox sh -c \
		'grep Seccomp: /proc/self/status; swapoff /nonexistent 2>&1'
	assert_status 1
	[ "$(status_field Seccomp)" = 2 ]
	assert_output_contains "swapoff: /nonexistent: Operation not permitted"
	run nrun --rm --cap-add SYS_ADMIN --security-opt seccomp=unconfined busybox sh -c \
		'grep Seccomp: /proc/self/status; swapoff /nonexistent 2>&1'
	assert_status 1
	[ "$(status_field Seccomp)" = 0 ]
	assert_output_contains "swapoff: /nonexistent: No such file or directory"
	# caps decide the profile's rules: without CAP_SYS_ADMIN unshare fails, with it it works
	run nrun --rm busybox unshare -m true
	assert_failure
	run nrun --rm --cap-add sys_admin busybox unshare -m true
	assert_status 0
	run nrun --name cfg --cap-drop sys_chroot busybox true
	assert_status 0
	cfg=$(container_dir cfg)/config.json
	jq -e '.linux.seccomp.defaultAction == "SCMP_ACT_ERRNO" and .linux.seccomp.defaultErrnoRet == 38' "$cfg"
	# chroot's allow rule needs CAP_SYS_CHROOT: only its EPERM rule is left
	jq -e '[.linux.seccomp.syscalls[] | select(.names | index("chroot"))] |
		length == 1 and .[0].action == "SCMP_ACT_ERRNO"' "$cfg"
}

@test "--security-opt seccomp=FILE: podman's format with includes, and an OCI object" {
	cat >"$TEST_DIR/profile.json" <<-'EOF'
	{"defaultAction": "SCMP_ACT_ALLOW",
	 "syscalls": [
	  {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
	  {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
	  {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["amd64", "arm64", "x86", "arm", "s390x", "ppc64le", "riscv64"]}}
	 ]}
	EOF
	run nrun --rm --security-opt seccomp="$TEST_DIR/profile.json" busybox sh -c \
		'mkdir /a 2>&1; chmod 700 /tmp && echo chmod-ok; rmdir /tmp && echo rmdir-ok'
	assert_output "mkdir: can't create directory '/a': Permission denied
chmod-ok
rmdir-ok"
	run nrun --rm --cap-add SYS_ADMIN --security-opt seccomp="$TEST_DIR/profile.json" busybox \
		sh -c 'rmdir /tmp 2>&1'
	assert_output_contains "Operation not permitted"
	# an OCI linux.seccomp object works as it is
	echo '{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
		"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}' \
		>"$TEST_DIR/oci.json"
	run nrun --rm --security-opt seccomp="$TEST_DIR/oci.json" busybox mkdir /a
	assert_status 1
	assert_output_contains "Function not implemented"
}

@test "--security-opt seccomp=FILE: errors name the flag, the file and the field" {
	echo '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW"},
		{"names":["b"],"action":"SCMP_ACT_ALLOW"},{"names":["c"],"action":"SCMP_ACT_ALLOW"},
		{"names":["d"],"action":"SCMP_ACT_FOO"}]}' >"$TEST_DIR/x.json"
	bad_flag "--security-opt seccomp=\`$TEST_DIR/x.json\`: syscalls[3].action: unknown action \`SCMP_ACT_FOO\`" \
		--security-opt seccomp="$TEST_DIR/x.json"
	echo '{"defaultAction":' >"$TEST_DIR/broken.json"
	bad_flag "--security-opt seccomp=\`$TEST_DIR/broken.json\`: invalid JSON" \
		--security-opt seccomp="$TEST_DIR/broken.json"
	bad_flag "--security-opt seccomp=\`$TEST_DIR/none.json\`: open" \
		--security-opt seccomp="$TEST_DIR/none.json"
	bad_flag "--security-opt \`apparmor=x\`: unknown option" --security-opt apparmor=x
	bad_flag "--security-opt \`no-new-privileges=maybe\`" --security-opt no-new-privileges=maybe
}

@test "--security-opt no-new-privileges" {
	run nrun --rm busybox grep NoNewPrivs: /proc/self/status
	[ "$(status_field NoNewPrivs)" = 0 ]
	run nrun --rm --security-opt no-new-privileges busybox grep -E 'NoNewPrivs|Seccomp:' /proc/self/status
	[ "$(status_field NoNewPrivs)" = 1 ]
	[ "$(status_field Seccomp)" = 2 ]
}

@test "--cap-add and --cap-drop change podman's set; another user gets them in bounding only" {
	# podman's default: chown dac_override fowner fsetid kill setgid setuid setpcap
	# net_bind_service sys_chroot setfcap = 0x800405fb
	run nrun --rm busybox grep CapEff: /proc/self/status
	[ "$(status_field CapEff)" = 00000000800405fb ]
	run nrun --rm --cap-add NET_ADMIN --cap-drop chown,cap_kill busybox grep CapEff: /proc/self/status
	[ "$(status_field CapEff)" = 00000000800415da ] # + bit 12, - bits 0 and 5
	run nrun --rm --cap-drop ALL --cap-add net_raw busybox grep -E 'CapEff|CapBnd' /proc/self/status
	[ "$(status_field CapEff)" = 0000000000002000 ]
	[ "$(status_field CapBnd)" = 0000000000002000 ]
	run nrun --rm -u nobody --cap-add NET_ADMIN busybox grep -E 'CapEff|CapBnd' /proc/self/status
	[ "$(status_field CapEff)" = 0000000000000000 ]
	[ "$(status_field CapBnd)" = 00000000800415fb ]
	# the capability is really there: NET_ADMIN can bring a link up in the container's netns
	run nrun --rm busybox ip link set lo down
	assert_failure
	run nrun --rm --cap-add net_admin busybox ip link set lo down
	assert_status 0
}

@test "--privileged: all of nook's capabilities, no seccomp, no masked paths, rw /sys, any device" {
	local prm
	prm=$(awk '$1 == "CapPrm:" { print $2 }' /proc/self/status)
	run nrun --rm --privileged busybox sh -c 'grep -E "CapEff|Seccomp:" /proc/self/status
		wc -c </proc/timer_list; grep " /sys " /proc/self/mountinfo | cut -d" " -f6 | cut -d, -f1
		mknod /dev/k c 1 11 && exec 3>/dev/k && echo opened'
	assert_status 0
	[ "$(status_field CapEff)" = "$prm" ]
	[ "$(status_field Seccomp)" = 0 ]
	[ "$(printf '%s\n' "$output" | sed -n 3p)" -gt 0 ] # /proc/timer_list is not masked
	[ "$(printf '%s\n' "$output" | sed -n 4p)" = rw ]
	assert_output_contains opened
	# without it: masked, read-only, and the device cgroup refuses the node
	run nrun --rm --cap-add MKNOD busybox sh -c 'wc -c </proc/timer_list
		grep " /sys " /proc/self/mountinfo | cut -d" " -f6 | cut -d, -f1
		mknod /dev/k c 1 11 && exec 3>/dev/k && echo opened'
	assert_output_contains "0
ro"
	assert_output_contains "Operation not permitted"
	[[ "$output" != *opened* ]]
}

@test "--memory, --memory-swap, --cpus, --cpu-shares, --pids-limit: the container's cgroup" {
	local id pid cg_path mem
	run nrun --rm --memory 64m --cpus 1.5 --cpu-shares 512 --pids-limit 100 busybox sh -c '
		cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes \
		cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares pids/pids.max'
	assert_status 0
	assert_output "67108864
134217728
150000
100000
512
100"
	run nrun --rm --memory 64m --memory-swap -1 --pids-limit 0 busybox sh -c \
		'cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/pids/pids.max'
	[ "$(printf '%s\n' "$output" | sed -n 2p)" = max ]
	[ "$(printf '%s\n' "$output" | sed -n 1p)" -gt 134217728 ]
	# podman's default pids limit
	run nrun --rm busybox cat /sys/fs/cgroup/pids/pids.max
	assert_output 2048
	# seen from the host: the cgroup of the container's init, found through `nook oci state`
	nrun --name mem --memory 32m busybox sleep 60 &
	for _ in $(seq 100); do
		id=$(basename "$(container_dir mem 2>/dev/null)" 2>/dev/null)
		pid=$(runtime_direct state "$id" 2>/dev/null | jq -r '.pid // empty')
		[ -n "$pid" ] && [ "$pid" != 0 ] && break
		sleep 0.1
	done
	[ -n "$pid" ]
	cg_path=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
	mem=$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/self/mounts)
	[[ "$cg_path" == */$CGP/$id ]]
	[ "$(cat "$mem$cg_path/memory.limit_in_bytes")" = 33554432 ]
	run nook_cli rm -f mem
	assert_status 0
	wait
}

@test "--ulimit: soft and hard limits; raising the hard limit past nook's own is refused clearly" {
	local hard
	run nrun --rm --ulimit nofile=1000:2000 --ulimit nproc=300 --ulimit core=-1 busybox sh -c \
		'ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu; ulimit -c'
	assert_status 0
	assert_output "1000
2000
300
300
unlimited"
	hard=$(ulimit -Hn)
	if prlimit --nofile=$((hard + 1)) true 2>/dev/null; then
		skip "this machine may raise the nofile hard limit past $hard"
	fi
	bad_flag "--ulimit \`nofile=$((hard + 1))\`: the hard limit cannot be raised above nook's own ($hard)" \
		--ulimit nofile=$((hard + 1))
}

@test "-v and --mount: a rw bind writes to the host, a ro bind refuses writes" {
	mkdir -p "$TEST_DIR/rw" "$TEST_DIR/ro"
	echo seed >"$TEST_DIR/ro/file"
	run nrun --rm -v "$TEST_DIR/rw:/data" -v "$TEST_DIR/ro:/ro:ro,z" busybox sh -c \
		'echo written >/data/new; cat /ro/file; echo x >/ro/file 2>&1; touch /ro/other 2>&1'
	assert_output_contains seed
	assert_output_contains "Read-only file system"
	[ "$(cat "$TEST_DIR/rw/new")" = written ]
	[ "$(cat "$TEST_DIR/ro/file")" = seed ]
	[ ! -e "$TEST_DIR/ro/other" ]
	run nrun --rm --mount "type=bind,src=$TEST_DIR/rw,dst=/m,ro" \
		--mount "type=bind,source=$TEST_DIR/ro,target=/w" busybox sh -c \
		'cat /m/new; touch /m/x 2>&1; echo more >/w/more'
	assert_output "written
touch: /m/x: Read-only file system"
	[ "$(cat "$TEST_DIR/ro/more")" = more ]
	# a file can be bound too
	run nrun --rm -v "$TEST_DIR/ro/file:/etc/motd:ro" busybox cat /etc/motd
	assert_output seed
}

@test "--tmpfs and --mount type=tmpfs: private tmpfs with the given options" {
	run nrun --rm --tmpfs /scratch:size=1m,mode=700 --mount type=tmpfs,dst=/t2,tmpfs-size=2m \
		--read-only busybox sh -c 'echo hi >/scratch/f && cat /scratch/f; stat -c %a /scratch
		grep -E " /(scratch|t2) " /proc/self/mountinfo | sed "s/.* - //"'
	assert_status 0
	assert_output "hi
700
tmpfs tmpfs rw,size=1024k,mode=700
tmpfs tmpfs rw,size=2048k"
	# noexec by default, as podman's, unless exec is asked for
	run nrun --rm --tmpfs /s busybox sh -c 'cp /bin/busybox /s/ && /s/busybox true'
	assert_failure
	run nrun --rm --tmpfs /s:exec busybox sh -c 'cp /bin/busybox /s/ && /s/busybox true'
	assert_status 0
}

@test "--device: the host node under another name, allowed by the device cgroup" {
	run nrun --rm --device /dev/null:/dev/n2 busybox sh -c \
		'stat -c "%F %t %T" /dev/n2; echo x >/dev/n2 && echo wrote'
	assert_status 0
	assert_output "character special file 1 3
wrote"
	# a node the cgroup does not allow is refused; --device allows it
	run nrun --rm --cap-add MKNOD busybox sh -c 'mknod /dev/k c 1 11 && exec 3>/dev/k'
	assert_failure
	assert_output_contains "Operation not permitted"
	run nrun --rm --device /dev/kmsg:/dev/k:w busybox sh -c 'exec 3>/dev/k && echo opened'
	assert_status 0
	assert_output opened
}

@test "--device HOST:CTR:r: read only, the device cgroup refuses a write open" {
	[ -c /dev/loop-control ] || skip "no /dev/loop-control on this host"
	run nrun --rm --device /dev/loop-control:/dev/lc:r busybox sh -c \
		'exec 3</dev/lc && echo read-opened; exec 4>/dev/lc && echo write-opened'
	assert_failure
	assert_output_contains read-opened
	assert_output_contains "Operation not permitted"
	[[ "$output" != *write-opened* ]]
	run nrun --rm --device /dev/loop-control:/dev/lc busybox sh -c 'exec 4>/dev/lc && echo write-opened'
	assert_status 0
	assert_output write-opened
}

@test "--label: annotations over the image's" {
	run nrun --name lab --label org.example.k=v --label flag busybox true
	assert_status 0
	jq -e '.annotations["org.example.k"] == "v" and .annotations.flag == ""' \
		"$(container_dir lab)/config.json"
}

@test "bad values: one line naming the flag, exit 125, nothing left" {
	bad_flag "--privileged" --privileged=yes
	bad_flag "--cap-add \`FOO\`: unknown capability" --cap-add FOO
	bad_flag "--cap-drop \`x\`" --cap-drop x
	bad_flag "--cap-add and --cap-drop both name \`CAP_CHOWN\`" --cap-add chown --cap-drop CAP_CHOWN
	bad_flag "choose one" --cap-add ALL --cap-drop ALL
	bad_flag "--memory \`12x\`: not a size" --memory 12x
	bad_flag "--memory \`1m\`: below the minimum" --memory 1m
	bad_flag "--memory-swap \`lots\`" --memory-swap lots
	bad_flag "--memory-swap needs --memory" --memory-swap 1g
	bad_flag "--memory-swap 10485760 is below --memory" --memory 20m --memory-swap 10m
	bad_flag "--cpus \`abc\`" --cpus abc
	bad_flag "--cpus \`0\`: at least 0.01" --cpus 0
	bad_flag "--cpu-shares \`1\`" --cpu-shares 1
	bad_flag "--pids-limit \`-2\`" --pids-limit -2
	bad_flag "--ulimit \`nofile\`: not NAME=SOFT[:HARD]" --ulimit nofile
	bad_flag "--ulimit \`files=1\`: unknown limit" --ulimit files=1
	bad_flag "--ulimit \`nofile=2:1\`: the soft limit is above the hard limit" --ulimit nofile=2:1
	bad_flag "-v \`data:/data\`: named volumes are not supported yet" -v data:/data
	bad_flag "-v \`/data\`: anonymous volumes are not supported yet" -v /data
	bad_flag "-v \`$TEST_DIR/nope:/data\`: the source \`$TEST_DIR/nope\`: No such file" \
		-v "$TEST_DIR/nope:/data"
	bad_flag "-v \`/tmp:data\`: the destination \`data\` is not an absolute path" -v /tmp:data
	bad_flag "-v \`/tmp:/x:rx\`: unknown option \`rx\`" -v /tmp:/x:rx
	bad_flag "--mount \`type=volume,src=v,dst=/v\`: type \`volume\` is not supported" \
		--mount type=volume,src=v,dst=/v
	bad_flag "--mount \`src=/tmp,dst=/v\`: type= is required" --mount src=/tmp,dst=/v
	bad_flag "--mount \`type=bind,dst=/v\`: source= is required" --mount type=bind,dst=/v
	bad_flag "--tmpfs \`tmp\`" --tmpfs tmp
	bad_flag "--tmpfs \`/t:size=lots\`: bad value" --tmpfs /t:size=lots
	bad_flag "\`/t\` is already a mount destination" --tmpfs /t --tmpfs /t
	bad_flag "--device \`/dev/nope\`: No such file" --device /dev/nope
	bad_flag "--device \`/tmp\`: \`/tmp\` is not a device node" --device /tmp
	bad_flag "--device \`/dev/null:/dev/n:rwx\`" --device /dev/null:/dev/n:rwx
	bad_flag "--label \`=v\`" --label =v
}
