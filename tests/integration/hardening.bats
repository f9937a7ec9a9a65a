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
