# shellcheck shell=bash
# Helpers for the nook integration suite (bats 1.8, run as root).
#
# Every test gets its own directory $TEST_DIR (mktemp -d under the suite prefix $NOOK_BATS_SUITE)
# holding its bundle ($BUNDLE, rootfs copied from a per-suite busybox cache) and its state root
# ($ROOT, passed as --root to every runtime call).  Every container config gets a relative
# linux.cgroupsPath "<suite tag>/<test tag>-<bundle>": runc 1.1 (and nook) put it below the
# runtime's own cgroup, so the suite never touches the machine's other cgroups.  The teardown
# force-deletes every container the test created, then looks for anything left behind
# (processes, mounts, state dirs, cgroups), records it in $NOOK_BATS_SUITE/leftovers for
# run-bats' final leftover check, and removes it.
#
# The runtime under test is $OCI_RUNTIME (default: $NOOK_BUILDDIR/nook-runc).  It may hold words
# (OCI_RUNTIME="/path/nook oci").  Run the suite against runc with OCI_RUNTIME=runc to validate
# the tests themselves; tests of nook-only behaviour call require_nook and skip.

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------

NOOK_SRCDIR=${NOOK_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NOOK_BUILDDIR=${NOOK_BUILDDIR:-$NOOK_SRCDIR}
OCI_RUNTIME=${OCI_RUNTIME:-$NOOK_BUILDDIR/nook-runc}
read -r -a RUNTIME_CMD <<<"$OCI_RUNTIME"
# Seconds one runtime command may take before it is killed (a hang must not stall the suite).
NOOK_TEST_TIMEOUT=${NOOK_TEST_TIMEOUT:-60}
NOOK_ROOTFS_SCRIPT=$NOOK_SRCDIR/tests/helpers/make-busybox-rootfs.sh
NOOK_RECVTTY=$NOOK_SRCDIR/tests/helpers/recvtty.py

# ---------------------------------------------------------------------------------------------
# Leftover scanning (also used by run-bats, outside bats)
# ---------------------------------------------------------------------------------------------

# nook_cgroup_bases: print, one per line, the directories below which a relative cgroupsPath may
# be created: the runtime's own cgroup in each v1 hierarchy, for cgroup v2 both the own cgroup
# and its parent (runc's fs2 driver uses the parent, as the own cgroup has processes in it), and
# every hierarchy's root (for a runtime that gets it wrong: its leftovers are found too).
nook_cgroup_bases() {
	local id ctrls path mnt
	while IFS=: read -r id ctrls path; do
		if [ -z "$ctrls" ]; then
			mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
		else
			mnt=$(awk -v c="${ctrls%%,*}" '$3 == "cgroup" {
				n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $2; exit } }' \
				/proc/self/mounts)
		fi
		[ -n "$mnt" ] || continue
		printf '%s\n' "$mnt" "${mnt%/}${path%/}"
		if [ -z "$ctrls" ] && [ "$path" != / ]; then
			printf '%s\n' "${mnt%/}$(dirname "$path" | sed 's|^/$||')"
		fi
	done </proc/self/cgroup | sort -u
}

# nook_find_processes DIR MARKER: print "PID COMM WHY" for every process whose cwd or root is
# below DIR, whose command line mentions DIR, or whose environment holds MARKER.
nook_find_processes() {
	local dir=$1 marker=$2 f pid comm
	{
		find /proc -mindepth 2 -maxdepth 2 \( -name cwd -o -name root \) -lname "$dir*" \
			-printf '%h %f\n' 2>/dev/null
		grep -laF -f <(printf '%s\n' "$dir") /proc/[0-9]*/cmdline 2>/dev/null |
			sed 's|/cmdline$| cmdline|'
		grep -laF -f <(printf '%s\n' "$marker") /proc/[0-9]*/environ 2>/dev/null |
			sed 's|/environ$| environ|'
	} | while read -r f why; do
		pid=${f#/proc/}
		case $pid in '' | *[!0-9]*) continue ;; esac
		[ "$pid" = "$$" ] || [ "$pid" = "${BASHPID:-}" ] && continue
		[ -d "/proc/$pid" ] || continue
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
		printf '%s %s %s\n' "$pid" "$comm" "$why"
	done | sort -u -k1,1n
}

