#!/usr/bin/env bats
# Escapes through an image's symlinks: a path the image controls (a Volumes path, /etc/passwd,
# /etc/group, /etc/hosts, the WorkingDir) that is a symlink out of the container's root must be
# resolved inside that root, never on the host, when `nook run` reads, creates or mounts it.
#
# Each test makes a host directory $HOST beside the image with files the image points at, and
# checks that nothing of it is read, created, written or mounted on.  Where an image also holds
# the same path inside its own root, the container gets that one instead.

load helpers

load run-helpers

setup() {
	nook_run_setup
	HOST=$TEST_DIR/host
	LAYER=$TEST_DIR/layer
	mkdir -p "$HOST" "$LAYER"
	UP=$(printf '../%.0s' {1..40}) # more `..` than any rootfs is deep: climbs to / on the host
}

# in_image PATH: the layer's copy of the absolute host path PATH (the same path inside the root).
in_image() {
	printf '%s/%s\n' "$LAYER" "${1#/}"
}

# make_image REF [make-oci-layout.py ARGS...]: import busybox plus $LAYER as REF.
make_image() {
	local ref=$1
	shift
	rm -rf "$TEST_DIR/layout"
	"$NOOK_SRCDIR/tests/helpers/make-oci-layout.py" "$TEST_DIR/layout" --ref "$ref" "$@" \
		"$(nook_rootfs_cache)" "$LAYER" >/dev/null
	run nook_cli image import "$TEST_DIR/layout"
	assert_status 0
}

# host_snapshot: every name, type, mode, owner, size and mtime below $HOST, to compare.
host_snapshot() {
	(cd "$HOST" && find . -printf '%p %y %m %u:%g %s %T@ %l\n' | sort)
}

# assert_host_untouched BEFORE: $HOST is as it was, and nothing is mounted below it.
assert_host_untouched() {
	local now
	now=$(host_snapshot)
	if [ "$now" != "$1" ]; then
		printf 'the host dir changed:\n--- before\n%s\n--- after\n%s\n' "$1" "$now" >&2
		return 1
	fi
	if grep -qF " $HOST" /proc/self/mountinfo; then
		echo "a mount on the host dir:" >&2
		grep -F " $HOST" /proc/self/mountinfo >&2
		return 1
	fi
}

@test "escape-image: a Volumes path that is an absolute symlink out of the root is a volume inside it" {
	mkdir -p "$HOST/target" "$(in_image "$HOST/target")"
	echo host-secret >"$HOST/target/secret"
	echo image-seed >"$(in_image "$HOST/target")/seed"
	ln -s "$HOST/target" "$LAYER/data"
	make_image example.org/esc:vol --volume /data
	before=$(host_snapshot)
	run --separate-stderr nrun --name v example.org/esc:vol sh -c \
		'ls /data; cat /data/seed; echo new >/data/new; chown 7:7 /data; chmod 700 /data'
	assert_status 0
	assert_output "seed
image-seed"
	assert_host_untouched "$before"
	# the volume is the container's own, mounted where the symlink leads inside the root
	dir=$STORAGE/containers/$(readlink "$STORAGE/names/v")
	[ "$(cat "$dir/volumes/0/seed")" = image-seed ]
	[ "$(cat "$dir/volumes/0/new")" = new ]
	[ ! -e "$dir/volumes/0/secret" ]
	run nook_cli rm v
	assert_status 0
	assert_host_untouched "$before"
}

