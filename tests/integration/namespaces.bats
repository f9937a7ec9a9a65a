#!/usr/bin/env bats
# Namespaces: pid, uts, network (new and joined by path), ipc, user, cgroup, time.

load helpers

# ns_of NS: the host's namespace link of kind NS (e.g. "net:[4026531840]").
ns_of() {
	readlink "/proc/self/ns/$1"
}

@test "pid namespace: the container process is pid 1" {
	set_args sh -c 'echo $$; ls /proc | grep -c "^[0-9]"'
	run run_container pidns
	assert_status 0
	[ "${lines[0]}" = 1 ]
	# Only sh (pid 1) and ls are in the namespace.
	[ "${lines[1]}" -le 3 ]
}

@test "pid namespace: the namespace differs from the host's" {
	set_args readlink /proc/self/ns/pid
	run run_container pidns2
	assert_status 0
	[[ "$output" == pid:* ]]
	[ "$output" != "$(ns_of pid)" ]
}

@test "without a pid namespace the container sees the host's pids" {
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	set_args readlink /proc/self/ns/pid
	run run_container hostpid
	assert_status 0
	assert_output "$(ns_of pid)"
}

@test "uts namespace: the hostname is applied and the host's is unchanged" {
	before=$(hostname)
	update_config '.hostname = "nook-bats-host"'
	set_args sh -c 'hostname; cat /proc/sys/kernel/hostname'
	run run_container uts
	assert_status 0
	[ "${lines[0]}" = nook-bats-host ]
	[ "${lines[1]}" = nook-bats-host ]
	[ "$(hostname)" = "$before" ]
}

@test "network namespace: only lo, and it is up" {
	set_args sh -c 'ip -o link show; echo ==; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags'
	run run_container netns
	assert_status 0
	links=$(sed -n '/^==$/q;p' <<<"$output")
	# Only lo, apart from the fallback devices some tunnel modules create in every namespace.
	real=$(grep -vE '^[0-9]+: (lo|tunl0@NONE|sit0@NONE|ip6tnl0@NONE|gre0@NONE|gretap0@NONE|erspan0@NONE|ip_vti0@NONE|ip6_vti0@NONE|ip6gre0@NONE):' <<<"$links" || true)
	[ -z "$real" ] || {
		echo "unexpected links: $real" >&2
		false
	}
	grep -E '^1: lo: <[^>]*\bUP\b' <<<"$links"
	# IFF_UP is bit 0 of the flags.
	flags=$(tail -n1 <<<"$output")
	(((flags & 1) == 1))
}

@test "network namespace: lo carries traffic to 127.0.0.1" {
	set_args sh -c 'nc -l -p 7777 >/tmp/got & for i in $(seq 50); do echo over-lo | nc 127.0.0.1 7777 2>/dev/null && break; sleep 0.1; done; wait; cat /tmp/got'
	run run_container lo
	assert_status 0
	assert_output_contains over-lo
}

@test "network namespace: joined by path (ip netns add)" {
	ns=nook-bats-$(basename "$TEST_DIR")
	ip netns add "$ns"
	on_teardown "ip netns del '$ns' 2>/dev/null"
	ip netns exec "$ns" ip link set lo mtu 12345
	update_config '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)' \
		--arg p "/run/netns/$ns"
	set_args sh -c 'readlink /proc/self/ns/net; cat /sys/class/net/lo/mtu'
	run run_container joinnet
	assert_status 0
	[ "${lines[0]}" = "$(ip netns exec "$ns" readlink /proc/self/ns/net)" ]
	[ "${lines[1]}" = 12345 ]
}

@test "network namespace: a path that is not a namespace is refused" {
	echo not-a-netns >"$TEST_DIR/fake-ns"
	update_config '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)' \
		--arg p "$TEST_DIR/fake-ns"
	run run_container fakenet
	assert_failure
	state_root_is_empty
}

@test "ipc namespace: the host's SysV objects are invisible" {
	# A segment on the host, removed in teardown.
	key=$((0x4e00 + RANDOM))
	shmid=$(python3 -c 'import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
shmid = libc.shmget(int(sys.argv[1]), 4096, 0o1600)
sys.exit(1) if shmid < 0 else print(shmid)' "$key")
	on_teardown "ipcrm -m $shmid 2>/dev/null"
	grep -qE "^ *$key +$shmid " /proc/sysvipc/shm
	set_args sh -c 'readlink /proc/self/ns/ipc; cat /proc/sysvipc/shm'
	run run_container ipc
	assert_status 0
	[ "${lines[0]}" != "$(ns_of ipc)" ]
	! grep -qE "^ *$key +$shmid " <<<"$output"
}

@test "user namespace: uidMappings and gidMappings are applied" {
	require_runtime_ns user
	use_userns
	set_args sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; sleep 1000'
	run_detached userns
	pid=$(container_pid userns)
	# Seen from the host, the container's root is uid 100000.
	run awk '/^Uid:/ { print $2 } /^Gid:/ { print $2 }' "/proc/$pid/status"
	[ "$output" = "100000
200000" ]
	out=$TEST_DIR/$(stdio_name userns).out
	wait_for_file "$out"
	for _ in $(seq 40); do [ "$(wc -l <"$out")" -ge 4 ] && break; sleep 0.05; done
	run tr -s ' \t' ' ' <"$out"
	[ "${lines[0]}" = " 0 100000 65536" ] || [ "${lines[0]}" = "0 100000 65536" ]
	[ "${lines[1]}" = " 0 200000 65536" ] || [ "${lines[1]}" = "0 200000 65536" ]
	[ "${lines[2]}" = 0 ]
	[ "${lines[3]}" = 0 ]
}

@test "cgroup namespace: the container's cgroups are its root" {
	require_runtime_ns cgroup
	# `runc spec` lists a cgroup namespace on cgroup v2 hosts already.
	update_config '.linux.namespaces = [.linux.namespaces[] | select(.type != "cgroup")]
		+ [{"type": "cgroup"}]'
	set_args sh -c 'readlink /proc/self/ns/cgroup; cat /proc/self/cgroup'
	run run_container cgns
	assert_status 0
	[ "${lines[0]}" != "$(ns_of cgroup)" ]
	# Every hierarchy shows "/" as the path.
	run grep -v ':/$' <<<"$(tail -n +2 <<<"$output")"
	assert_output ""
}

@test "without a cgroup namespace the container sees its cgroupsPath" {
	update_config '.linux.namespaces |= map(select(.type != "cgroup"))'
	set_args cat /proc/self/cgroup
	run run_container nocgns
	assert_status 0
	assert_output_contains "$CG_PARENT/$TEST_TAG-bundle"
}

@test "time namespace: offsets are visible in /proc/self/timens_offsets" {
	require_runtime_ns time
	update_config '.linux.namespaces += [{"type": "time"}]
		| .linux.timeOffsets = {"monotonic": {"secs": 86400, "nanosecs": 0},
		                        "boottime": {"secs": 172800, "nanosecs": 5}}'
	set_args sh -c 'cat /proc/self/timens_offsets; cut -d. -f1 /proc/uptime'
	host_uptime=$(cut -d. -f1 /proc/uptime)
	run run_container timens
	assert_status 0
	grep -E '^monotonic +86400 +0$' <<<"$output"
	grep -E '^boottime +172800 +5$' <<<"$output"
	# /proc/uptime follows the boottime offset.
	[ "${lines[2]}" -ge $((host_uptime + 172800)) ]
}
