#!/usr/bin/env bats
# Hardening: the runtime's binary out of the container's reach (CVE-2019-5736), the process's
# cwd inside the container (CVE-2024-21626), and /proc and /sys holding against the usual
# tricks of a default `spec` config.

load helpers

# ---- CVE-2019-5736 -------------------------------------------------------------------------

# use_runtime_copy: copy the runtime's binary to $TEST_DIR/bin under the name it is called by,
# as $RUNTIME_COPY ($RUNTIME_ORIG keeps the original's path).  The attacks below run against
# the copy, so that a runtime without the protection damages only the copy; with it, the copy
# must stay byte for byte the original.
use_runtime_copy() {
	local name=${RUNTIME_CMD[0]##*/}
	RUNTIME_ORIG=$(readlink -f "$(command -v "${RUNTIME_CMD[0]}")") || return 1
	mkdir -p "$TEST_DIR/bin"
	RUNTIME_COPY=$TEST_DIR/bin/$name
	cp "$RUNTIME_ORIG" "$RUNTIME_COPY"
}

# with_runtime_copy CMD...: run a helper (create_container, run_detached, ...) with the copy.
with_runtime_copy() {
	local -a cmd=("$RUNTIME_COPY" "${RUNTIME_CMD[@]:1}")
	local -a RUNTIME_CMD=("${cmd[@]}")
	"$@"
}

# The attacker's last step, in busybox sh: fd 5 holds the runtime's binary as /proc/PID/exe
# gave it.  Writing through it fails with ETXTBSY while anything still runs the binary, so
# retry that for a while; any other answer is final.  Writes "wrote" or "refused: ERROR" to
# /shared/result.
WRITE_THROUGH_FD5='n=0
while :; do
	if printf X 2>/shared/err >>/proc/self/fd/5; then r=wrote; break; fi
	grep -q busy /shared/err || { r="refused: $(cat /shared/err)"; break; }
	n=$((n + 1)); [ $n -lt 100 ] || { r="still busy"; break; }
	sleep 0.1
done
echo "$r" >/shared/result'

# shared_dir: $TEST_DIR/shared, bind-mounted at /shared by add_shared_mount.
add_shared_mount() {
	update_config '.mounts += [{"destination": "/shared", "type": "bind", "source": $d,
		"options": ["rbind", "rw"]}]' --arg d "$TEST_DIR/shared"
}

# check_binary_intact: the attack's result was a refusal and the copy is unchanged.
check_binary_intact() {
	local result
	result=$(cat "$TEST_DIR/shared/result")
	echo "attacker: $result" >&2
	[[ "$result" == refused:* ]]
	cmp "$RUNTIME_ORIG" "$RUNTIME_COPY"
}

@test "CVE-2019-5736: /proc/PID/exe of a created init cannot be written, even with CAP_SYS_PTRACE" {
	use_runtime_copy
	mkdir -p "$TEST_DIR/shared"
	mkfifo "$TEST_DIR/shared/opened" "$TEST_DIR/shared/go"
	# The victim: created, so its init waits on exec.fifo running the runtime's code.
	with_runtime_copy create_container victim
	pid=$(container_pid victim)
	[ -n "$pid" ]

	# The attacker shares the host's pid namespace and has CAP_SYS_PTRACE, which it needs
	# because the init is not dumpable.  It opens the init's exe for reading, then, once the
	# victim has exec'd its process and nothing runs the binary any more, writes through it.
	BUNDLE=$(new_bundle attacker)
	update_config '.linux.namespaces |= map(select(.type != "pid"))
		| .process.capabilities |= with_entries(.value += ["CAP_SYS_PTRACE"])
		| .process.env += ["VICTIM=" + $pid]' --arg pid "$pid"
	add_shared_mount
	set_args sh -c 'cat /proc/$VICTIM/exe >/dev/null || { echo "cannot open" >/shared/result; exit 0; }
		exec 5</proc/$VICTIM/exe
		echo opened >/shared/opened
		read go </shared/go
		'"$WRITE_THROUGH_FD5"
	run_detached attacker
	timeout 20 cat "$TEST_DIR/shared/opened" >/dev/null

	BUNDLE=$TEST_DIR/bundle
	runtime start victim
	wait_for_status victim stopped
	timeout 20 sh -c 'echo go >"$1"' _ "$TEST_DIR/shared/go"
	wait_for_file "$TEST_DIR/shared/result" 20
	check_binary_intact
}