@test "escape-image: a Volumes path below a symlinked parent (relative, climbing out) is a volume inside the root" {
	mkdir -p "$HOST/outside/x" "$(in_image "$HOST/outside/x")"
	echo host-secret >"$HOST/outside/x/secret"
	echo image-seed >"$(in_image "$HOST/outside/x")/seed"
	ln -s "${UP}${HOST#/}/outside" "$LAYER/v"
	make_image example.org/esc:parent --volume /v/x
	before=$(host_snapshot)
	run --separate-stderr nrun --name v example.org/esc:parent sh -c \
		'ls /v/x; echo new >/v/x/new; chmod 700 /v/x'
	assert_status 0
	assert_output seed
	assert_host_untouched "$before"
	dir=$STORAGE/containers/$(readlink "$STORAGE/names/v")
	[ "$(cat "$dir/volumes/0/new")" = new ]
	[ ! -e "$dir/volumes/0/secret" ]
	run nook_cli rm v
	assert_status 0
	assert_host_untouched "$before"
}

# refused_volume LINK TARGET MENTION...: an image whose /LINK is a symlink to TARGET, with the
# volume /LINK/x, where the host dir $HOST/outside is what TARGET leads to: `nook run` fails with
# one line that mentions each MENTION, and nothing is created below $HOST.
refused_volume() {
	local link=$1 target=$2
	shift 2
	mkdir -p "$HOST/outside"
	ln -s "$target" "$LAYER/$link"
	make_image "example.org/esc:$link" --volume "/$link/x"
	before=$(host_snapshot)
	run --separate-stderr nrun --rm "example.org/esc:$link" true
	assert_host_untouched "$before"
	assert_status 125
	assert_one_line_error "on \`/$link/x\`" "$@"
	[ -z "$(ls -A "$STORAGE/containers")" ]
}

@test "escape-image: a Volumes path below a symlink to a host dir the root lacks is made inside the root" {
	mkdir -p "$HOST/outside"
	ln -s "$HOST/outside" "$LAYER/v"
	make_image example.org/esc:v --volume /v/x
	before=$(host_snapshot)
	run --separate-stderr nrun --rm example.org/esc:v sh -c 'echo new >/v/x/new; readlink -f /v/x'
	assert_status 0
	assert_output "$HOST/outside/x"
	assert_host_untouched "$before"
}

@test "escape-image: a Volumes path below a /proc/self/root magic link: refused, nothing created on the host" {
	refused_volume m "/proc/self/root$HOST/outside" "Too many levels of symbolic links"
}

# evil_files DIR UID GID: a passwd and group in DIR with the user `evil` and the group `evilgrp`
# (of which evil is a member) at UID and GID.
evil_files() {
	mkdir -p "$1"
	printf 'root:x:0:0:root:/root:/bin/sh\nevil:x:%s:%s::/:/bin/sh\n' "$2" "$2" >"$1/passwd"
	printf 'root:x:0:\nevilgrp:x:%s:evil\n' "$3" >"$1/group"
}

@test "escape-image: /etc/passwd and /etc/group as absolute symlinks out of the root are read inside it" {
	evil_files "$HOST" 4242 4343
	evil_files "$(in_image "$HOST")" 1111 2222
	mkdir -p "$LAYER/etc"
	ln -s "$HOST/passwd" "$LAYER/etc/passwd"
	ln -s "$HOST/group" "$LAYER/etc/group"
	make_image example.org/esc:pw
	before=$(host_snapshot)
	run --separate-stderr nrun --rm -u evil example.org/esc:pw sh -c 'id -u; id -g; id -G'
	assert_status 0
	assert_output "1111
1111
1111 2222"
	run --separate-stderr nrun --rm -u evil:evilgrp example.org/esc:pw id -g
	assert_status 0
	assert_output 2222
	# the image's own User goes the same way
	make_image example.org/esc:pw-user --user evil
	run --separate-stderr nrun --rm example.org/esc:pw-user id -u
	assert_status 0
	assert_output 1111
	assert_host_untouched "$before"
}

