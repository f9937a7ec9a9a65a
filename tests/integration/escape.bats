#!/usr/bin/env bats
# Escape regressions (issue #8): each test attacks one protection of nook's and fails without it.
#
# - TIOCSTI: a container's process cannot push input into the caller's terminal.  With a pty
#   (process.terminal, `nook run -t`) the container's stdio is a pty of its own, allocated
#   inside the container (runtime/init.c setup_terminal, runtime/terminal.c
#   nook_terminal_become_controlling), whose master nook copies to the caller's terminal
#   (runtime/container.c, runtime/attach.c): what TIOCSTI pushes lands in that pty.  Without a
#   pty, the process is put in a session of its own (runtime/terminal.c
#   nook_terminal_new_session, from init.c setup_terminal and exec.c exec_process), so a
#   terminal the caller passed as stdio is not its controlling terminal and TIOCSTI fails with
#   EPERM without CAP_SYS_ADMIN.  The caller's terminal here is a pty the test makes (a small
#   python3 helper); after the container, the caller's shell reads its terminal: an injection
#   would be read there.  Linux >= 6.2 has dev.tty.legacy_tiocsti: at 0, TIOCSTI needs
#   CAP_SYS_ADMIN even on one's own terminal, so each check also runs with --cap-add
#   SYS_ADMIN, where TIOCSTI works and must land in the container's pty (read back inside).
# - Device nodes in an image layer: the unpack keeps them (images/unpack.c creates char and
#   block nodes as the layer says), the overlay is not nodev; what denies them is the devices
#   cgroup: `nook run` asks for "deny all" (runtime/spec-run.c resources_gen), and the runtime
#   allows only the default devices after the config's rules (runtime/container.c
#   device_rules, default_devices; cgroups/cgroup-devices.c writes them).
# - A mount destination through a path the host swaps between a directory and a symlink out of
#   the rootfs: the destination is resolved inside the root to an O_PATH fd
#   (runtime/rootfs-resolve.c rootfs_resolve_root_open, openat2 RESOLVE_IN_ROOT or
#   walk_in_root) and mount(2) is made on /proc/self/fd/N of that fd
#   (rootfs_resolve_mount_on_fd), never on a path a later swap could redirect.  The remount
#   that applies a bind's flags must resolve the destination again (the fd is below the new
#   mount): runtime/rootfs.c mount_finish checks that it reached the bind's root (the source's
#   device and inode), else the run fails, so a read-only bind is never left writable.
# The non-race symlink cases are in mounts.bats ("a mount destination through a symlink ...").

load helpers
load run-helpers

setup() {
	case $BATS_TEST_DESCRIPTION in
	*"nook run"*) nook_run_setup ;;
	*) nook_setup ;;
	esac
}

# Runs bash -c SCRIPT on a new pty that is its controlling terminal, prints what was written to
# the pty (carriage returns dropped) and exits with the script's status.
PTY_CALLER_PY='
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp("bash", ["bash", "-c", sys.argv[1]])
out = b""
while True:
    try:
        r, _, _ = select.select([fd], [], [], 50)
        d = os.read(fd, 4096) if r else b""
    except OSError:
        d = b""
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
sys.exit(os.waitstatus_to_exitcode(st))
'

# What the caller's shell does after the container: read a line from its terminal, where an
# injection would be waiting (a partial line is kept by read -t too), and show it.
CALLER_READ='read -t 1 line; echo "CALLER-GOT:[$line]"'

# The text the container pushes with TIOCSTI.
INJECT=$'echo INJECTED\n'

# pty_caller SCRIPT: run SCRIPT with a pty of the test's as the caller's terminal.
pty_caller() {
	timeout -k 5 90 python3 -c "$PTY_CALLER_PY" "$1" 3>&-
}