# nook_find_mounts TAG: print the mount points of /proc/self/mountinfo lines that mention TAG
# (a path fragment such as "nook-bats.XXXX/t.YYYY"), deepest first.
nook_find_mounts() {
	awk -v t="$1" 'index($0, t) { print length($5), $5 }' /proc/self/mountinfo |
		sort -rn | cut -d' ' -f2-
}

# nook_kill_cgroup DIR: SIGKILL every process in the cgroup DIR and its children, then rmdir them.
nook_kill_cgroup() {
	local d pid i
	[ -d "$1" ] || return 0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do
			kill -9 "$pid" 2>/dev/null
		done
		find "$1" -depth -type d 2>/dev/null | while read -r d; do rmdir "$d" 2>/dev/null; done
		[ -d "$1" ] || return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------------------------------------
# Running the runtime
# ---------------------------------------------------------------------------------------------

# runtime_direct ARGS...: run the runtime under test with --root $ROOT, bounded by
# $NOOK_TEST_TIMEOUT, on the caller's stdio.  Bats' own fd 3 is closed so that a container cannot
# hold the TAP stream open; a test that passes fd 3 on purpose sets NOOK_PASS_FD3=1.
runtime_direct() {
	if [ -n "${NOOK_PASS_FD3:-}" ]; then
		timeout -k 5 "$NOOK_TEST_TIMEOUT" "${RUNTIME_CMD[@]}" --root "$ROOT" "$@"
	else
		timeout -k 5 "$NOOK_TEST_TIMEOUT" "${RUNTIME_CMD[@]}" --root "$ROOT" "$@" 3>&-
	fi
}

# runtime ARGS...: like runtime_direct, but stdout and stderr go through files that are copied
# out when the runtime exits: a stray process of the runtime (or a container) that keeps them
# open cannot hang bats' `run`, which waits for the end of its pipe.
runtime() {
	local rc=0 buf
	buf=$(mktemp "${TEST_DIR:-${TMPDIR:-/tmp}}/runtime-io.XXXXXX") || return 1
	runtime_direct "$@" >"$buf.out" 2>"$buf.err" || rc=$?
	cat "$buf.out"
	cat "$buf.err" >&2
	rm -f "$buf" "$buf.out" "$buf.err"
	return "$rc"
}

# is_nook: true when the runtime under test is nook (as nook-runc or `nook oci`).
is_nook() {
	case $(basename "${RUNTIME_CMD[0]}") in
	nook | nook-runc | lt-nook) return 0 ;;
	esac
	"${RUNTIME_CMD[@]}" --version 2>/dev/null | head -n1 | grep -qi '^nook'
}

# require_nook WHAT: skip a test of nook-only behaviour (exact messages, `nook oci`).
require_nook() {
	is_nook || skip "nook-specific (${*:-message}); runtime is $OCI_RUNTIME"
}

# require_runtime_ns NS: skip unless the kernel has namespace NS (/proc/self/ns name) and the
# runtime does not say otherwise in `features` (runc 1.1 has no time namespace).
require_runtime_ns() {
	local kname=$1 oname=$1 features
	case $1 in
	net) oname=network ;;
	mnt) oname=mount ;;
	esac
	[ -e "/proc/self/ns/$kname" ] || skip "kernel has no $kname namespace"
	if features=$(runtime features 2>/dev/null) &&
		jq -e '.linux.namespaces | type == "array"' >/dev/null 2>&1 <<<"$features"; then
		jq -e --arg n "$oname" '.linux.namespaces | index($n)' >/dev/null <<<"$features" ||
			skip "runtime does not support the $oname namespace (features)"
	fi
}

# ---------------------------------------------------------------------------------------------
# Bundles
# ---------------------------------------------------------------------------------------------

# nook_rootfs_cache: build the busybox rootfs once per suite run; print its path.
nook_rootfs_cache() {
	local cache=$NOOK_BATS_SUITE/rootfs.cache tmp
	if [ ! -x "$cache/bin/busybox" ]; then
		tmp=$(mktemp -d "$NOOK_BATS_SUITE/rootfs.XXXXXX")
		"$NOOK_ROOTFS_SCRIPT" "$tmp/rootfs" >&2 || return 1
		mv -T "$tmp/rootfs" "$cache" 2>/dev/null || true
		rm -rf "$tmp"
	fi
	printf '%s\n' "$cache"
}