@test "escape-image: /etc/passwd and /etc/group as relative symlinks climbing out: not found, the host's never read" {
	evil_files "$HOST" 4242 4343
	mkdir -p "$LAYER/etc"
	ln -s "${UP}${HOST#/}/passwd" "$LAYER/etc/passwd"
	ln -s "${UP}${HOST#/}/group" "$LAYER/etc/group"
	make_image example.org/esc:pw-rel
	before=$(host_snapshot)
	run --separate-stderr nrun --rm -u evil example.org/esc:pw-rel true
	assert_status 125
	assert_one_line_error "user \`evil\` not found in the image's /etc/passwd"
	run --separate-stderr nrun --rm -u 0:evilgrp example.org/esc:pw-rel true
	assert_status 125
	assert_one_line_error "group \`evilgrp\` not found in the image's /etc/group"
	make_image example.org/esc:pw-rel-user --user evil
	run --separate-stderr nrun --rm example.org/esc:pw-rel-user true
	assert_status 125
	assert_one_line_error "the image's User" "user \`evil\` not found"
	assert_host_untouched "$before"
	[ -z "$(ls -A "$STORAGE/containers")" ]
}

@test "escape-image: additional groups come from the root's /etc/group, not a host file it links to" {
	evil_files "$HOST" 4242 4343
	evil_files "$LAYER/etc" 1111 2222
	rm "$LAYER/etc/group"
	ln -s "${UP}${HOST#/}/group" "$LAYER/etc/group"
	make_image example.org/esc:groups
	before=$(host_snapshot)
	run --separate-stderr nrun --rm -u evil example.org/esc:groups id -G
	assert_status 0
	assert_output 1111
	assert_host_untouched "$before"
}

@test "escape-image: /etc/hosts, /etc/hostname and /etc/resolv.conf symlinked out get nook's files inside the root" {
	local f
	mkdir -p "$(in_image "$HOST")" "$LAYER/etc"
	for f in hosts hostname resolv.conf; do
		echo "host-$f" >"$HOST/$f"
		echo "image-$f" >"$(in_image "$HOST")/$f"
	done
	ln -s "$HOST/hosts" "$LAYER/etc/hosts"
	ln -s "${UP}${HOST#/}/hostname" "$LAYER/etc/hostname"
	ln -s "$HOST/resolv.conf" "$LAYER/etc/resolv.conf"
	make_image example.org/esc:etc
	before=$(host_snapshot)
	run --separate-stderr nrun --rm --hostname box example.org/esc:etc sh -c \
		'cat /etc/hostname; grep -c box /etc/hosts; grep -e host- -e image- /etc/hosts /etc/hostname || echo clean'
	assert_status 0
	assert_output "box
1
clean"
	# resolv.conf is nook's only with a network: the host's, in a namespace of the test's own
	run --separate-stderr unshare -n timeout -k 5 "$NOOK_TEST_TIMEOUT" "$NOOK_BUILDDIR/nook" \
		--root "$ROOT" --storage "$STORAGE" run --rm --net host --dns 192.0.2.53 \
		--cgroup-parent "$CGP" -e "$(container_env_marker)" example.org/esc:etc \
		sh -c 'grep nameserver /etc/resolv.conf; grep -e host- -e image- /etc/resolv.conf || echo clean'
	assert_status 0
	assert_output "nameserver 192.0.2.53
clean"
	assert_host_untouched "$before"
}

@test "escape-image: /etc/hosts and /etc/resolv.conf linked to files the root lacks get nook's, made inside the root" {
	mkdir -p "$LAYER/etc"
	echo host-hosts >"$HOST/hosts"
	ln -s "$HOST/hosts" "$LAYER/etc/hosts"
	# as systemd-based images ship it: the target is made inside the root, as runc does
	ln -s ../run/systemd/resolve/stub-resolv.conf "$LAYER/etc/resolv.conf"
	make_image example.org/esc:hosts
	before=$(host_snapshot)
	run --separate-stderr nrun --rm --hostname box example.org/esc:hosts sh -c \
		'grep -c box /etc/hosts; grep -c host- /etc/hosts; readlink -f /etc/hosts'
	assert_status 0
	assert_output "1
0
$HOST/hosts"
	run --separate-stderr unshare -n timeout -k 5 "$NOOK_TEST_TIMEOUT" "$NOOK_BUILDDIR/nook" \
		--root "$ROOT" --storage "$STORAGE" run --rm --net host --dns 192.0.2.53 \
		--cgroup-parent "$CGP" -e "$(container_env_marker)" example.org/esc:hosts \
		cat /run/systemd/resolve/stub-resolv.conf
	assert_status 0
	assert_output_contains "nameserver 192.0.2.53"
	assert_host_untouched "$before"
}

