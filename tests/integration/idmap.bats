#!/usr/bin/env bats
# Idmapped mounts: mounts[].uidMappings / gidMappings and the idmap and ridmap options
# (runtime-spec 1.1).  A mapping has the format of linux.uidMappings: a file owned by
# containerID on the filesystem appears owned by hostID, which the container's user namespace
# (if any) then maps as usual; runc 1.2 and crun read it the same way.  runc 1.1 has no idmapped
# mounts, so every test here is nook's alone.

load helpers

# require_idmap: nook, and a kernel with idmapped mounts (features says so).
require_idmap() {
	require_nook "idmapped mounts (runc 1.1 has none)"
	runtime features | jq -e '.linux.mountExtensions.idmap.enabled' >/dev/null ||
		skip "the kernel has no idmapped mounts"
}

# idmap_mount SRC DEST OPTIONS-JSON [UIDMAP GIDMAP]: append a bind mount of SRC on DEST; the maps
# are "containerID:hostID:size".
idmap_mount() {
	local m
	m=$(jq -n --arg s "$1" --arg d "$2" --argjson o "$3" \
		'{destination: $d, type: "bind", source: $s, options: $o}')
	if [ $# -ge 5 ]; then
		m=$(jq --arg u "$4" --arg g "$5" '
			def idmap($s): ($s | split(":") | map(tonumber)) as $v
				| [{containerID: $v[0], hostID: $v[1], size: $v[2]}];
			. + {uidMappings: idmap($u), gidMappings: idmap($g)}' <<<"$m")
	fi
	update_config '.mounts += [$m]' --argjson m "$m"
}

# use_userns: a user namespace mapping the container's 0-65535 to 100000-165535.
use_userns() {
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .mounts |= map(select(.destination != "/sys/fs/cgroup"))'
}

@test "idmap: a host directory owned by 1000 appears as root's, and root's files land as 1000" {
	require_idmap
	mkdir "$TEST_DIR/data"
	touch "$TEST_DIR/data/file"
	chown -R 1000:1000 "$TEST_DIR/data"
	idmap_mount "$TEST_DIR/data" /data '["bind", "idmap"]' 1000:0:1 1000:0:1
	set_args sh -c 'stat -c %u:%g /data /data/file; touch /data/new && stat -c %u:%g /data/new'
	run run_container idmap1
	assert_status 0
	assert_output "0:0
0:0
0:0"
	[ "$(stat -c %u:%g "$TEST_DIR/data/new")" = 1000:1000 ]
}

@test "idmap: uids and gids map separately, over ranges" {
	require_idmap
	mkdir "$TEST_DIR/data"
	touch "$TEST_DIR/data/a" "$TEST_DIR/data/b"
	chown 100:211 "$TEST_DIR/data/a"
	chown 101:222 "$TEST_DIR/data/b"
	idmap_mount "$TEST_DIR/data" /data '["bind", "idmap"]' 100:1100:3 200:1900:50
	set_args stat -c %n:%u:%g /data/a /data/b
	run run_container ranges
	assert_status 0
	assert_output "/data/a:1100:1911
/data/b:1101:1922"
}

@test "idmap: without mappings of its own a mount takes the container's user namespace" {
	require_idmap
	require_runtime_ns user
	use_userns
	mkdir "$TEST_DIR/data"
	touch "$TEST_DIR/data/file"
	# on the filesystem root's: idmapped they are the container root's, plainly bound nobody's;
	# the mount points exist, as the container's root may not create them in the image
	mkdir "$BUNDLE/rootfs/idmapped" "$BUNDLE/rootfs/plain"
	idmap_mount "$TEST_DIR/data" /idmapped '["rbind", "idmap"]'
	idmap_mount "$TEST_DIR/data" /plain '["rbind"]'
	set_args sh -c 'stat -c %u:%g /idmapped/file /plain/file; touch /idmapped/new'
	run run_container userns-idmap
	assert_status 0
	[ "${lines[0]}" = 0:0 ]
	[ "${lines[1]}" = "$(cat /proc/sys/kernel/overflowuid):$(cat /proc/sys/kernel/overflowgid)" ]
	[ "$(stat -c %u:%g "$TEST_DIR/data/new")" = 0:0 ]
}

@test "idmap: ridmap maps the submounts of an rbind, idmap only its top" {
	require_idmap
	mkdir -p "$TEST_DIR/data/sub"
	mount -t tmpfs -o mode=0755 tmpfs "$TEST_DIR/data/sub"
	on_teardown "umount -l '$TEST_DIR/data/sub'"
	touch "$TEST_DIR/data/top" "$TEST_DIR/data/sub/below"
	chown 1000:1000 "$TEST_DIR/data/top" "$TEST_DIR/data/sub/below"
	idmap_mount "$TEST_DIR/data" /r '["rbind", "ridmap"]' 1000:0:1 1000:0:1
	idmap_mount "$TEST_DIR/data" /i '["rbind", "idmap"]' 1000:0:1 1000:0:1
	set_args stat -c %n:%u /r/top /r/sub/below /i/top /i/sub/below
	run run_container ridmap
	assert_status 0
	assert_output "/r/top:0
/r/sub/below:0
/i/top:0
/i/sub/below:1000"
}

@test "idmap: the other options still apply (ro)" {
	require_idmap
	mkdir "$TEST_DIR/data"
	chown 1000:1000 "$TEST_DIR/data"
	idmap_mount "$TEST_DIR/data" /data '["bind", "idmap", "ro"]' 1000:0:1 1000:0:1
	set_args sh -c 'stat -c %u /data; touch /data/new; echo rc=$?'
	run run_container idmapro
	assert_status 0
	[ "${lines[0]}" = 0 ]
	assert_output_contains "Read-only file system"
	[ ! -e "$TEST_DIR/data/new" ]
}

@test "idmap: a filesystem without idmapped mounts is an error naming the mount" {
	require_idmap
	idmap_mount /sys/kernel /data '["bind", "idmap"]' 0:1000:1 0:1000:1
	run --separate-stderr run_container nosupport
	assert_failure
	assert_one_line_error "on \`/data\`" "does not support idmapped mounts"
	state_root_is_empty
}

@test "idmap: idmap without mappings needs a user namespace, and a bind" {
	require_idmap
	idmap_mount "$TEST_DIR" /data '["bind", "idmap"]'
	run --separate-stderr run_container nouserns
	assert_failure
	assert_one_line_error "mounts[" "\`idmap\` without uidMappings and gidMappings"

	update_config '.mounts[-1] = {destination: "/t", type: "tmpfs", source: "tmpfs",
		options: ["ridmap"]}'
	use_userns
	run --separate-stderr run_container notbind
	assert_failure
	assert_one_line_error "\`ridmap\` needs a bind mount"
}