# new_bundle [NAME]: make the bundle $TEST_DIR/NAME (default "bundle") with a busybox rootfs and
# a config.json written by `$OCI_RUNTIME spec`, then adjusted for tests: terminal false, args
# ["true"], writable root, the test's cgroupsPath and env marker.  Prints the bundle path.
new_bundle() {
	local name=${1:-bundle} dir cache
	dir=$TEST_DIR/$name
	cache=$(nook_rootfs_cache) || return 1
	mkdir -p "$dir"
	cp -a "$cache" "$dir/rootfs"
	(cd "$dir" && timeout 30 "${RUNTIME_CMD[@]}" spec 3>&-) || {
		echo "\`$OCI_RUNTIME spec' failed in $dir" >&2
		return 1
	}
	jq --arg cg "$CG_PARENT/$TEST_TAG-$name" --arg marker "NOOK_BATS_CONTAINER=$CONTAINER_MARKER" '
		.process.terminal = false
		| .process.args = ["true"]
		| .process.env += [$marker]
		| .root.readonly = false
		| .linux.cgroupsPath = $cg' "$dir/config.json" >"$dir/config.json.new" &&
		mv "$dir/config.json.new" "$dir/config.json" || return 1
	printf '%s\n' "$dir"
}

# update_config FILTER [JQ ARGS...]: apply a jq filter to $BUNDLE/config.json in place.
update_config() {
	local filter=$1
	shift
	jq "$@" "$filter" "$BUNDLE/config.json" >"$BUNDLE/config.json.new" &&
		mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"
}

# set_args ARG...: set process.args.
set_args() {
	update_config '.process.args = $args' --argjson args "$(json_array "$@")"
}

# use_userns: add a user namespace whose root is host uid 100000 and gid 200000 (65536 ids
# each); the /sys/fs/cgroup mount goes, as such a root may not make it.
use_userns() {
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 200000, "size": 65536}]
		| .mounts |= map(select(.destination != "/sys/fs/cgroup"))'
}

# json_array STRING...: print a JSON array of the strings (jq's --args would eat "-c").
json_array() {
	local a jqargs=() filter='[' i=0
	for a in "$@"; do
		jqargs+=(--arg "a$i" "$a")
		filter+="\$a$i,"
		i=$((i + 1))
	done
	filter=${filter%,}']'
	jq -cn "${jqargs[@]}" "$filter"
}

# marker: the env entry that tags every process of this test's containers.
container_env_marker() {
	printf 'NOOK_BATS_CONTAINER=%s\n' "$CONTAINER_MARKER"
}

# ---------------------------------------------------------------------------------------------
# Container operations
# ---------------------------------------------------------------------------------------------

# stdio_name ID: a file name for the stdio of container ID (which may be an invalid id).
stdio_name() {
	printf 'stdio-%s' "$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' _ | cut -c1-60)"
}

# create_container ID [ARGS...]: `create` from $BUNDLE with the container's (and the runtime's)
# stdio on $TEST_DIR/stdio-ID.out and .err, so no container holds a pipe of bats open.
create_container() {
	local id=$1 f
	shift
	f=$TEST_DIR/$(stdio_name "$id")
	runtime_direct create --bundle "$BUNDLE" "$@" "$id" </dev/null >"$f.out" 2>"$f.err"
}

# run_detached ID [ARGS...]: `run --detach` from $BUNDLE, stdio as for create_container.
run_detached() {
	local id=$1 f
	shift
	f=$TEST_DIR/$(stdio_name "$id")
	runtime_direct run --detach --bundle "$BUNDLE" "$@" "$id" </dev/null >"$f.out" 2>"$f.err"
}

# run_container ID [ARGS...]: foreground `run` from $BUNDLE; use it with bats' `run`.
run_container() {
	local id=$1
	shift
	runtime run --bundle "$BUNDLE" "$@" "$id" </dev/null
}

# term_foreground OUT ARGS...: run the runtime with ARGS in the background, output to OUT; once
# OUT holds "ready", send SIGTERM to the runtime and wait for it.  $status is its exit code.
term_foreground() {
	local out=$1 bg rt
	shift
	runtime_direct "$@" </dev/null >"$out" 2>&1 &
	bg=$!
	for _ in $(seq 200); do grep -q ready "$out" && break; sleep 0.05; done
	# timeout(1) runs the runtime as its child: signal the runtime itself.
	rt=$(pgrep -P "$bg" | head -n1)
	kill -TERM "${rt:-$bg}"
	status=0
	wait "$bg" || status=$?
}

# container_state ID: print the state JSON.
container_state() {
	runtime state "$1"
}

