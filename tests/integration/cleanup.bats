#!/usr/bin/env bats
# Cleanup: after delete (and after a foreground run) nothing of the container is left: no state
# dir, no process, no cgroup, no mount on the host.

load helpers

# all_gone ID BUNDLE_NAME: no state, processes, cgroups or host mounts of the container.
all_gone() {
	run container_state "$1"
	assert_failure
	state_root_is_empty || {
		echo "state left: $(ls -A "$ROOT")" >&2
		return 1
	}
	for _ in $(seq 100); do [ -z "$(marker_pids)" ] && break; sleep 0.05; done
	[ -z "$(marker_pids)" ] || {
		echo "processes left: $(marker_pids | tr '\n' ' ')" >&2
		return 1
	}
	[ -z "$(cgroup_dirs "$2")" ] || {
		echo "cgroups left: $(cgroup_dirs "$2" | tr '\n' ' ')" >&2
		return 1
	}
	run nook_find_mounts "$SUITE_TAG/$TEST_TAG"
	assert_output ""
}

@test "cleanup: the container's cgroup exists while it runs" {
	set_args sleep 1000
	run_detached cg
	[ -n "$(cgroup_dirs bundle)" ]
	pid=$(container_pid cg)
	# The init is in the cgroup of every hierarchy that has one.
	for d in $(cgroup_dirs bundle); do
		grep -qx "$pid" "$d/cgroup.procs" || {
			echo "$pid not in $d/cgroup.procs" >&2
			false
		}
	done
}

@test "cleanup: a relative cgroupsPath is placed below the runtime's own cgroup" {
	# runc 1.1's rule: v1 hierarchies join it to the caller's cgroup, v2 to the caller's
	# cgroup's parent (the caller's own cgroup has processes, so it cannot have controllers).
	set_args sleep 1000
	run_detached placed
	pid=$(container_pid placed)
	cg="$CG_PARENT/$TEST_TAG-bundle"
	while IFS=: read -r id ctrls path; do
		own=$(awk -F: -v i="$id" -v c="$ctrls" '$1 == i && $2 == c { print $3 }' /proc/self/cgroup)
		own=${own%/}
		parent=$(dirname "${own:-/}")
		parent=${parent%/}
		if [ "$path" = "$own/$cg" ]; then
			continue
		elif [ -z "$ctrls" ] && [ "$path" = "$parent/$cg" ]; then
			continue
		fi
		echo "hierarchy $id ($ctrls): container in \`$path', expected \`$own/$cg'" >&2
		false
	done <"/proc/$pid/cgroup"
}

@test "cleanup: after a foreground run nothing is left" {
	set_args sh -c 'sleep 0.1; exit 4'
	run run_container fg
	assert_status 4
	all_gone fg bundle
}

@test "cleanup: after kill and delete nothing is left" {
	set_args sh -c 'sleep 1000 & sleep 1000'
	run_detached kd
	runtime kill kd KILL
	wait_for_status kd stopped
	run runtime delete kd
	assert_status 0
	all_gone kd bundle
}

@test "cleanup: after delete --force of a running container with children nothing is left" {
	set_args sh -c 'sleep 1000 & sleep 1000 & wait'
	run_detached force
	for _ in $(seq 100); do [ "$(marker_pids | wc -l)" -ge 3 ] && break; sleep 0.05; done
	run runtime delete --force force
	assert_status 0
	all_gone force bundle
}

@test "cleanup: after delete --force of a created container nothing is left" {
	set_args sleep 1000
	create_container created
	run runtime delete --force created
	assert_status 0
	all_gone created bundle
}

@test "cleanup: a container whose process exited on its own can be deleted" {
	set_args true
	run_detached quick
	wait_for_status quick stopped
	run runtime delete quick
	assert_status 0
	all_gone quick bundle
}

@test "cleanup: delete of an unknown container fails" {
	run runtime delete no-such-container
	assert_failure
}

@test "cleanup: delete --force of an unknown container succeeds" {
	run runtime delete --force no-such-container
	assert_status 0
}

@test "cleanup: many containers in a row leave nothing behind" {
	set_args true
	for i in $(seq 10); do
		run run_container "row$i"
		assert_status 0
	done
	all_gone row10 bundle
}
