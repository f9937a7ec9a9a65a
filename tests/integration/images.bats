#!/usr/bin/env bats
# `nook image`: import of every archive kind as real tools make them (an OCI layout built by
# tests/helpers/make-oci-layout.py, skopeo's oci-archive and docker-archive, podman save, a
# plain rootfs tarball), whiteouts in layers, hostile archives, ls/inspect/rm/prune/export,
# and concurrent imports.  Every test has its own store, $TEST_DIR/storage.

load helpers

NOOK=${NOOK_BUILDDIR:-$NOOK_SRCDIR}/nook
MAKE_LAYOUT=$NOOK_SRCDIR/tests/helpers/make-oci-layout.py

setup() {
	nook_setup
	STORAGE=$TEST_DIR/storage
	IMAGES=$(image_cache) || skip "cannot build the test images"
}

teardown() {
	nook_teardown
}

# nook_image ARGS...: `nook --storage $STORAGE image ARGS`, bounded by the test timeout.
nook_image() {
	timeout -k 5 "$NOOK_TEST_TIMEOUT" "$NOOK" --storage "$STORAGE" image "$@" 3>&-
}

# image_cache: build once per suite, from the busybox rootfs: layout/ (an OCI layout named
# docker.io/library/busybox:latest), oci.tar and docker.tar (skopeo), rootfs.tar.gz, and
# wh-layout/ (two layers: the second removes /d/f and makes /e opaque).  Prints the dir.
image_cache() {
	local c=$NOOK_BATS_SUITE/images.cache tmp rootfs
	if [ ! -e "$c/done" ]; then
		command -v skopeo >/dev/null || return 1
		rootfs=$(nook_rootfs_cache) || return 1
		tmp=$(mktemp -d "$NOOK_BATS_SUITE/images.XXXXXX")
		"$MAKE_LAYOUT" "$tmp/layout" --ref docker.io/library/busybox:latest \
			--cmd echo --cmd hello "$rootfs" >/dev/null &&
			skopeo copy -q "oci:$tmp/layout" "oci-archive:$tmp/oci.tar:docker.io/library/busybox:oci" &&
			skopeo copy -q "oci:$tmp/layout" "docker-archive:$tmp/docker.tar:busybox:docker" &&
			tar -C "$rootfs" -czf "$tmp/rootfs.tar.gz" . &&
			mkdir -p "$tmp/l1/d" "$tmp/l1/e" "$tmp/l2/d" "$tmp/l2/e" &&
			echo f >"$tmp/l1/d/f" && echo g >"$tmp/l1/d/g" && echo old >"$tmp/l1/e/old" &&
			: >"$tmp/l2/d/.wh.f" && : >"$tmp/l2/e/.wh..wh..opq" && echo new >"$tmp/l2/e/new" &&
			"$MAKE_LAYOUT" "$tmp/wh-layout" --ref example.org/test/whiteouts:1 --gzip \
				"$tmp/l1" "$tmp/l2" >/dev/null &&
			touch "$tmp/done" || {
			rm -rf "$tmp"
			return 1
		}
		mv -T "$tmp" "$c" 2>/dev/null || rm -rf "$tmp"
	fi
	printf '%s\n' "$c"
}

# layer_dir DIGEST: the unpacked layer of a diff-id.
layer_dir() {
	printf '%s/layers/%s/diff\n' "$STORAGE" "${1#sha256:}"
}

