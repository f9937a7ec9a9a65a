#!/usr/bin/env bats
# Mounts: readonly root, bind and tmpfs mounts, masked and read-only paths, hostile symlinks in
# the rootfs, devices.

load helpers

# add_mount JSON: append one mount to .mounts.
add_mount() {
	update_config '.mounts += [$m]' --argjson m "$1"
}

@test "root.readonly: writing to / fails with EROFS" {
	update_config '.root.readonly = true'
	set_args sh -c 'touch /nook-ro-test; echo rc=$?; grep -E "^[^ ]+ / " /proc/self/mounts'
	run run_container roroot
	assert_status 0
	assert_output_contains "Read-only file system"
	assert_output_contains "rc=1"
	[ ! -e "$BUNDLE/rootfs/nook-ro-test" ]
}

@test "root.readonly false: the root is writable" {
	set_args sh -c 'echo written >/nook-rw-test'
	run run_container rwroot
	assert_status 0
	[ "$(cat "$BUNDLE/rootfs/nook-rw-test")" = written ]
}

@test "bind mount from the bundle dir, read-only" {
	mkdir "$BUNDLE/data"
	echo from-the-host >"$BUNDLE/data/file"
	add_mount "$(jq -n --arg s "$BUNDLE/data" \
		'{destination: "/data", type: "bind", source: $s, options: ["bind", "ro"]}')"
	set_args sh -c 'cat /data/file; touch /data/new; echo rc=$?'
	run run_container bindro
	assert_status 0
	[ "${lines[0]}" = from-the-host ]
	assert_output_contains "Read-only file system"
	assert_output_contains "rc=1"
	[ ! -e "$BUNDLE/data/new" ]
	# The host's view of the source is not made read-only.
	touch "$BUNDLE/data/host-can-write"
}

@test "bind mount with a source relative to the bundle, read-write" {
	mkdir "$BUNDLE/shared"
	add_mount '{"destination": "/shared", "type": "bind", "source": "shared", "options": ["rbind", "rw"]}'
	set_args sh -c 'echo from-the-container >/shared/out'
	run run_container bindrel
	assert_status 0
	[ "$(cat "$BUNDLE/shared/out")" = from-the-container ]
}

@test "bind mount of a single file" {
	echo file-content >"$BUNDLE/single"
	add_mount "$(jq -n --arg s "$BUNDLE/single" \
		'{destination: "/etc/single", type: "bind", source: $s, options: ["bind", "ro"]}')"
	set_args cat /etc/single
	run run_container bindfile
	assert_status 0
	assert_output file-content
}

@test "tmpfs with size and mode" {
	add_mount '{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
		"options": ["nosuid", "nodev", "size=1m", "mode=1770"]}'
	set_args sh -c 'grep " /scratch " /proc/self/mounts; stat -c %a /scratch;
		dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>&1; echo rc=$?'
	run run_container tmpfs
	assert_status 0
	[[ "${lines[0]}" == "tmpfs /scratch tmpfs "* ]]
	[[ "${lines[0]}" == *size=1024k* ]]
	[[ "${lines[0]}" == *nosuid* ]]
	[ "${lines[1]}" = 1770 ]
	assert_output_contains "No space left on device"
	assert_output_contains "rc=1"
	[ ! -e "$BUNDLE/rootfs/scratch/big" ]
}

@test "a mount destination that does not exist in the rootfs is created" {
	add_mount '{"destination": "/a/deep/new/dir", "type": "tmpfs", "source": "tmpfs"}'
	set_args sh -c 'grep -c " /a/deep/new/dir tmpfs " /proc/self/mounts'
	run run_container mkdest
	assert_status 0
	assert_output 1
	[ -d "$BUNDLE/rootfs/a/deep/new/dir" ]
}

@test "maskedPaths: files and directories read as empty, /proc paths are masked" {
	echo s3cret >"$BUNDLE/rootfs/etc/secret"
	mkdir -p "$BUNDLE/rootfs/secretdir"
	echo s3cret >"$BUNDLE/rootfs/secretdir/f"
	update_config '.linux.maskedPaths += ["/etc/secret", "/secretdir", "/proc/timer_list"]'
	set_args sh -c 'echo "file:$(cat /etc/secret)"; echo "dir:$(ls /secretdir)";
		stat -c "timer_list:%t,%T" /proc/timer_list; echo "timer_list:$(wc -c </proc/timer_list)";
		if [ -e /proc/kcore ]; then echo "kcore:$(head -c 16 /proc/kcore | wc -c)"; fi'
	[ -e /proc/timer_list ] || skip "this kernel has no /proc/timer_list"
	run run_container masked
	assert_status 0
	[ "${lines[0]}" = "file:" ]
	[ "${lines[1]}" = "dir:" ]
	# Masked files are bind mounts of /dev/null (char 1,3).
	[ "${lines[2]}" = "timer_list:1,3" ]
	[ "${lines[3]}" = "timer_list:0" ]
	if [ -e /proc/kcore ]; then
		[ "${lines[4]}" = "kcore:0" ]
	fi
}