@test "escape-image: a WorkingDir below a symlink out of the root is made inside it" {
	mkdir -p "$HOST/wd" "$(in_image "$HOST/wd")"
	ln -s "$HOST/wd" "$LAYER/w"
	make_image example.org/esc:wd --workdir /w/sub
	before=$(host_snapshot)
	# the kernel's cwd is the physical path: where the symlink leads inside the root
	run --separate-stderr nrun --rm example.org/esc:wd sh -c 'pwd; touch here; ls'
	assert_status 0
	assert_output "$HOST/wd/sub
here"
	run --separate-stderr nrun --rm -w /w/other/deeper example.org/esc:wd pwd
	assert_status 0
	assert_output "$HOST/wd/other/deeper"
	assert_host_untouched "$before"
}

@test "escape-image: nook exec -u after the container links its /etc/passwd to a host file" {
	evil_files "$HOST" 4242 4343
	run --separate-stderr nrun -d --name x busybox sleep 60
	assert_status 0
	before=$(host_snapshot)
	run nook_cli exec x sh -c "rm /etc/passwd /etc/group && ln -s $HOST/passwd /etc/passwd &&
		ln -s ${UP}${HOST#/}/group /etc/group"
	assert_status 0
	run --separate-stderr nook_cli exec -u evil x true
	assert_status 125
	assert_one_line_error "user \`evil\` not found"
	run --separate-stderr nook_cli exec -u 0:evilgrp x true
	assert_status 125
	assert_one_line_error "group \`evilgrp\` not found"
	assert_host_untouched "$before"
	run nook_cli rm -f x
	assert_status 0
}

# nrun_no_openat2 ARGS...: nrun with openat2 failing with ENOSYS, as on a kernel before 5.6.
nrun_no_openat2() {
	"$NOOK_SRCDIR/tests/helpers/no-openat2.py" timeout -k 5 "$NOOK_TEST_TIMEOUT" \
		"$NOOK_BUILDDIR/nook" --root "$ROOT" --storage "$STORAGE" run --net none \
		--cgroup-parent "$CGP" -e "$(container_env_marker)" "$@" 3>&-
}

@test "escape-image: without openat2 (kernels before 5.6), a symlinked /etc and Volumes parent stay inside the root" {
	mkdir -p "$HOST/etc" "$HOST/outside/x" "$(in_image "$HOST/outside/x")"
	evil_files "$HOST/etc" 4242 4343
	evil_files "$(in_image "$HOST/etc")" 1111 2222
	echo host-secret >"$HOST/outside/x/secret"
	echo image-seed >"$(in_image "$HOST/outside/x")/seed"
	# the whole /etc is a link: a walk that only refuses a symlink as the last component follows it
	ln -s "$HOST/etc" "$LAYER/etc"
	ln -s "${UP}${HOST#/}/outside" "$LAYER/v"
	make_image example.org/esc:old --volume /v/x
	run "$NOOK_SRCDIR/tests/helpers/no-openat2.py" sh -c 'exec 3<&-; python3 -c "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
assert libc.syscall(437, -100, b\"/\", None, 0) < 0 and ctypes.get_errno() == 38"'
	assert_status 0
	before=$(host_snapshot)
	run --separate-stderr nrun_no_openat2 --rm -u evil example.org/esc:old sh -c 'id -u; id -G; ls /v/x'
	assert_status 0
	assert_output "1111
1111 2222
seed"
	assert_host_untouched "$before"
}
