#!/usr/bin/env bats
# `nook run`: containers from images, on overlay root filesystems.

load helpers

load run-helpers

setup() {
	nook_run_setup
}

@test "run --rm busybox: the embedded image is imported on first use" {
	run --separate-stderr nrun --rm busybox echo hello from nook
	assert_status 0
	assert_output "hello from nook"
	[ -z "$(ls -A "$STORAGE/containers")" ]
	state_root_is_empty
	# The second run finds it in the store.
	run nrun --rm busybox sh -c 'echo again'
	assert_status 0
	assert_output again
}

@test "run returns the container's exit code, 127 and 126 as podman" {
	run nrun --rm busybox sh -c 'exit 7'
	assert_status 7
	run -127 --separate-stderr nrun --rm busybox no-such-command
	assert_status 127
	assert_one_line_error "no-such-command" "not found"
	run -126 --separate-stderr nrun --rm busybox /etc/passwd
	assert_status 126
	assert_one_line_error "/etc/passwd"
	[ -z "$(ls -A "$STORAGE/containers")" ]
}

@test "the image's config: Cmd, Env, WorkingDir; flags override them" {
	run nrun --rm busybox
	assert_status 0 # Cmd is sh, stdin /dev/null: exits at once
	run nrun --rm -e FOO=bar -e PATH=/bin -w /tmp busybox sh -c 'echo $FOO $PATH $(pwd) $HOSTNAME'
	assert_status 0
	[[ "$output" =~ ^bar\ /bin\ /tmp\ [0-9a-f]{12}$ ]]
	run nrun --rm --hostname box --entrypoint /bin/echo busybox one two
	assert_status 0
	assert_output "one two"
	run nrun --rm --hostname box busybox hostname
	assert_output box
	printf 'A=1\n# comment\nB=two words\n' >"$TEST_DIR/env"
	run nrun --rm --env-file "$TEST_DIR/env" busybox sh -c 'echo "$A/$B"'
	assert_output "1/two words"
}

@test "-u resolves names in the image's /etc/passwd" {
	run nrun --rm -u nobody busybox id
	assert_status 0
	assert_output "uid=65534(nobody) gid=65534(nobody)"
	run nrun --rm -u 1234:5 busybox id -u
	assert_output 1234
	run --separate-stderr nrun --rm -u ghost busybox true
	assert_status 125
	assert_one_line_error "user \`ghost\` not found in the image's /etc/passwd"
	[ -z "$(ls -A "$STORAGE/containers")" ]
}

@test "a container's writes go to its upper layer; the image is untouched and shared" {
	run nrun --name first busybox sh -c 'echo data >/root/file; rm /bin/vi'
	assert_status 0
	# the name is a link to the container's id
	[ -L "$STORAGE/names/first" ]
	dir=$STORAGE/containers/$(readlink "$STORAGE/names/first")
	jq -e '.name == "first"' "$dir/run.json"
	[ "$(cat "$dir/upper/root/file")" = data ]
	# rm of an image file is a whiteout in the upper layer, the layer keeps it
	[ -c "$dir/upper/bin/vi" ]
	layer=$(ls "$STORAGE/layers")
	[ -L "$STORAGE/layers/$layer/diff/bin/vi" ]
	# a second container sees the image as it was, and costs no copy of the layer
	run nrun --rm busybox sh -c 'test -e /bin/vi && test ! -e /root/file && echo pristine'
	assert_output pristine
	[ "$(ls "$STORAGE/layers")" = "$layer" ]
	run nook_cli rm first
	assert_status 0
	[ ! -e "$dir" ]
}

@test "names are unique; rm of an unknown container fails with one line" {
	run nrun --name web busybox true
	assert_status 0
	run --separate-stderr nrun --name web busybox true
	assert_status 125
	assert_one_line_error "the name \`web\` is in use"
	run --separate-stderr nook_cli rm nope
	assert_status 125
	assert_one_line_error "no container \`nope\`"
	run nook_cli rm web
	assert_status 0
	run --separate-stderr nrun --name 'bad/name' busybox true
	assert_status 125
	assert_one_line_error "--name"
}

@test "--read-only: the root is read-only, /tmp and /run are tmpfs" {
	run nrun --rm --read-only busybox sh -c 'touch /x 2>/dev/null || echo ro; touch /tmp/y && echo tmp'
	assert_status 0
	assert_output "ro
tmp"
}