@test "CVE-2019-5736: a #!/proc/self/exe entrypoint does not hand the runtime's binary to the container" {
	use_runtime_copy
	name=${RUNTIME_COPY##*/}
	mkdir -p "$TEST_DIR/shared"
	mkfifo "$TEST_DIR/shared/log" "$TEST_DIR/shared/go"

	# The attacker: an ordinary container (default capabilities, its own pid namespace) whose
	# pid namespace the victim joins.  It finds the victim, opens its exe, lets it finish,
	# then writes through the exe.  ("lo[g]" keeps its own command line from matching.)
	BUNDLE=$(new_bundle attacker)
	add_shared_mount
	set_args sh -c 'read go </shared/go
		for f in /proc/[0-9]*/cmdline; do
			grep -q -e "--lo[g]=/shared" "$f" 2>/dev/null && { v=${f#/proc/}; v=${v%/cmdline}; }
		done
		[ -n "$v" ] || { echo "no victim" >/shared/result; exit 0; }
		cat /proc/$v/exe >/dev/null || { echo "cannot open" >/shared/result; exit 0; }
		exec 5</proc/$v/exe
		cat /shared/log >/dev/null
		'"$WRITE_THROUGH_FD5"
	run_detached attacker
	apid=$(container_pid attacker)
	[ -n "$apid" ]

	# The victim's image: an entrypoint whose interpreter is /NAME -> /proc/self/exe, so that
	# the runtime's exec of it runs the runtime's binary again, inside the container and
	# dumpable; the binary's libraries are in the image, so it gets as far as opening its --log,
	# a fifo, and waits there for the attacker.
	BUNDLE=$TEST_DIR/bundle
	for lib in $(ldd "$RUNTIME_COPY" | grep -o '/[^ ]*'); do
		cp -L --parents "$lib" "$BUNDLE/rootfs"
	done
	ln -s /proc/self/exe "$BUNDLE/rootfs/$name"
	printf '#!/%s --log=/shared/log\n' "$name" >"$BUNDLE/rootfs/entrypoint"
	chmod 0755 "$BUNDLE/rootfs/entrypoint"
	update_config '.linux.namespaces |= map(if .type == "pid" then .path = $p else . end)' \
		--arg p "/proc/$apid/ns/pid"
	add_shared_mount
	set_args /entrypoint
	with_runtime_copy run_detached victim
	timeout 20 sh -c 'echo go >"$1"' _ "$TEST_DIR/shared/go"
	wait_for_file "$TEST_DIR/shared/result" 20
	check_binary_intact
}

# ---- CVE-2024-21626 ------------------------------------------------------------------------

# require_cwd_fix: runc before 1.1.12 (and crun before 1.14.1) let process.cwd reach a
# directory outside the root; skip those when they are the runtime under test.
require_cwd_fix() {
	local v
	is_nook && return 0
	v=$("${RUNTIME_CMD[@]}" --version 2>/dev/null | awk 'NR == 1 { print $3 }')
	case ${RUNTIME_CMD[0]##*/} in
	runc) printf '%s\n' 1.1.12 "${v%%[+~-]*}" | sort -C -V ||
		skip "runc $v predates the CVE-2024-21626 fix (1.1.12)" ;;
	crun) printf '%s\n' 1.14.1 "${v%%[+~-]*}" | sort -C -V ||
		skip "crun $v predates the CVE-2024-21626 hardening (1.14.1)" ;;
	esac
}

# The container's report of its own cwd: "cwd=/path", or "cwd=outside" when getcwd cannot
# name it from the root; then the listing of the directory.
CWD_REPORT='p=$(pwd -P 2>/dev/null) && case $p in /*) echo "cwd=$p" ;; *) echo cwd=outside ;; esac ||
	echo cwd=outside
ls -a'

@test "CVE-2024-21626: process.cwd /proc/self/fd/N (3..12) fails or stays inside the container" {
	require_cwd_fix
	# Host directories held open by the runtime's caller at fds 7-9 stand for fds the runtime
	# leaks into its init (runc's was /sys/fs/cgroup): none may lead the process out.
	mkdir "$TEST_DIR/hostdir"
	touch "$TEST_DIR/hostdir/HOST-MARKER"
	set_args sh -c "$CWD_REPORT"
	for fd in 3 4 5 6 7 8 9 10 11 12; do
		update_config '.process.cwd = $c' --arg c "/proc/self/fd/$fd"
		run run_container "cwd$fd" 7<"$TEST_DIR/hostdir" 8<"$TEST_DIR/hostdir" 9<"$TEST_DIR/hostdir"
		echo "fd $fd: status $status: $(head -n1 <<<"$output")" >&2
		[[ "$output" != *HOST-MARKER* ]]
		[[ "$output" != *cwd=outside* ]]
		[[ "$output" != *cgroup.procs* ]]
		if [ "$status" -eq 0 ]; then
			[[ "${lines[0]}" == cwd=/* ]]
		fi
	done
}

@test "CVE-2024-21626: process.cwd through a preserved host directory fd is refused" {
	require_cwd_fix
	mkdir "$TEST_DIR/hostdir"
	touch "$TEST_DIR/hostdir/HOST-MARKER"
	update_config '.process.cwd = "/proc/self/fd/3"'
	set_args sh -c "$CWD_REPORT"
	NOOK_PASS_FD3=1 run runtime run --preserve-fds 1 --bundle "$BUNDLE" pfd 3<"$TEST_DIR/hostdir" </dev/null
	echo "$output" >&2
	assert_failure
	[[ "$output" != *HOST-MARKER* ]]
	if is_nook; then
		assert_output_contains "outside the container's root"
	fi
}

@test "CVE-2024-21626: a missing process.cwd is not created through /proc/self/fd/N" {
	require_nook "creating process.cwd"
	mkdir "$TEST_DIR/hostdir"
	update_config '.process.cwd = "/proc/self/fd/3/made-by-runtime"'
	NOOK_PASS_FD3=1 run runtime run --preserve-fds 1 --bundle "$BUNDLE" mk 3<"$TEST_DIR/hostdir" </dev/null
	assert_failure
	[ -z "$(ls -A "$TEST_DIR/hostdir")" ]
}

@test "CVE-2024-21626: args[0] cannot reach a host binary through an fd of the runtime" {
	# The host's static busybox, reached through a host directory the caller holds at fd 7.
	[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || skip "no static /bin/busybox"
	mkdir "$TEST_DIR/hostdir"
	up=$(realpath "$TEST_DIR/hostdir" | sed 's|/[^/]*|../|g')
	for fd in 3 4 5 6 7 8 9 10; do
		set_args "/proc/self/fd/$fd/${up}bin/busybox" echo host-busybox-ran
		output=$(run_container "arg$fd" 7<"$TEST_DIR/hostdir" 2>&1) || true
		echo "fd $fd: $output" >&2
		[[ "$output" != *host-busybox-ran* ]]
	done
}

# ---- /proc and /sys of the default config --------------------------------------------------

# install_check_masks: export the config's linux.maskedPaths and readonlyPaths to the container
# as MASKED and READONLY, and install /check-masks in its rootfs: one "BAD ..." line for each
# masked path that exists and is not masked (a file must be the null device, a directory
# empty) and each read-only path that exists and is not mounted ro.
install_check_masks() {
	update_config '.process.env += ["MASKED=" + (.linux.maskedPaths | join(" ")),
		"READONLY=" + (.linux.readonlyPaths | join(" "))]'
	cat >"$BUNDLE/rootfs/check-masks" <<'SCRIPT'
#!/bin/sh
for p in $MASKED; do
	[ -e "$p" ] || continue
	if [ -d "$p" ]; then
		[ -z "$(ls -A "$p")" ] || echo "BAD not masked: $p"
	else
		[ "$(stat -c %F:%t:%T "$p")" = "character special file:1:3" ] || echo "BAD not masked: $p"
	fi
done
for p in $READONLY; do
	[ -e "$p" ] || continue
	o=$(awk -v p="$p" '$5 == p { o = $6 } END { print o }' /proc/self/mountinfo)
	case ,$o, in *,ro,*) ;; *) echo "BAD not read-only: $p ($o)" ;; esac
done
SCRIPT
	chmod 0755 "$BUNDLE/rootfs/check-masks"
}

@test "masked paths: the default config's are masked and its read-only paths are read-only" {
	install_check_masks
	set_args sh -c '/check-masks; echo checked'
	run run_container masks
	assert_status 0
	[[ "$output" != *BAD* ]]
	assert_output_contains checked
}

@test "masked paths: the container's root cannot unmount, remount or mount over them" {
	install_check_masks
	set_args sh -c 'for p in $MASKED $READONLY; do
			[ -e "$p" ] || continue
			umount "$p" 2>/dev/null && echo "BAD umount $p"
			umount -l "$p" 2>/dev/null && echo "BAD umount -l $p"
		done
		mount -o remount,rw /proc/sys 2>/dev/null && echo "BAD remount /proc/sys rw"
		mount --bind /tmp /sys/firmware 2>/dev/null && echo "BAD bind over /sys/firmware"
		mkdir -p /tmp/p
		mount -t proc proc /tmp/p 2>/dev/null && echo "BAD mount -t proc"
		cat /proc/sys/kernel/core_pattern >/dev/null || echo "BAD cannot read core_pattern"
		# the same value back: harmless should it succeed
		(cat /proc/sys/kernel/core_pattern >/proc/sys/kernel/core_pattern) 2>/dev/null &&
			echo "BAD core_pattern written"
		/check-masks
		echo checked'
	run run_container tricks
	assert_status 0
	[[ "$output" != *BAD* ]]
	assert_output_contains checked
}

@test "masked paths: a nested user namespace can neither unmount them nor mount a fresh /proc" {
	[ "$(cat /proc/sys/user/max_user_namespaces)" -gt 0 ] || skip "user namespaces are disabled"
	install_check_masks
	# uid 1000: mapping uid 0 into a user namespace would need CAP_SETFCAP.
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	set_args sh -c 'unshare -Urm sh -c "for p in \$MASKED \$READONLY; do
				[ -e \$p ] && umount -l \$p 2>/dev/null && echo BAD nested umount \$p
			done
			/check-masks; echo nested-umount-tried"
		unshare -Urmpf sh -c "mkdir -p /tmp/p; mount -t proc proc /tmp/p 2>/dev/null && echo BAD nested proc mount
			echo nested-proc-tried"'
	run run_container nested
	echo "$output" >&2
	assert_status 0
	[[ "$output" != *BAD* ]]
	assert_output_contains nested-umount-tried
	assert_output_contains nested-proc-tried
}