# container_status ID: print .status of the state (empty when state fails).
container_status() {
	runtime state "$1" 2>/dev/null | jq -r '.status // empty' 2>/dev/null
}

# container_pid ID: print .pid of the state.
container_pid() {
	runtime state "$1" 2>/dev/null | jq -r '.pid // empty' 2>/dev/null
}

# wait_for_status ID STATUS [SECONDS]: poll the state until .status is STATUS.
wait_for_status() {
	local id=$1 want=$2 secs=${3:-10} i got=
	for ((i = 0; i < secs * 20; i++)); do
		got=$(container_status "$id")
		[ "$got" = "$want" ] && return 0
		sleep 0.05
	done
	echo "container \`$id' status is \`$got', expected \`$want' after ${secs}s" >&2
	return 1
}

# wait_for_file PATH [SECONDS]: poll until PATH exists and is non-empty.
wait_for_file() {
	local path=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		[ -s "$path" ] && return 0
		sleep 0.05
	done
	echo "\`$path' did not appear within ${secs}s" >&2
	return 1
}

# wait_for_socket PATH [SECONDS]
wait_for_socket() {
	local path=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		[ -S "$path" ] && return 0
		sleep 0.05
	done
	echo "socket \`$path' did not appear within ${secs}s" >&2
	return 1
}

# marker_pids: print the host pids of the processes of this test's containers.
marker_pids() {
	grep -laF -f <(container_env_marker) /proc/[0-9]*/environ 2>/dev/null |
		sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p' | sort -n
}

# state_root_is_empty: true when no container's state is left in --root (nook's cache of
# compiled seccomp filters, .seccomp-cache, is not a container's).
state_root_is_empty() {
	[ ! -d "$ROOT" ] || [ -z "$(ls -A "$ROOT" | grep -vx '.seccomp-cache')" ]
}

# cgroup_dirs NAME: print the existing cgroup directories of bundle NAME's container.
cgroup_dirs() {
	local base
	nook_cgroup_bases | while read -r base; do
		[ -d "$base/$CG_PARENT/$TEST_TAG-${1:-bundle}" ] &&
			printf '%s\n' "$base/$CG_PARENT/$TEST_TAG-${1:-bundle}"
	done
	return 0
}

# ---------------------------------------------------------------------------------------------
# Assertions (each prints what it saw, shortened, when it fails)
# ---------------------------------------------------------------------------------------------

_nook_show() {
	local s=$1
	if [ "${#s}" -gt 2000 ]; then
		s="${s:0:2000}... (${#s} bytes)"
	fi
	printf '%s\n' "$s"
}

# assert_status N: the last `run` exited with N.
assert_status() {
	if [ "$status" -ne "$1" ]; then
		echo "expected exit status $1, got $status; output:" >&2
		_nook_show "$output" >&2
		[ -z "${stderr:-}" ] || { echo "stderr:" >&2 && _nook_show "$stderr" >&2; }
		return 1
	fi
}

# assert_failure: the last `run` exited non-zero (and was not killed by the test timeout).
assert_failure() {
	if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		echo "expected a failure (exit 1..123), got $status; output:" >&2
		_nook_show "$output" >&2
		return 1
	fi
}

# assert_output STRING: $output is exactly STRING.
assert_output() {
	if [ "$output" != "$1" ]; then
		printf 'expected output:\n%s\ngot:\n' "$1" >&2
		_nook_show "$output" >&2
		return 1
	fi
}

# assert_output_contains STRING
assert_output_contains() {
	if [[ "$output" != *"$1"* ]]; then
		printf 'expected output to contain `%s`, got:\n' "$1" >&2
		_nook_show "$output" >&2
		return 1
	fi
}

# assert_one_line_error MENTION...: nook prints errors as exactly one line on stderr that
# names what went wrong; $stderr comes from `run --separate-stderr`.
assert_one_line_error() {
	local want
	if [ "${#stderr_lines[@]}" -ne 1 ]; then
		echo "expected one line on stderr, got ${#stderr_lines[@]}:" >&2
		_nook_show "$stderr" >&2
		return 1
	fi
	for want in "$@"; do
		if [[ "$stderr" != *"$want"* ]]; then
			printf 'expected stderr to mention `%s`, got:\n' "$want" >&2
			_nook_show "$stderr" >&2
			return 1
		fi
	done
}

# ---------------------------------------------------------------------------------------------
# setup / teardown
# ---------------------------------------------------------------------------------------------

NOOK_TEARDOWN_CMDS=()