# build_tiocsti: compile $TEST_DIR/tiocsti, a static program that pushes its first argument
# into fd 0's input queue with ioctl(TIOCSTI) and says whether that worked; with --read it then
# reads the queue back and prints it ("readback: [TEXT]").
build_tiocsti() {
	command -v gcc >/dev/null || skip "gcc is not installed"
	cat >"$TEST_DIR/tiocsti.c" <<-'EOF'
	#include <errno.h>
	#include <fcntl.h>
	#include <stdio.h>
	#include <string.h>
	#include <sys/ioctl.h>
	#include <unistd.h>

	int main(int argc, char **argv)
	{
	  char buf[256];
	  int n = -1, err = 0;
	  ssize_t r;

	  if (argc < 2)
	    return 2;
	  for (const char *p = argv[1]; *p && !err; p++)
	    if (ioctl(0, TIOCSTI, p) < 0)
	      err = errno;
	  if (err)
	    printf("tiocsti: failed: %s\n", strerror(err));
	  else
	    printf("tiocsti: ok\n");
	  if (argc > 2 && strcmp(argv[2], "--read") == 0)
	    {
	      ioctl(0, FIONREAD, &n);
	      printf("pending: %d\n", n);
	      fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	      r = read(0, buf, sizeof(buf) - 1);
	      buf[r > 0 ? r : 0] = '\0';
	      buf[strcspn(buf, "\r\n")] = '\0';
	      printf("readback: [%s]\n", buf);
	    }
	  return 0;
	}
	EOF
	gcc -static -O2 -o "$TEST_DIR/tiocsti" "$TEST_DIR/tiocsti.c" || skip "gcc -static does not work"
	TIOCSTI=$TEST_DIR/tiocsti
}

# legacy_tiocsti: dev.tty.legacy_tiocsti (1 when the kernel, < 6.2, has no such switch: TIOCSTI
# then always works on one's own controlling terminal).
legacy_tiocsti() {
	cat /proc/sys/dev/tty/legacy_tiocsti 2>/dev/null || echo 1
}

# check_caller_control: the helper run by the caller itself on its terminal does inject, and
# the caller's shell reads it: the checks below would see an injection that got through.
check_caller_control() {
	run pty_caller "$(printf '%q ' "$TIOCSTI" "$INJECT"); $CALLER_READ"
	assert_status 0
	assert_output_contains "tiocsti: ok"
	assert_output_contains "CALLER-GOT:[echo INJECTED]"
}

# assert_own_pty WITH_SYS_ADMIN: $output is the container's TIOCSTI with --read on its own pty,
# then the caller's read: the injection is in the container's pty (or TIOCSTI was refused, for
# a container without CAP_SYS_ADMIN when dev.tty.legacy_tiocsti is 0), never in the caller's.
assert_own_pty() {
	if [ "$1" = 1 ] || [ "$(legacy_tiocsti)" = 1 ]; then
		assert_output_contains "tiocsti: ok"
		assert_output_contains "readback: [echo INJECTED]"
	else
		assert_output_contains "tiocsti: failed"
	fi
	assert_output_contains "CALLER-GOT:[]"
}

# oci_bundle_with_tiocsti TERMINAL ARGS...: the test's bundle runs $TIOCSTI (bind-mounted
# read-only at /tiocsti) with ARGS, process.terminal TERMINAL, and CAP_SYS_ADMIN added when
# $WITH_SYS_ADMIN is 1.
oci_bundle_with_tiocsti() {
	local terminal=$1
	shift
	set_args /tiocsti "$@"
	update_config '.process.terminal = $t
		| .mounts |= map(select(.destination != "/tiocsti")) + [{destination: "/tiocsti",
			type: "bind", source: $src, options: ["bind", "ro"]}]
		| if $admin then .process.capabilities |= with_entries(.value += ["CAP_SYS_ADMIN"])
		  else . end' \
		--argjson t "$terminal" --arg src "$TIOCSTI" --argjson admin "$([ "$WITH_SYS_ADMIN" = 1 ] &&
			echo true || echo false)"
}

@test "escape: TIOCSTI from a foreground nook run -t container lands in its own pty, not the caller's terminal" {
	build_tiocsti
	check_caller_control
	local nook_run sysadmin
	nook_run=$(printf '%q ' "$NOOK_BUILDDIR/nook" --root "$ROOT" --storage "$STORAGE" run \
		--net none --cgroup-parent "$CGP" -e "$(container_env_marker)" --rm \
		-v "$TIOCSTI:/tiocsti:ro")
	for sysadmin in 0 1; do
		caps=
		[ "$sysadmin" = 0 ] || caps="--cap-add SYS_ADMIN"
		run pty_caller "$nook_run -t $caps busybox /tiocsti $(printf '%q' "$INJECT") --read; $CALLER_READ"
		assert_status 0
		assert_own_pty "$sysadmin"
		# -i too (the caller's input is copied to the container), the injection left unread
		run pty_caller "$nook_run -it $caps busybox /tiocsti $(printf '%q' "$INJECT"); echo rc=\$?; $CALLER_READ"
		assert_status 0
		assert_output_contains "rc=0"
		assert_output_contains "CALLER-GOT:[]"
	done
}

