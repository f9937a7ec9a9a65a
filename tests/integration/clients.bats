#!/usr/bin/env bats
# Real clients drive the runtime: podman 4 (through conmon) and containerd 1.6 (through its
# io.containerd.runc.v2 shim), each given the runtime under test as its runc binary.
#
# Both need the runtime as one executable path, so they skip when $OCI_RUNTIME holds words
# ("nook oci").  Nothing of the machine's own podman or containerd is used or written:
#
# podman: one podman per test.  containers.conf and storage.conf under $TEST_DIR (through
#   CONTAINERS_CONF and CONTAINERS_STORAGE_CONF, also handed to conmon for the `podman container
#   cleanup` it runs when a container exits) set the storage (overlay), run root, tmp dir, file
#   locks, the events log, the network config dir, cgroupfs, no network, and the ulimits this
#   host needs (the bounding set lacks CAP_SYS_RESOURCE and the hard nofile limit is 20000,
#   below podman's default of 1048576).  The runtime is a two-line wrapper that adds
#   `--root $ROOT`: podman 4.3 does not pass `--runtime-flag` on to that cleanup, which would
#   then delete the container from the default root (/run/nook, /run/runc) and leave its state
#   in ours.  (`readlink -f nook-runc` is no way to name nook: it gives `nook`, which is not
#   `nook oci`.)
#   cgroups: with cgroupfs on this v1/hybrid host podman puts a container in
#   `<cgroup parent>/libpod-<id>` (default parent /libpod_parent, at the root of every hierarchy;
#   the runtime adds name=systemd and the cgroup2 mount) and its conmon in
#   `<cgroup parent>/conmon` in every v1 controller, which podman never removes.  The tests pass
#   --cgroup-parent /<suite tag>/<test tag>-podman, so the suite's cgroup checks see both; the
#   teardown removes the conmon cgroup and the parent.
#   Outside the test dir podman still creates /run/containers/networks (netavark's run dir,
#   fixed for root), and c/image writes its blob-info cache to /var/lib/containers/cache on an
#   import: `podman import` runs in a private mount namespace with a tmpfs on /var/lib.
#
# containerd: one daemon for the file, started in setup_file with its own config, socket,
#   root and state under the suite prefix (the CRI plugin, /opt/containerd and the snapshotters
#   this host cannot use are disabled), the busybox image imported once from a docker-archive
#   built here with tar and jq.  Each container: `ctr run --runc-binary RUNTIME --runc-root DIR
#   --fifo-dir DIR --cgroup PATH`.  containerd 1.6 puts its shims' sockets in /run/containerd/s/
#   whatever its --state (named by a hash of our socket path, removed when the shim exits).
#
# teardown_file removes /run/containers/networks and /run/containerd/s when it made them and they
# are empty.  Checked by hand, not by the suite (another podman on the machine may write them at
# any time): no /dev/shm/libpod_lock, /var/lib/containers, /run/libpod, /var/lib/containerd,
# /run/containerd/fifo or /opt/containerd appears.

load helpers

CLIENT_IMAGE=localhost/nook-busybox:latest
CTR_NS=nook-bats