# on_teardown CMD: run CMD (a string, eval'ed) first in the teardown.
on_teardown() {
	NOOK_TEARDOWN_CMDS+=("$1")
}

nook_setup() {
	bats_require_minimum_version 1.5.0
	[ "$(id -u)" = 0 ] || skip "not root"
	if [ -z "${NOOK_BATS_SUITE:-}" ]; then
		# Run directly with bats: keep everything under bats' own temp dir.
		NOOK_BATS_SUITE=$BATS_RUN_TMPDIR/nook-suite
		mkdir -p "$NOOK_BATS_SUITE"
		NOOK_BATS_STANDALONE=1
	fi
	# The container's users (userns, uid 1000) must be able to reach the bundle.
	chmod 0755 "$NOOK_BATS_SUITE"
	TEST_DIR=$(mktemp -d "$NOOK_BATS_SUITE/t.XXXXXX")
	chmod 0755 "$TEST_DIR"
	TEST_TAG=$(basename "$TEST_DIR")
	SUITE_TAG=$(basename "$NOOK_BATS_SUITE")
	CG_PARENT=$SUITE_TAG
	CONTAINER_MARKER=$SUITE_TAG/$TEST_TAG
	ROOT=$TEST_DIR/root
	mkdir -p "$ROOT"
	BUNDLE=$(new_bundle bundle)
}

# nook_record_leftover WHAT: note something the test left behind.
nook_record_leftover() {
	NOOK_LEFTOVERS+=("$1")
	printf '%s: %s\n' "${BATS_TEST_FILENAME##*/}: ${BATS_TEST_DESCRIPTION:-?}" "$1" \
		>>"$NOOK_BATS_SUITE/leftovers"
}

nook_teardown() {
	local cmd id ids pid comm why m base d
	NOOK_LEFTOVERS=()
	cd / || true
	[ -n "${TEST_DIR:-}" ] || return 0

	for cmd in "${NOOK_TEARDOWN_CMDS[@]}"; do
		eval "$cmd" || true
	done

	# Background jobs of the test (a foreground `run` put in the background, a receiver).
	for pid in $(jobs -p); do
		kill -9 "$pid" 2>/dev/null
	done
	wait 2>/dev/null || true

	# Every container the runtime knows, and every state dir it made.
	ids=$({
		NOOK_TEST_TIMEOUT=10 runtime list -q 2>/dev/null
		[ -d "$ROOT" ] && ls -A "$ROOT"
	} | sort -u)
	for id in $ids; do
		NOOK_TEST_TIMEOUT=15 runtime delete --force "$id" >/dev/null 2>&1 || true
	done

	# Whatever is still there was left behind by the runtime (or the test).
	while read -r pid comm why; do
		[ -n "$pid" ] || continue
		nook_record_leftover "process $pid ($comm) found by $why"
		kill -9 "$pid" 2>/dev/null
	done < <(nook_find_processes "$TEST_DIR" "$(container_env_marker)")
	while read -r m; do
		[ -n "$m" ] || continue
		nook_record_leftover "mount on $m"
		umount -l "$m" 2>/dev/null
	done < <(nook_find_mounts "$SUITE_TAG/$TEST_TAG")
	rm -rf "$ROOT/.seccomp-cache" # nook's cache of compiled filters, not a container's state
	if [ -d "$ROOT" ] && [ -n "$(ls -A "$ROOT")" ]; then
		nook_record_leftover "state left in --root: $(ls -A "$ROOT" | head -c 200 | tr '\n' ' ')"
	fi
	while read -r base; do
		[ -d "$base/$CG_PARENT" ] || continue
		for d in "$base/$CG_PARENT/$TEST_TAG"-*; do
			[ -d "$d" ] || continue
			nook_record_leftover "cgroup $d"
			nook_kill_cgroup "$d" || true
		done
		# The parent is made by the runtime as an intermediate dir; runc never removes it.
		rmdir "$base/$CG_PARENT" 2>/dev/null || true
	done < <(nook_cgroup_bases)

	rm -rf --one-file-system "$TEST_DIR"
	if [ -n "${NOOK_BATS_STANDALONE:-}" ] && [ "${#NOOK_LEFTOVERS[@]}" -gt 0 ]; then
		printf 'left behind: %s\n' "${NOOK_LEFTOVERS[@]}" >&2
		return 1
	fi
	return 0
}

setup() {
	nook_setup
}

teardown() {
	nook_teardown
}