# store_is_consistent: every blob is named by its digest, every name's blobs and layers are
# there, nothing is left in tmp/.
store_is_consistent() {
	local f d
	for f in "$STORAGE"/blobs/sha256/*; do
		[ -e "$f" ] || continue
		d=$(sha256sum "$f" | cut -d' ' -f1)
		[ "$d" = "$(basename "$f")" ] || {
			echo "blob $f has content $d" >&2
			return 1
		}
	done
	[ -z "$(ls -A "$STORAGE/tmp")" ] || {
		echo "tmp/ is not empty: $(ls -A "$STORAGE/tmp")" >&2
		return 1
	}
	for d in $(nook_image ls --format json | jq -r '.[].name'); do
		nook_image inspect "$d" | jq -r '.layers[].diff_id' | while read -r id; do
			[ -d "$(layer_dir "$id")" ] || {
				echo "layer $id of $d is missing" >&2
				return 1
			}
		done || return 1
	done
}

# podman_isolated ARGS...: podman with its storage, run dir and tmp below $TEST_DIR/podman
# (vfs: no mounts), no events, no cgroups touched.
podman_isolated() {
	local d=$TEST_DIR/podman
	if [ ! -e "$d/containers.conf" ]; then
		mkdir -p "$d"
		printf '[engine]\ntmp_dir = "%s/tmp"\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\n' \
			"$d" >"$d/containers.conf"
		printf '[storage]\ndriver = "vfs"\nrunroot = "%s/run"\ngraphroot = "%s/root"\n' \
			"$d" "$d" >"$d/storage.conf"
	fi
	CONTAINERS_CONF=$d/containers.conf CONTAINERS_STORAGE_CONF=$d/storage.conf \
		timeout -k 5 120 podman "$@"
}

@test "import of an OCI layout directory names it by its ref.name and unpacks its layer" {
	run nook_image import "$IMAGES/layout"
	assert_status 0
	assert_output docker.io/library/busybox:latest
	run nook_image inspect busybox
	assert_status 0
	diff_id=$(jq -r '.layers[0].diff_id' <<<"$output")
	[ -x "$(layer_dir "$diff_id")/bin/busybox" ]
	[ -L "$(layer_dir "$diff_id")/bin/sh" ]
	jq -e '.config.config.Cmd == ["echo", "hello"] and .name == "docker.io/library/busybox:latest"
		and (.id | length == 64) and (.digest | startswith("sha256:"))
		and .manifest.schemaVersion == 2 and .size > 0' <<<"$output" >/dev/null
	store_is_consistent
}

@test "import of skopeo's oci-archive and docker-archive (a docker-archive compressed with zstd too)" {
	run nook_image import "$IMAGES/oci.tar"
	assert_status 0
	assert_output docker.io/library/busybox:oci
	run nook_image import "$IMAGES/docker.tar"
	assert_status 0
	assert_output docker.io/library/busybox:docker
	zstd -q -o "$TEST_DIR/docker.tar.zst" "$IMAGES/docker.tar"
	run nook_image import --name zstd:1 "$TEST_DIR/docker.tar.zst"
	assert_status 0
	assert_output docker.io/library/zstd:1
	# The same image each time: one id, and the layer unpacked once.
	run nook_image ls -q
	assert_status 0
	[ "${#lines[@]}" -eq 1 ]
	[ "$(ls "$STORAGE/layers" | wc -l)" -eq 1 ]
	store_is_consistent
}

@test "import of podman save (docker-archive and oci-archive)" {
	command -v podman >/dev/null || skip "podman is not installed"
	podman_isolated load -q -i "$IMAGES/oci.tar" >/dev/null 2>&1 || skip "podman does not work here"
	podman_isolated save -q -o "$TEST_DIR/p-docker.tar" docker.io/library/busybox:oci
	podman_isolated save -q --format oci-archive -o "$TEST_DIR/p-oci.tar" docker.io/library/busybox:oci
	run nook_image import "$TEST_DIR/p-docker.tar"
	assert_status 0
	assert_output docker.io/library/busybox:oci
	run nook_image import --name localhost/from-podman "$TEST_DIR/p-oci.tar"
	assert_status 0
	assert_output localhost/from-podman:latest
	run nook_image inspect from-podman
	assert_status 0
	jq -e '.config.config.Cmd == ["echo", "hello"]' <<<"$output" >/dev/null
	store_is_consistent
}

@test "a plain rootfs tarball needs --name and gets a minimal config" {
	run --separate-stderr nook_image import "$IMAGES/rootfs.tar.gz"
	assert_status 125
	assert_one_line_error "rootfs.tar.gz" "use --name"
	run nook_image ls -q
	assert_output ""

	run nook_image import --name localhost/mine:1 "$IMAGES/rootfs.tar.gz"
	assert_status 0
	assert_output localhost/mine:1
	run nook_image inspect mine:1
	assert_status 0
	case $(uname -m) in
	x86_64) arch=amd64 ;;
	aarch64) arch=arm64 ;;
	*) arch=$(uname -m) ;;
	esac
	jq -e --arg arch "$arch" '
		.config.os == "linux" and .config.architecture == $arch
		and (.config.config.Env | index("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"))
		and (.config.rootfs.diff_ids | length == 1) and (.config.created | length > 0)
		and .layers[0].media_type == "application/vnd.oci.image.layer.v1.tar+gzip"' <<<"$output" >/dev/null
	[ -x "$(layer_dir "$(jq -r '.layers[0].diff_id' <<<"$output")")/bin/busybox" ]
}

@test "whiteouts and opaque dirs become overlay whiteouts in the layer" {
	run nook_image import "$IMAGES/wh-layout"
	assert_status 0
	run nook_image inspect example.org/test/whiteouts:1
	assert_status 0
	l1=$(layer_dir "$(jq -r '.layers[0].diff_id' <<<"$output")")
	l2=$(layer_dir "$(jq -r '.layers[1].diff_id' <<<"$output")")
	[ "$(cat "$l1/d/f")" = f ] && [ -e "$l1/e/old" ]
	[ "$(stat -c '%F %t:%T' "$l2/d/f")" = "character special file 0:0" ]
	[ ! -e "$l2/d/.wh.f" ] && [ ! -e "$l2/e/.wh..wh..opq" ]
	run python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())' "$l2/e"
	assert_output y
	[ "$(cat "$l2/e/new")" = new ]
}

@test "a docker-archive whose manifest.json points at ../../etc/passwd is refused" {
	mkdir -p "$TEST_DIR/hostile"
	cd "$TEST_DIR/hostile"
	tar -xf "$IMAGES/docker.tar" --wildcards '*.json'
	jq -c '.[0].Layers = ["../../etc/passwd"]' manifest.json >m.json && mv m.json manifest.json
	tar -cf ../hostile.tar --exclude=manifest.json . && tar -rf ../hostile.tar manifest.json
	cd /
	before=$(sha256sum /etc/passwd)
	run --separate-stderr nook_image import "$TEST_DIR/hostile.tar"
	assert_status 125
	assert_one_line_error "hostile.tar" "Layers[0]" "../../etc/passwd"
	[ "$(sha256sum /etc/passwd)" = "$before" ]
	run nook_image ls -q
	assert_output ""
}

@test "a blob whose content does not match its digest is refused" {
	cp -a "$IMAGES/layout" "$TEST_DIR/bad"
	m=$(jq -r '.manifests[0].digest' "$TEST_DIR/bad/index.json" | cut -d: -f2)
	layer=$(jq -r '.layers[0].digest' "$TEST_DIR/bad/blobs/sha256/$m" | cut -d: -f2)
	size=$(stat -c %s "$TEST_DIR/bad/blobs/sha256/$layer")
	head -c "$size" /dev/zero >"$TEST_DIR/bad/blobs/sha256/$layer"
	run --separate-stderr nook_image import "$TEST_DIR/bad"
	assert_status 125
	assert_one_line_error "digest mismatch" "$layer"
	[ ! -e "$STORAGE/blobs/sha256/$layer" ]
	run nook_image ls -q
	assert_output ""
	# The same in an archive: the member is named.
	(cd "$TEST_DIR/bad" && tar -cf ../bad.tar oci-layout index.json blobs)
	run --separate-stderr nook_image import "$TEST_DIR/bad.tar"
	assert_status 125
	assert_one_line_error "member \`blobs/sha256/$layer\`" "digest mismatch"
}

@test "a manifest referencing a blob that is not there is refused" {
	cp -a "$IMAGES/layout" "$TEST_DIR/missing"
	m=$(jq -r '.manifests[0].digest' "$TEST_DIR/missing/index.json" | cut -d: -f2)
	layer=$(jq -r '.layers[0].digest' "$TEST_DIR/missing/blobs/sha256/$m" | cut -d: -f2)
	rm "$TEST_DIR/missing/blobs/sha256/$layer"
	(cd "$TEST_DIR/missing" && tar -cf ../missing.tar oci-layout index.json blobs)
	run --separate-stderr nook_image import "$TEST_DIR/missing.tar"
	assert_status 125
	assert_one_line_error "missing.tar" "is not in the archive" "$layer"
	run --separate-stderr nook_image import "$TEST_DIR/missing"
	assert_status 125
	assert_one_line_error "$layer"
	run nook_image ls -q
	assert_output ""
}

@test "an OCI archive whose ref.name is only a tag needs --name" {
	skopeo copy -q "oci:$IMAGES/layout" "oci-archive:$TEST_DIR/tag.tar:latest"
	run --separate-stderr nook_image import "$TEST_DIR/tag.tar"
	assert_status 125
	assert_one_line_error "\`latest\` is only a tag" "--name"
	run nook_image import --name example.org/tagged "$TEST_DIR/tag.tar"
	assert_status 0
	assert_output example.org/tagged:latest
}

@test "ls: table, json and -q" {
	nook_image import "$IMAGES/layout" >/dev/null
	nook_image import "$IMAGES/wh-layout" >/dev/null
	run nook_image ls
	assert_status 0
	[[ "${lines[0]}" =~ ^REPOSITORY\ +TAG\ +IMAGE\ ID\ +CREATED\ +SIZE$ ]]
	[[ "${lines[1]}" == "docker.io/library/busybox "*" latest "* ]]
	[[ "${lines[2]}" == "example.org/test/whiteouts "*" 1 "* ]]
	run nook_image ls --format json
	assert_status 0
	jq -e 'length == 2 and (map(keys) | unique == [["created", "digest", "id", "name", "size"]])
		and .[0].name == "docker.io/library/busybox:latest" and (.[0].id | test("^[0-9a-f]{64}$"))
		and (.[0].digest | test("^sha256:[0-9a-f]{64}$")) and .[0].size > 0
		and .[0].created == "2024-01-02T03:04:05Z"' <<<"$output" >/dev/null
	id=$(jq -r '.[0].id' <<<"$output")
	run nook_image ls -q
	assert_status 0
	[ "${#lines[@]}" -eq 2 ] && [ "${lines[0]}" = "${id:0:12}" ]
	# An id prefix finds the image.
	run nook_image inspect "${id:0:6}"
	assert_status 0
	[ "$(jq -r .name <<<"$output")" = docker.io/library/busybox:latest ]
}

@test "rm of an unknown name: one line, exit 125" {
	run --separate-stderr nook_image rm nosuch
	assert_status 125
	assert_one_line_error "image \`nosuch\` not found"
	[ "$stderr" = "nook: image \`nosuch\` not found" ]
	run --separate-stderr nook_image inspect nosuch
	assert_status 125
	assert_one_line_error "image \`nosuch\` not found"
}

@test "prune removes exactly the blobs and layers no name uses" {
	nook_image import "$IMAGES/layout" >/dev/null
	nook_image import "$IMAGES/wh-layout" >/dev/null
	keep=$(nook_image inspect busybox)
	gone=$(nook_image inspect example.org/test/whiteouts:1)
	run nook_image prune
	assert_status 0
	assert_output "removed 0 blobs and layers, 0 B freed"

	run nook_image rm example.org/test/whiteouts:1
	assert_status 0
	run nook_image prune
	assert_status 0
	# The whiteout image: its manifest, config, 2 layer blobs and 2 layers.
	[[ "$output" == "removed 6 blobs and layers, "*" freed" ]]
	for d in $(jq -r '.digest, .manifest.config.digest, .manifest.layers[].digest' <<<"$gone"); do
		[ ! -e "$STORAGE/blobs/sha256/${d#sha256:}" ]
	done
	for d in $(jq -r '.layers[].diff_id' <<<"$gone"); do [ ! -e "$(layer_dir "$d")" ]; done
	for d in $(jq -r '.digest, .manifest.config.digest, .manifest.layers[].digest' <<<"$keep"); do
		[ -e "$STORAGE/blobs/sha256/${d#sha256:}" ]
	done
	[ -x "$(layer_dir "$(jq -r '.layers[0].diff_id' <<<"$keep")")/bin/busybox" ]
	store_is_consistent
}

@test "rm of an image a container uses needs -f; prune keeps the container's layers" {
	nook_image import "$IMAGES/layout" >/dev/null
	info=$(nook_image inspect busybox)
	mkdir -p "$STORAGE/containers/c1"
	jq -r .digest <<<"$info" >"$STORAGE/containers/c1/image"
	jq -r '.layers[].diff_id' <<<"$info" >"$STORAGE/containers/c1/layers"
	run --separate-stderr nook_image rm busybox
	assert_status 125
	assert_one_line_error "in use by container \`c1\`"
	run nook_image rm -f busybox
	assert_status 0
	run nook_image prune
	assert_status 0
	assert_output "removed 0 blobs and layers, 0 B freed"
	rm -r "$STORAGE/containers/c1"
	run nook_image prune
	assert_status 0
	[[ "$output" == "removed 4 blobs and layers, "* ]]
}

@test "concurrent imports of one archive both succeed and leave a consistent store" {
	pids=()
	for i in 1 2 3; do
		nook_image import "$IMAGES/docker.tar" >"$TEST_DIR/out.$i" 2>&1 &
		pids+=($!)
	done
	rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=$?; done
	[ "$rc" -eq 0 ] || {
		cat "$TEST_DIR"/out.* >&2
		false
	}
	for i in 1 2 3; do [ "$(cat "$TEST_DIR/out.$i")" = docker.io/library/busybox:docker ]; done
	run nook_image ls --format json
	jq -e 'length == 1' <<<"$output" >/dev/null
	[ "$(ls "$STORAGE/layers" | wc -l)" -eq 1 ]
	store_is_consistent
}

@test "export writes an oci-archive that imports again and skopeo reads" {
	nook_image import "$IMAGES/wh-layout" >/dev/null
	digest=$(nook_image inspect example.org/test/whiteouts:1 | jq -r .digest)
	run nook_image export example.org/test/whiteouts:1 "$TEST_DIR/out.tar"
	assert_status 0
	[ ! -e "$TEST_DIR/out.tar.tmp" ]
	run skopeo inspect "oci-archive:$TEST_DIR/out.tar"
	assert_status 0
	[ "$(jq -r .Digest <<<"$output")" = "$digest" ]
	STORAGE=$TEST_DIR/storage2
	run nook_image import "$TEST_DIR/out.tar"
	assert_status 0
	assert_output example.org/test/whiteouts:1
	[ "$(nook_image inspect example.org/test/whiteouts:1 | jq -r .digest)" = "$digest" ]
	store_is_consistent
}

@test "import on a terminal draws progress lines" {
	command -v script >/dev/null || skip "script(1) is not installed"
	run script -qec "$NOOK --storage $STORAGE image import $IMAGES/oci.tar" /dev/null
	assert_status 0
	assert_output_contains "docker.io/library/busybox:oci"
	assert_output_contains "done"
	[[ "$output" == *$'\r'* ]]
}