# client_runtime_path: print the runtime under test as one absolute path (a symlink such as
# nook-runc is kept: nook behaves as `nook oci` by its name); fail when $OCI_RUNTIME has words.
client_runtime_path() {
	local p=${RUNTIME_CMD[0]}
	[ "${#RUNTIME_CMD[@]}" -eq 1 ] || return 1
	if [[ "$p" != */* ]]; then
		p=$(command -v "$p") || return 1
	fi
	[ -x "$p" ] || return 1
	printf '%s/%s\n' "$(cd "$(dirname "$p")" && pwd)" "$(basename "$p")"
}

# runtime_root_is_empty [DIR]: nothing in the runtime's root DIR (default $ROOT) but nook's
# seccomp cache (podman's configs carry a seccomp profile).
runtime_root_is_empty() {
	local dir=${1:-$ROOT}
	[ ! -d "$dir" ] || [ -z "$(ls -A "$dir")" ] || [ "$(ls -A "$dir")" = .seccomp-cache ]
}

# ---------------------------------------------------------------------------------------------
# setup_file: images made once; containerd started once
# ---------------------------------------------------------------------------------------------

# clients_build_images: $CLIENTS_DIR/busybox.tar (a rootfs tarball for `podman import`) and
# busybox-docker.tar (a docker-archive for `ctr images import`: manifest.json, the image config
# and one layer, as `docker save` writes them).
clients_build_images() {
	local rootfs da diff config arch
	rootfs=$(nook_rootfs_cache) || return 1
	tar -C "$rootfs" -cf "$CLIENTS_DIR/busybox.tar" . || return 1
	da=$CLIENTS_DIR/docker-archive
	diff=$(sha256sum "$CLIENTS_DIR/busybox.tar" | cut -d' ' -f1)
	mkdir -p "$da/$diff"
	cp "$CLIENTS_DIR/busybox.tar" "$da/$diff/layer.tar"
	case $(uname -m) in
	x86_64) arch=amd64 ;;
	aarch64) arch=arm64 ;;
	*) arch=$(dpkg --print-architecture) ;;
	esac
	jq -cn --arg d "sha256:$diff" --arg arch "$arch" '{
		architecture: $arch, os: "linux",
		config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
			Cmd: ["sh"] },
		rootfs: { type: "layers", diff_ids: [$d] } }' >"$da/config.json" || return 1
	config=$(sha256sum "$da/config.json" | cut -d' ' -f1)
	mv "$da/config.json" "$da/$config.json"
	jq -cn --arg c "$config.json" --arg l "$diff/layer.tar" --arg t "$CLIENT_IMAGE" \
		'[{ Config: $c, RepoTags: [$t], Layers: [$l] }]' >"$da/manifest.json" || return 1
	tar -C "$da" -cf "$CLIENTS_DIR/busybox-docker.tar" manifest.json "$config.json" "$diff"
}

# ctrd_start: start containerd for this file; on success set CTRD_SOCK and CTRD_PID.
ctrd_start() {
	local d=$CLIENTS_DIR/containerd i
	mkdir -p "$d"
	cat >"$d/config.toml" <<-EOF
		version = 2
		root = "$d/root"
		state = "$d/state"
		disabled_plugins = [
		  "io.containerd.grpc.v1.cri",
		  "io.containerd.internal.v1.opt",
		  "io.containerd.internal.v1.tracing",
		  "io.containerd.tracing.processor.v1.otlp",
		  "io.containerd.snapshotter.v1.aufs",
		  "io.containerd.snapshotter.v1.btrfs",
		  "io.containerd.snapshotter.v1.devmapper",
		  "io.containerd.snapshotter.v1.zfs",
		]
		[grpc]
		  address = "$d/containerd.sock"
		[ttrpc]
		  address = "$d/containerd.sock.ttrpc"
		[debug]
		  address = ""
		[metrics]
		  address = ""
	EOF
	containerd --config "$d/config.toml" </dev/null >"$d/containerd.log" 2>&1 3>&- &
	CTRD_PID=$!
	CTRD_SOCK=$d/containerd.sock
	for ((i = 0; i < 200; i++)); do
		if [ -S "$CTRD_SOCK" ] && ctr --address "$CTRD_SOCK" version >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$CTRD_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "containerd did not start; its log:" >&2
	tail -n 20 "$d/containerd.log" >&2
	return 1
}

setup_file() {
	bats_require_minimum_version 1.5.0
	[ "$(id -u)" = 0 ] || return 0
	if [ -z "${NOOK_BATS_SUITE:-}" ]; then
		export NOOK_BATS_SUITE=$BATS_RUN_TMPDIR/nook-suite NOOK_BATS_STANDALONE=1
		mkdir -p "$NOOK_BATS_SUITE"
	fi
	CLIENTS_DIR=$(mktemp -d "$NOOK_BATS_SUITE/clients.XXXXXX")
	chmod 0755 "$CLIENTS_DIR"
	export CLIENTS_DIR CTRD_SOCK= CTRD_PID= CTRD_SKIP= CLIENTS_MADE_DIRS=
	# Host dirs the clients create that no option moves (see the top of this file).
	local dir
	for dir in /run/containers /run/containers/networks /run/containerd /run/containerd/s; do
		[ -e "$dir" ] || CLIENTS_MADE_DIRS="$dir $CLIENTS_MADE_DIRS"
	done

	clients_build_images

	if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
		CTRD_SKIP="containerd not installed"
	elif ! command -v containerd-shim-runc-v2 >/dev/null; then
		CTRD_SKIP="containerd-shim-runc-v2 not installed"
	elif ! client_runtime_path >/dev/null; then
		CTRD_SKIP="ctr needs the runtime as one executable; OCI_RUNTIME is \`$OCI_RUNTIME'"
	else
		ctrd_start || return 1
		ctr --address "$CTRD_SOCK" --namespace "$CTR_NS" images import \
			"$CLIENTS_DIR/busybox-docker.tar" >"$CLIENTS_DIR/import.log" 2>&1 3>&- || {
			cat "$CLIENTS_DIR/import.log" >&2
			return 1
		}
	fi
}

# clients_leftover WHAT: record something left behind outside any test (teardown_file).
clients_leftover() {
	printf '%s: teardown_file: %s\n' "${BATS_TEST_FILENAME##*/}" "$1" >>"$NOOK_BATS_SUITE/leftovers"
}

teardown_file() {
	local i pid m dir
	[ -n "${CLIENTS_DIR:-}" ] || return 0
	if [ -n "${CTRD_PID:-}" ]; then
		kill -TERM "$CTRD_PID" 2>/dev/null
		for ((i = 0; i < 200; i++)); do
			kill -0 "$CTRD_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$CTRD_PID" 2>/dev/null && clients_leftover "containerd did not stop on SIGTERM"
		kill -9 "$CTRD_PID" 2>/dev/null
		wait "$CTRD_PID" 2>/dev/null
		# The shims outlive containerd; every one of ours was deleted with its task.
		for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CTRD_SOCK"); do
			clients_leftover "process $pid (containerd-shim-runc-v2)"
			kill -9 "$pid" 2>/dev/null
		done
	fi
	while read -r m; do
		[ -n "$m" ] || continue
		clients_leftover "mount on $m"
		umount -l "$m" 2>/dev/null
	done < <(nook_find_mounts "$CLIENTS_DIR")
	rm -rf --one-file-system "$CLIENTS_DIR"
	# Empty directories only: anything in them belongs to someone else by now.
	for dir in $CLIENTS_MADE_DIRS; do
		rmdir "$dir" 2>/dev/null || true
	done
	return 0
}

# ---------------------------------------------------------------------------------------------
# podman
# ---------------------------------------------------------------------------------------------

# podman_setup: a podman of this test's own (see the top of the file) with the busybox image;
# `pm ARGS` runs it.
podman_setup() {
	local rt
	command -v podman >/dev/null || skip "podman not installed"
	command -v conmon >/dev/null || skip "conmon not installed"
	rt=$(client_runtime_path) ||
		skip "podman needs the runtime as one executable; OCI_RUNTIME is \`$OCI_RUNTIME'"
	PM=$TEST_DIR/podman
	mkdir -p "$PM/bin" "$PM/hooks.d"
	# Named as the runtime: podman takes the runtime's name from the file name.
	PM_RUNTIME=$PM/bin/$(basename "$rt")
	printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$rt" "$ROOT" >"$PM_RUNTIME"
	chmod 0755 "$PM_RUNTIME"
	cat >"$PM/containers.conf" <<-EOF
		[containers]
		netns = "none"
		default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
		log_driver = "k8s-file"

		[engine]
		# conmon runs \`podman container cleanup\` when a container exits: with these it reads
		# this configuration, not the machine's (whose shm locks would not exclude our file
		# locks).
		conmon_env_vars = ["PATH=$PATH", "CONTAINERS_CONF=$PM/containers.conf",
		  "CONTAINERS_STORAGE_CONF=$PM/storage.conf"]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$PM/events.log"
		tmp_dir = "$PM/tmp"
		static_dir = "$PM/storage/libpod"
		volume_path = "$PM/storage/volumes"
		lock_type = "file"
		hooks_dir = ["$PM/hooks.d"]
		# Errors come back through runc's JSON log (--log-format json), as with runc and crun.
		runtime_supports_json = ["crun", "runc", "nook-runc"]

		[network]
		network_config_dir = "$PM/networks"
	EOF
	cat >"$PM/storage.conf" <<-EOF
		[storage]
		driver = "overlay"
		runroot = "$PM/runroot"
		graphroot = "$PM/storage"
	EOF
	export CONTAINERS_CONF=$PM/containers.conf CONTAINERS_STORAGE_CONF=$PM/storage.conf
	PM_CGROUP_PARENT=/$CG_PARENT/$TEST_TAG-podman
	on_teardown podman_teardown
	# c/image writes /var/lib/containers/cache on an import, whatever the storage root.
	unshare -m sh -c 'mount -t tmpfs -o size=1m nook-bats /var/lib && exec "$@"' sh \
		timeout -k 5 "$NOOK_TEST_TIMEOUT" podman --runtime "$PM_RUNTIME" import "$CLIENTS_DIR/busybox.tar" \
		"$CLIENT_IMAGE" </dev/null >"$PM/import.log" 2>&1 3>&- || {
		cat "$PM/import.log" >&2
		return 1
	}
}

# pm ARGS...: this test's podman, bounded by $NOOK_TEST_TIMEOUT, bats' fd 3 closed.
pm() {
	timeout -k 5 "$NOOK_TEST_TIMEOUT" podman --runtime "$PM_RUNTIME" "$@" 3>&-
}

# pm_run ARGS...: `podman run` with the test's cgroup parent; stdout and stderr through files
# (conmon must not hold a pipe of bats open).
pm_run() {
	local rc=0 buf=$TEST_DIR/pm-run
	pm run --cgroup-parent "$PM_CGROUP_PARENT" --cgroupns host "$@" >"$buf.out" 2>"$buf.err" || rc=$?
	cat "$buf.out"
	cat "$buf.err" >&2
	return "$rc"
}

# podman_teardown: remove what the test's podman left (recorded as leftovers), then podman's
# cgroups: the conmon cgroup and the parent, in every hierarchy.
podman_teardown() {
	local id base d i
	# conmon, and the `podman container cleanup` it starts, finish shortly after a container.
	for ((i = 0; i < 100; i++)); do
		pgrep -f -- "$PM/" >/dev/null || break
		sleep 0.1
	done
	for id in $(pm ps -aq 2>/dev/null); do
		nook_record_leftover "podman container $id"
		pm rm -f -t 0 "$id" >/dev/null 2>&1
	done
	while read -r base; do
		d=$base$PM_CGROUP_PARENT
		[ -d "$d" ] || continue
		if [ -d "$d/conmon" ]; then
			[ -z "$(cat "$d/conmon/cgroup.procs" 2>/dev/null)" ] ||
				nook_record_leftover "process in $d/conmon: $(tr '\n' ' ' <"$d/conmon/cgroup.procs")"
			nook_kill_cgroup "$d/conmon" || true
		fi
		for id in "$d"/libpod-*; do
			[ -d "$id" ] || continue
			nook_record_leftover "cgroup $id"
			nook_kill_cgroup "$id" || true
		done
		rmdir "$d" 2>/dev/null || true
	done < <(nook_cgroup_bases)
	rm -rf "$ROOT/.seccomp-cache"
}

@test "podman: run --rm prints the output, and nothing is left running" {
	podman_setup
	run pm_run --rm "$CLIENT_IMAGE" echo hi
	assert_status 0
	assert_output hi
	run pm ps -aq
	assert_status 0
	assert_output ""
	runtime_root_is_empty
	[ -z "$(nook_find_mounts "$PM/storage/overlay/")" ]
}

@test "podman: the container's exit code is podman run's" {
	podman_setup
	run pm_run --rm "$CLIENT_IMAGE" sh -c 'echo out; echo err >&2; exit 3'
	assert_status 3
	assert_output_contains out
	assert_output_contains err
	# The runtime's error comes back to podman through its JSON log; podman makes it 127.
	run -127 pm_run --rm "$CLIENT_IMAGE" /no/such/program
	assert_output_contains /no/such/program
}

@test "podman: stdin with -i, a pty with -t (console socket), the cgroup parent" {
	podman_setup
	run pm_run --rm -i "$CLIENT_IMAGE" cat <<<"piped-in"
	assert_status 0
	assert_output piped-in
	run pm_run --rm -t "$CLIENT_IMAGE" sh -c 'tty >/dev/null && echo tty-ok' </dev/null
	assert_status 0
	assert_output $'tty-ok\r'
	run pm_run --rm "$CLIENT_IMAGE" sh -c 'grep -E "^[0-9]+:(memory|pids):" /proc/self/cgroup'
	assert_status 0
	assert_output_contains ":$PM_CGROUP_PARENT/libpod-"
}

@test "podman: run -d, exec into it" {
	local rt
	if rt=$(client_runtime_path) && ! "$rt" exec --help >/dev/null 2>&1; then
		skip "the runtime has no exec yet ($rt exec --help fails)"
	fi
	podman_setup
	run pm_run -d --name ex1 "$CLIENT_IMAGE" sleep 1000
	assert_status 0
	run pm exec ex1 sh -c 'echo from-exec; exit 4'
	assert_status 4
	assert_output from-exec
	run pm exec ex1 cat /proc/1/cmdline
	assert_status 0
	assert_output_contains sleep
	run pm rm -f -t 0 ex1
	assert_status 0
}

@test "podman: stop sends SIGTERM, ps -a shows Exited, rm removes it" {
	podman_setup
	run pm_run -d --name st1 "$CLIENT_IMAGE" sh -c 'trap "exit 7" TERM; echo up; sleep 1000 & wait'
	assert_status 0
	run pm ps --format '{{.Names}} {{.Status}}'
	assert_status 0
	assert_output_contains "st1 Up"
	run pm stop -t 20 st1
	assert_status 0
	run pm ps -a --format '{{.Names}} {{.Status}}'
	assert_status 0
	assert_output_contains "st1 Exited (7)"
	run pm logs st1
	assert_output up
	run pm rm st1
	assert_status 0
	run pm ps -aq
	assert_output ""
	runtime_root_is_empty
	[ -z "$(nook_find_mounts "$PM/storage/overlay/")" ]
}

@test "podman: a container that exits by itself, then rm" {
	podman_setup
	run pm_run -d --name ex5 "$CLIENT_IMAGE" sh -c 'exit 5'
	assert_status 0
	run pm wait ex5
	assert_status 0
	assert_output 5
	run pm ps -a --format '{{.Names}} {{.Status}}'
	assert_output_contains "ex5 Exited (5)"
	run pm rm ex5
	assert_status 0
	runtime_root_is_empty
}

# ---------------------------------------------------------------------------------------------
# containerd
# ---------------------------------------------------------------------------------------------

# No stdin test: ctr 1.6's `run` never closes the task's stdin at EOF (with runc as well), so
# `cat` would wait forever.

# ctr_setup: skip unless the file's containerd is up; `cr ARGS` is ctr on it.
ctr_setup() {
	[ -z "$CTRD_SKIP" ] || skip "$CTRD_SKIP"
	[ -n "$CTRD_SOCK" ] || skip "containerd did not start"
	CTR_RUNTIME=$(client_runtime_path)
	CTR_ROOT=$TEST_DIR/ctr-root
	on_teardown ctr_teardown
}

# cr ARGS...: ctr on the file's containerd, in its namespace.
cr() {
	timeout -k 5 "$NOOK_TEST_TIMEOUT" ctr --address "$CTRD_SOCK" --namespace "$CTR_NS" "$@" 3>&-
}

# cr_run [CTR RUN OPTIONS] NAME CMD...: `ctr run` of the image as container $TEST_TAG-NAME with
# the runtime under test, its root in $CTR_ROOT, its cgroup below the suite's; stdio through
# files as in pm_run.
cr_run() {
	local opts=() rc=0 buf=$TEST_DIR/cr-run name
	while [[ "$1" == -* ]]; do
		opts+=("$1")
		shift
	done
	name=$1
	shift
	cr run "${opts[@]}" --runc-binary "$CTR_RUNTIME" --runc-root "$CTR_ROOT" --fifo-dir "$TEST_DIR/fifo" \
		--cgroup "/$CG_PARENT/$TEST_TAG-$name" "$CLIENT_IMAGE" "$TEST_TAG-$name" "$@" \
		>"$buf.out" 2>"$buf.err" || rc=$?
	cat "$buf.out"
	cat "$buf.err" >&2
	return "$rc"
}

# ctr_task_status ID: print the task's status (RUNNING, STOPPED, ...), empty when none.
ctr_task_status() {
	cr tasks ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'
}

# ctr_teardown: delete what is left of this test's containers (recorded as leftovers) and check
# that their shims exited and their rootfs mounts and runtime state are gone.
ctr_teardown() {
	local id pid m i
	for id in $(cr containers ls -q 2>/dev/null | grep -F "$TEST_TAG-"); do
		nook_record_leftover "containerd container $id"
		cr tasks kill -s SIGKILL "$id" >/dev/null 2>&1
		cr tasks rm -f "$id" >/dev/null 2>&1
		cr containers rm "$id" >/dev/null 2>&1
	done
	for id in $(cr snapshots ls 2>/dev/null | awk 'NR > 1 { print $1 }' | grep -F "$TEST_TAG-"); do
		nook_record_leftover "containerd snapshot $id"
		cr snapshots rm "$id" >/dev/null 2>&1
	done
	# A shim exits a moment after its task is deleted.
	for ((i = 0; i < 100; i++)); do
		pgrep -f "containerd-shim-runc-v2 .*-id $TEST_TAG-" >/dev/null || break
		sleep 0.05
	done
	for pid in $(pgrep -f "containerd-shim-runc-v2 .*-id $TEST_TAG-"); do
		nook_record_leftover "process $pid (containerd-shim-runc-v2 $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -o -- "-id [^ ]*"))"
		kill -9 "$pid" 2>/dev/null
	done
	while read -r m; do
		[ -n "$m" ] || continue
		nook_record_leftover "mount on $m"
		umount -l "$m" 2>/dev/null
	done < <(nook_find_mounts "/$CTR_NS/$TEST_TAG-")
	rm -rf "$CTR_ROOT/$CTR_NS/.seccomp-cache"
	if [ -d "$CTR_ROOT/$CTR_NS" ] && [ -n "$(ls -A "$CTR_ROOT/$CTR_NS")" ]; then
		nook_record_leftover "state left in --runc-root: $(ls -A "$CTR_ROOT/$CTR_NS" | tr '\n' ' ')"
		for id in $(ls -A "$CTR_ROOT/$CTR_NS"); do
			"$CTR_RUNTIME" --root "$CTR_ROOT/$CTR_NS" delete --force "$id" >/dev/null 2>&1
		done
	fi
}

@test "containerd: ctr run --rm prints the output, and no task, shim or mount is left" {
	ctr_setup
	run cr_run --rm hello echo hi
	assert_status 0
	assert_output hi
	run cr containers ls -q
	assert_status 0
	[[ "$output" != *"$TEST_TAG-hello"* ]]
	runtime_root_is_empty "$CTR_ROOT/$CTR_NS"
}

@test "containerd: the container's exit code is ctr run's, stdout and stderr come back" {
	ctr_setup
	run cr_run --rm code sh -c 'echo out; echo err >&2; exit 3'
	assert_status 3
	assert_output_contains out
	assert_output_contains err
}

@test "containerd: run -d, tasks ps, kill (SIGTERM), tasks rm, containers rm" {
	ctr_setup
	local id=$TEST_TAG-bg i
	run cr_run -d bg sh -c 'trap "exit 7" TERM; sleep 1000 & wait'
	assert_status 0
	[ "$(ctr_task_status "$id")" = RUNNING ]
	run cr tasks ps "$id"
	assert_status 0
	[ "${#lines[@]}" -ge 2 ]
	run cr tasks kill "$id"
	assert_status 0
	for ((i = 0; i < 100; i++)); do
		[ "$(ctr_task_status "$id")" = STOPPED ] && break
		sleep 0.1
	done
	[ "$(ctr_task_status "$id")" = STOPPED ]
	run cr tasks rm "$id"
	assert_status 0
	assert_output_contains "exit code 7"
	run cr containers rm "$id"
	assert_status 0
	runtime_root_is_empty "$CTR_ROOT/$CTR_NS"
}

@test "containerd: tasks exec into a running task" {
	ctr_setup
	local id=$TEST_TAG-ex
	"$CTR_RUNTIME" exec --help >/dev/null 2>&1 ||
		skip "the runtime has no exec yet ($CTR_RUNTIME exec --help fails)"
	run cr_run -d ex sleep 1000
	assert_status 0
	run cr tasks exec --fifo-dir "$TEST_DIR/fifo" --exec-id e1 "$id" sh -c 'echo from-exec; exit 4'
	assert_status 4
	assert_output from-exec
	run cr tasks kill -s SIGKILL "$id"
	assert_status 0
	run cr tasks rm -f "$id"
	assert_status 0
	run cr containers rm "$id"
	assert_status 0
}