@test "bad input: unknown image, missing image, bad flags" {
	run --separate-stderr nrun --rm no-such-image true
	assert_status 125
	assert_one_line_error "image \`no-such-image\` not found"
	run --separate-stderr nook_cli run
	assert_status 125
	assert_one_line_error "missing IMAGE"
	run --separate-stderr nook_cli run --bogus busybox
	assert_status 125
	assert_one_line_error "unknown option \`--bogus\`"
	run --separate-stderr nrun --rm -w relative busybox true
	assert_status 125
	assert_one_line_error "--workdir"
	run --separate-stderr nrun --rm --net bridge0 busybox true
	assert_status 125
	[ ! -d "$STORAGE/containers" ] || [ -z "$(ls -A "$STORAGE/containers")" ]
}

@test "an imported image of three layers: whiteouts and opaque dirs hide lower files" {
	local rootfs l
	rootfs=$(nook_rootfs_cache)
	l=$TEST_DIR/layers
	mkdir -p "$l/1/d" "$l/1/e" "$l/2/d" "$l/2/e"
	echo f >"$l/1/d/f" && echo g >"$l/1/d/g" && echo old >"$l/1/e/old"
	: >"$l/2/d/.wh.f" && : >"$l/2/e/.wh..wh..opq" && echo new >"$l/2/e/new"
	"$NOOK_SRCDIR/tests/helpers/make-oci-layout.py" "$TEST_DIR/layout" --ref example.org/wh:1 --gzip \
		--cmd ls "$rootfs" "$l/1" "$l/2" >/dev/null
	run nook_cli image import "$TEST_DIR/layout"
	assert_status 0
	run nrun --rm example.org/wh:1 ls /d /e
	assert_status 0
	assert_output "/d:
g

/e:
new"
	# Two containers of the image share its three layers: no copy, one mount each (the upper
	# layers hold only the mount points of /etc/hosts and /etc/hostname, which the image lacks).
	run nrun --name a example.org/wh:1 true
	run nrun --name b example.org/wh:1 true
	[ "$(ls "$STORAGE/layers" | wc -l)" -eq 3 ]
	[ -z "$(find "$STORAGE"/containers/*/upper -mindepth 1 ! -path '*/upper/etc' \
		! -path '*/upper/etc/hosts' ! -path '*/upper/etc/hostname')" ]
	run nook_cli image rm example.org/wh:1
	assert_status 125 # in use by a and b
	run nook_cli rm a b
	assert_status 0
	run nook_cli image rm example.org/wh:1
	assert_status 0
}

@test "the image's Volumes get a copy of the image's content; User, WorkingDir and Labels apply" {
	local rootfs l
	rootfs=$(nook_rootfs_cache)
	l=$TEST_DIR/layers
	mkdir -p "$l/1/data/sub" "$l/1/srv"
	echo seed >"$l/1/data/sub/file"
	ln -s /etc/passwd "$l/1/data/link"
	"$NOOK_SRCDIR/tests/helpers/make-oci-layout.py" "$TEST_DIR/layout" --ref example.org/vol:1 \
		--volume /data --volume /empty --user nobody --workdir /srv --label org.example.k=v \
		"$rootfs" "$l/1" >/dev/null
	run nook_cli image import "$TEST_DIR/layout"
	assert_status 0
	run nrun --rm example.org/vol:1 sh -c 'id -u; pwd'
	assert_status 0
	assert_output "65534
/srv"
	run nrun --name v -u 0 example.org/vol:1 sh -c 'cat /data/sub/file; readlink /data/link;
		echo more >/data/new; test -d /empty && echo empty; grep -c " /data " /proc/self/mountinfo'
	assert_status 0
	assert_output "seed
/etc/passwd
empty
1"
	dir=$STORAGE/containers/$(readlink "$STORAGE/names/v")
	# the write went to the volume, not the container's upper layer or the image's layer
	[ "$(cat "$dir/volumes/0/new")" = more ]
	[ ! -e "$dir/upper/data/new" ]
	jq -e '.annotations["org.example.k"] == "v"' "$dir/config.json"
	run nook_cli rm v
	assert_status 0
	[ ! -e "$dir" ]
}