@test "readonlyPaths: /proc/sys and a rootfs dir are read-only" {
	mkdir -p "$BUNDLE/rootfs/rodir"
	update_config '.linux.readonlyPaths += ["/rodir"]
		| .process.capabilities |= with_entries(.value += ["CAP_NET_ADMIN"])'
	set_args sh -c 'grep " /proc/sys " /proc/self/mounts | cut -d" " -f4 | cut -d, -f1;
		echo 1 >/proc/sys/net/ipv4/ip_forward; echo sysrc=$?;
		touch /rodir/x; echo rorc=$?; touch /rw-ok; echo rwrc=$?'
	run run_container ropaths
	assert_status 0
	[ "${lines[0]}" = ro ]
	assert_output_contains "sysrc=1"
	assert_output_contains "rorc=1"
	assert_output_contains "rwrc=0"
	[ ! -e "$BUNDLE/rootfs/rodir/x" ]
}

@test "a mount destination through a symlink to / lands inside the rootfs" {
	name=nook-bats-escape-$(basename "$TEST_DIR")
	on_teardown "rmdir '/tmp/$name' 2>/dev/null"
	ln -s / "$BUNDLE/rootfs/evil"
	mkdir "$TEST_DIR/src"
	echo marker >"$TEST_DIR/src/marker"
	add_mount "$(jq -n --arg s "$TEST_DIR/src" --arg d "/evil/tmp/$name" \
		'{destination: $d, type: "bind", source: $s, options: ["bind", "ro"]}')"
	set_args sh -c "cat /tmp/$name/marker && grep -c ' /tmp/$name ' /proc/self/mounts"
	run run_container escape
	[ ! -e "/tmp/$name" ] || {
		echo "the host's /tmp/$name was created" >&2
		false
	}
	! grep -q "$name" /proc/self/mountinfo
	assert_status 0
	[ "${lines[0]}" = marker ]
	[ "${lines[1]}" = 1 ]
	[ -d "$BUNDLE/rootfs/tmp/$name" ]
}

@test "a mount destination through a relative symlink climbing out lands inside the rootfs" {
	name=nook-bats-escape2-$(basename "$TEST_DIR")
	on_teardown "rmdir '$TEST_DIR/$name' 2>/dev/null"
	# rootfs/up -> ../../.. would be $TEST_DIR/.. on the host.
	ln -s ../../.. "$BUNDLE/rootfs/up"
	add_mount "$(jq -n --arg d "/up/$name" '{destination: $d, type: "tmpfs", source: "tmpfs"}')"
	set_args sh -c "grep -c ' /$name tmpfs ' /proc/self/mounts"
	run run_container escape2
	[ ! -e "$TEST_DIR/$name" ]
	[ ! -e "$(dirname "$TEST_DIR")/$name" ]
	assert_status 0
	assert_output 1
	[ -d "$BUNDLE/rootfs/$name" ]
}

@test "/dev/null, /dev/zero and /dev/urandom work" {
	set_args sh -c 'echo discard >/dev/null && wc -c </dev/null;
		head -c 4 /dev/zero | od -An -tx1; head -c 8 /dev/urandom | wc -c;
		stat -c "%F %t,%T" /dev/null'
	run run_container devs
	assert_status 0
	[ "${lines[0]}" = 0 ]
	[ "$(echo ${lines[1]})" = "00 00 00 00" ]
	[ "${lines[2]}" = 8 ]
	[ "${lines[3]}" = "character special file 1,3" ]
}

@test "linux.devices creates a node with the given type, numbers, mode and owner" {
	update_config '.linux.devices = [{"path": "/dev/nook-zero", "type": "c", "major": 1,
		"minor": 5, "fileMode": 416, "uid": 0, "gid": 0}]
		| .linux.resources.devices += [{"allow": true, "type": "c", "major": 1, "minor": 5,
		"access": "rwm"}]'
	set_args sh -c 'stat -c "%F %t,%T %a %u:%g" /dev/nook-zero; head -c 3 /dev/nook-zero | od -An -tx1'
	run run_container devnode
	assert_status 0
	[ "${lines[0]}" = "character special file 1,5 640 0:0" ]
	[ "$(echo ${lines[1]})" = "00 00 00" ]
	[ ! -e "$BUNDLE/rootfs/dev/nook-zero" ]
}

@test "linux.resources.devices: a node made in the container opens only when allowed" {
	# /dev/kmsg (char 1,11) opens for writing without privileges, and is not among the
	# devices a runtime allows by default.
	update_config '.process.capabilities |= with_entries(.value += ["CAP_MKNOD"])'
	set_args sh -c 'mknod /tmp/kmsg c 1 11 || exit 9; if (: >/tmp/kmsg); then echo open; else echo denied; fi'
	run run_container devdeny
	assert_status 0
	assert_output_contains "Operation not permitted"
	assert_output_contains denied

	rm -f "$BUNDLE/rootfs/tmp/kmsg"
	update_config '.linux.resources.devices += [{"allow": true, "type": "c", "major": 1,
		"minor": 11, "access": "rwm"}]'
	run run_container devallow
	assert_status 0
	assert_output open
}