@test "escape: TIOCSTI from a foreground oci run with process.terminal lands in its own pty" {
	build_tiocsti
	check_caller_control
	local rt
	rt=$(printf '%q ' "${RUNTIME_CMD[@]}" --root "$ROOT")
	for WITH_SYS_ADMIN in 0 1; do
		oci_bundle_with_tiocsti true "$INJECT" --read
		run pty_caller "$rt run --bundle $(printf '%q' "$BUNDLE") tty$WITH_SYS_ADMIN; $CALLER_READ"
		assert_status 0
		assert_own_pty "$WITH_SYS_ADMIN"
	done
}

@test "escape: TIOCSTI from an oci container without a pty cannot reach the caller's terminal on its stdio" {
	# The container's stdio is the caller's terminal itself (a foreground run or create/start
	# hands it on as it is, as runc does for a detached container): only the session of its
	# own keeps TIOCSTI off it.  With CAP_SYS_ADMIN TIOCSTI works on any terminal; that is a
	# capability the config grants, not tested here.
	build_tiocsti
	check_caller_control
	local rt
	rt=$(printf '%q ' "${RUNTIME_CMD[@]}" --root "$ROOT")
	WITH_SYS_ADMIN=0
	oci_bundle_with_tiocsti false "$INJECT"
	run pty_caller "$rt run --bundle $(printf '%q' "$BUNDLE") fg; $CALLER_READ"
	assert_status 0
	assert_output_contains "tiocsti: failed"
	assert_output_contains "CALLER-GOT:[]"

	# create + start, then wait for it to stop: its stdio is the caller's terminal too
	run pty_caller "$rt create --bundle $(printf '%q' "$BUNDLE") cs && $rt start cs &&
		for i in \$(seq 200); do $rt state cs | grep -q '\"stopped\"' && break; sleep 0.05; done;
		$rt delete cs; $CALLER_READ"
	assert_status 0
	assert_output_contains "tiocsti: failed"
	assert_output_contains "CALLER-GOT:[]"

	# exec into a running container, on the caller's terminal
	set_args sleep 100
	update_config '.process.terminal = false'
	run_detached ex
	run pty_caller "$rt exec ex /tiocsti $(printf '%q' "$INJECT"); $CALLER_READ"
	assert_status 0
	assert_output_contains "tiocsti: failed"
	assert_output_contains "CALLER-GOT:[]"
	runtime delete --force ex
}

# host_block_device: MAJ:MIN of a block device of the host: the one under the test's directory,
# else the first the kernel lists.
host_block_device() {
	local d
	d=$(findmnt -no MAJ:MIN -T "$TEST_DIR" 2>/dev/null | head -n1)
	if [ -z "$d" ] || [ ! -e "/sys/dev/block/$d" ]; then
		d=$(ls /sys/dev/block | head -n1)
	fi
	printf '%s\n' "$d"
}