@test "run -d prints the id and returns; the container runs under its supervisor" {
	run --separate-stderr nrun -d --name bg busybox sh -c 'echo started; sleep 60'
	assert_status 0
	id=$output
	[[ $id =~ ^[0-9a-f]{64}$ ]]
	dir=$STORAGE/containers/$id
	[ -S "$dir/attach" ]
	grep -q '"state": *"running"' "$dir/status.json"
	spid=$(sed -n 's/.*"supervisorPid": *\([0-9]*\).*/\1/p' "$dir/status.json")
	kill -0 "$spid"
	# the supervisor is the init's parent, in a session of its own (not its leader: it can
	# never get a controlling terminal), away from this shell's
	pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$dir/status.json")
	[ "$(awk '{print $4}' "/proc/$pid/stat")" = "$spid" ]
	[ "$(ps -o sid= -p "$spid" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ]
	[ "$(ps -o sid= -p "$spid" | tr -d ' ')" != "$spid" ]
	# an OCI container in the same state root, by id and by name
	run "$NOOK_BUILDDIR/nook" oci --root "$ROOT" state "$id"
	assert_status 0
	[[ $output == *'"status": "running"'* ]]
	run "$NOOK_BUILDDIR/nook" oci --root "$ROOT" state bg
	assert_status 0
	[[ $output == *"\"id\": \"$id\""* ]]
	grep -q 'stdout F started' "$dir/ctr.log"
	run nook_cli rm -f bg
	assert_status 0
	! kill -0 "$spid" 2>/dev/null
	[ ! -e "$dir" ]
	state_root_is_empty
}

@test "run -i relays stdin; -t gives the container a terminal" {
	out=$(printf 'one\ntwo\n' | nrun --rm -i busybox cat)
	[ "$out" = $'one\ntwo' ]
	# without -i the container's stdin is /dev/null
	out=$(echo lost | nrun --rm busybox cat)
	[ -z "$out" ]
	run --separate-stderr nrun --rm -t busybox sh -c 'tty; exit 3'
	assert_status 3
	[[ $output == /dev/pts/* ]]
}

@test "stdout and stderr are told apart, in the terminal and in the log" {
	run --separate-stderr nrun --name both busybox sh -c 'echo out; echo err >&2'
	assert_status 0
	assert_output out
	[ "$stderr" = err ]
	id=$(readlink "$STORAGE/names/both")
	grep -Eq '^[0-9-]+T[0-9:.]+Z stdout F out$' "$STORAGE/containers/$id/ctr.log"
	grep -Eq '^[0-9-]+T[0-9:.]+Z stderr F err$' "$STORAGE/containers/$id/ctr.log"
	grep -q '"exitCode": *0' "$STORAGE/containers/$id/status.json"
}

@test "two runs racing for one name: exactly one gets it" {
	for i in 1 2 3 4 5 6; do
		nrun -d --name racer busybox sleep 30 >"$TEST_DIR/race.$i" 2>&1 &
	done
	wait
	[ "$(grep -lE '^[0-9a-f]{64}$' "$TEST_DIR"/race.* | wc -l)" -eq 1 ]
	[ "$(grep -l 'the name `racer` is in use' "$TEST_DIR"/race.* | wc -l)" -eq 5 ]
	[ "$(ls "$STORAGE/containers" | wc -l)" -eq 1 ]
	run nook_cli rm -f racer
	assert_status 0
}

@test "a run that fails to start stays without --rm, as podman's; rm removes it" {
	run --separate-stderr nrun --name broken busybox no-such-command
	assert_status 127
	[ -L "$STORAGE/names/broken" ]
	run --separate-stderr nrun --name broken busybox true
	assert_status 125
	run nook_cli rm broken
	assert_status 0
	[ -z "$(ls -A "$STORAGE/containers")" ]
}

@test "bad supervisor flags: --restart, --log-max-size, --rm with --restart" {
	run --separate-stderr nrun --restart sometimes busybox true
	assert_status 125
	assert_one_line_error "--restart \`sometimes\`"
	run --separate-stderr nrun --log-max-size 12q busybox true
	assert_status 125
	assert_one_line_error "--log-max-size \`12q\`"
	run --separate-stderr nrun --detach-keys ctrl-1 busybox true
	assert_status 125
	assert_one_line_error "--detach-keys \`ctrl-1\`"
	run --separate-stderr nrun --rm --restart always busybox true
	assert_status 125
	assert_one_line_error "--rm and --restart"
	[ -z "$(ls -A "$STORAGE/containers" 2>/dev/null)" ]
}