@test "escape: device nodes shipped in an image layer are refused by nook run's devices cgroup" {
	local layer=$TEST_DIR/layer dev maj min
	dev=$(host_block_device)
	[ -n "$dev" ] || skip "no block device on this host"
	maj=${dev%:*} min=${dev#*:}
	cp -a "$(nook_rootfs_cache)" "$layer"
	mkdir "$layer/evil"
	mknod "$layer/evil/disk" b "$maj" "$min"
	mknod "$layer/evil/mem" c 1 1
	mknod "$layer/evil/null" c 1 3
	tar -C "$layer" -cf "$TEST_DIR/devnodes.tar" .
	run nook_cli image import --name localhost/devnodes:1 "$TEST_DIR/devnodes.tar"
	assert_status 0

	# shellcheck disable=SC2016
	probe='stat -c "%n %F %t:%T" /evil/disk /evil/mem;
		for n in disk mem; do
			if head -c 16 /evil/$n >/dev/null 2>/tmp/e; then echo "$n: read"; else echo "$n: $(cat /tmp/e)"; fi
		done
		echo x >/evil/null && echo "layer null: ok"; echo x >/dev/null && echo "dev null: ok"
		head -c 4 /dev/zero | wc -c'
	run nrun --rm localhost/devnodes:1 sh -c "$probe"
	assert_status 0
	# the nodes are there, as the layer made them (the unpack does not drop them) ...
	assert_output_contains "$(printf '/evil/disk block special file %x:%x' "$maj" "$min")"
	assert_output_contains "/evil/mem character special file 1:1"
	# ... but the devices cgroup refuses them; the default devices work, from the layer too
	assert_output_contains "disk: head: /evil/disk: Operation not permitted"
	assert_output_contains "mem: head: /evil/mem: Operation not permitted"
	assert_output_contains "layer null: ok"
	assert_output_contains "dev null: ok"
	[ "${lines[-1]}" = 4 ]

	# the control: --privileged allows every device, and the layer's disk node reads the
	# host's disk (so the refusal above is the cgroup's, and a missing one would show)
	run nrun --rm --privileged localhost/devnodes:1 sh -c "$probe"
	assert_status 0
	assert_output_contains "disk: read"
}

# swapper DIR A B COUNT_FILE: exchange DIR/A and DIR/B with renameat2(RENAME_EXCHANGE) in a
# tight loop until killed (SIGTERM), then write the number of swaps to COUNT_FILE.
SWAPPER_PY='
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
d, a, b, out = sys.argv[1:5]
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
n, stop = 0, []
signal.signal(signal.SIGTERM, lambda *x: stop.append(1))
while not stop:
    if libc.renameat2(fd, a.encode(), fd, b.encode(), 2) != 0:
        sys.stderr.write("renameat2: %s\n" % os.strerror(ctypes.get_errno()))
        sys.exit(1)
    n += 1
with open(out, "w") as f:
    f.write("%d\n" % n)
'

# stop_swapper: stop the swapper (if running) and wait for it.
stop_swapper() {
	[ -n "${SWAPPER_PID:-}" ] || return 0
	kill -TERM "$SWAPPER_PID" 2>/dev/null
	wait "$SWAPPER_PID" 2>/dev/null
	SWAPPER_PID=
}

# outside_is_untouched OUTSIDE: no mount of the host is at or below OUTSIDE, and its markers
# are visible.
outside_is_untouched() {
	if grep -F " $1" /proc/self/mountinfo; then
		echo "a mount landed on the host's $1" >&2
		return 1
	fi
	[ "$(cat "$1/mnt/marker" "$1/bnd/marker")" = "$(printf 'outside-mnt\noutside-bnd')" ]
}

# race_runs NAME MENTION ON_OK AFTER: exchange rootfs/swap and rootfs/swap.alt in a loop
# while the bundle runs as NAME0, NAME1, ... (100 runs or 20 s); the function ON_OK checks the
# $output of a run that succeeds, one that fails must fail with one line naming MENTION, and
# the function AFTER runs after each.  Prints what happened; fails when no run succeeded.
race_runs() {
	local name=$1 mention=$2 on_ok=$3 after=$4 n ok=0 failed=0
	python3 -c "$SWAPPER_PY" "$BUNDLE/rootfs" swap swap.alt "$TEST_DIR/swaps" 3>&- &
	SWAPPER_PID=$!
	on_teardown stop_swapper
	SECONDS=0
	for ((n = 0; n < 100 && SECONDS < 20; n++)); do
		run --separate-stderr runtime run --bundle "$BUNDLE" "$name$n" </dev/null
		if [ "$status" -eq 0 ]; then
			"$on_ok"
			ok=$((ok + 1))
		else
			# a run that lost the race fails with one clear line naming the mount
			assert_failure
			assert_one_line_error "$mention"
			failed=$((failed + 1))
			printf '%s\n' "${stderr#*: }" >>"$TEST_DIR/errors"
			runtime delete --force "$name$n" >/dev/null 2>&1 || true
		fi
		"$after"
	done
	stop_swapper
	echo "# $n runs ($ok ok, $failed failed) against $(cat "$TEST_DIR/swaps") swaps" >&3
	[ ! -e "$TEST_DIR/errors" ] || sed 's/t\.[A-Za-z0-9]*/t.X/' "$TEST_DIR/errors" | sort | uniq -c |
		sed 's/^/#   /' >&3
	[ "$ok" -gt 0 ]
}

# race_ok, outside_untouched: the checks of a run of the test below.
race_ok() {
	assert_output "outside-mnt
outside-bnd
0
2"
}
outside_untouched() {
	outside_is_untouched "$TEST_DIR/outside"
}

# source_unwritten: the test below wrote nothing to its read-only bind's source.
source_unwritten() {
	if [ -e "$TEST_DIR/src/written" ]; then
		echo "a run wrote to the read-only bind's source" >&2
		return 1
	fi
}

@test "escape: a mount destination swapped between a dir and a symlink out of the rootfs never lands outside" {
	local outside=$TEST_DIR/outside rootfs=$BUNDLE/rootfs
	# The target a naive (path string) mount would reach: $TEST_DIR/outside on the host, with
	# a marker in each dir a mount would hide.
	mkdir -p "$outside/mnt" "$outside/bnd" "$TEST_DIR/src"
	echo outside-mnt >"$outside/mnt/marker"
	echo outside-bnd >"$outside/bnd/marker"
	echo from-src >"$TEST_DIR/src/marker"
	# rootfs/swap and rootfs/swap.alt: a real directory and a symlink to ../../outside (from
	# the rootfs, $TEST_DIR/outside on the host; inside the root it is /outside, which exists
	# too), exchanged atomically in a loop while containers start.
	mkdir -p "$rootfs/swap/mnt" "$rootfs/swap/bnd" "$rootfs/outside/mnt" "$rootfs/outside/bnd"
	ln -s ../../outside "$rootfs/swap.alt"
	# A tmpfs and a bind whose destinations go through the swapped path; then the host's
	# outside dir bound (rbind: with whatever is mounted below it in the container's mount
	# namespace) at /hostview, where a mount that escaped would show and hide the markers.
	update_config '.mounts += [
		{destination: "/swap/mnt", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev"]},
		{destination: "/swap/bnd", type: "bind", source: $src, options: ["bind", "ro"]},
		{destination: "/hostview", type: "bind", source: $out, options: ["rbind", "ro"]}]' \
		--arg src "$TEST_DIR/src" --arg out "$outside"
	# shellcheck disable=SC2016
	set_args sh -c 'cat /hostview/mnt/marker /hostview/bnd/marker;
		grep -c " /hostview/" /proc/self/mountinfo;
		grep -cE " /(swap|swap\.alt|outside)/(mnt|bnd) " /proc/self/mountinfo'

	# a run that succeeds saw both markers through /hostview, nothing mounted below it, and
	# both mounts inside the rootfs; after each, the host's directory is untouched
	race_runs race /swap/ race_ok outside_untouched
	outside_is_untouched "$outside"
	state_root_is_empty
}

@test "escape: a read-only bind whose destination is swapped while the container starts stays read-only" {
	local rootfs=$BUNDLE/rootfs
	# The flags of a bind take a remount after the mount.  rootfs/swap (a directory) and
	# rootfs/swap.alt (a symlink to "other", where a tmpfs is mounted on other/bnd) are
	# exchanged in a loop: a remount that resolved /swap/bnd again would find that tmpfs,
	# make it read-only and leave the bind of the host's directory writable.
	# runc 1.1.5 (Debian 12's) remounts the path it resolves again and fails this within a
	# few runs: a promise of nook's, not of the OCI runtime interface the runc lane checks.
	is_nook || skip "runc 1.1 applies a bind's flags to whatever the path leads to by then"
	mkdir -p "$TEST_DIR/src" "$rootfs/swap/bnd" "$rootfs/other/bnd"
	ln -s other "$rootfs/swap.alt"
	update_config '.mounts += [
		{destination: "/other/bnd", type: "tmpfs", source: "tmpfs", options: ["nosuid"]},
		{destination: "/swap/bnd", type: "bind", source: $src, options: ["bind", "ro"]}]' \
		--arg src "$TEST_DIR/src"
	# through whichever name leads to the bind at the moment
	set_args sh -c 'for d in /swap /swap.alt /other; do touch $d/bnd/written 2>/dev/null; done; true'

	race_runs robind /swap/bnd true source_unwritten
	state_root_is_empty
}
