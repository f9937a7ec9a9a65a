#!/usr/bin/env bats
# `nook image pull`: the OCI distribution API against Debian's docker-registry, and against
# tests/helpers/fake-registry.py for what a good registry never does (corrupt blobs, broken
# connections, stuck answers, token auth, redirects to a storage host).  Both listen on
# 127.0.0.1 only and are started once for the file.

load helpers
# shellcheck source=../helpers/registry.bash
. "$NOOK_SRCDIR/tests/helpers/registry.bash"

MAKE_LAYOUT=$NOOK_SRCDIR/tests/helpers/make-oci-layout.py

# multiarch_layout OUT: an OCI layout whose tag `latest` names an image index of the image in
# $PULL_DIR/layout (this host's) and one for linux/fakearch whose layer holds only /arch, so
# that a client picking the wrong platform is seen.  Prints the index's digest.
multiarch_layout() {
	local out=$1 tmp=$PULL_DIR/fakearch host other arch index digest
	mkdir -p "$tmp/layer" "$out/blobs/sha256"
	echo fakearch >"$tmp/layer/arch"
	python3 "$MAKE_LAYOUT" "$tmp/layout" --gzip --arch fakearch "$tmp/layer" >/dev/null
	cp "$PULL_DIR/layout/blobs/sha256/"* "$tmp/layout/blobs/sha256/"* "$out/blobs/sha256/"
	host=$(jq -c '.manifests[0] | del(.annotations)' "$PULL_DIR/layout/index.json")
	other=$(jq -c '.manifests[0]' "$tmp/layout/index.json")
	arch=$(jq -r .architecture "$PULL_DIR/layout/blobs/sha256/$(jq -r '.config.digest[7:]' \
		"$PULL_DIR/layout/blobs/sha256/$(jq -r '.digest[7:]' <<<"$host")")")
	index=$(jq -cn --argjson h "$host" --argjson o "$other" --arg arch "$arch" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
		manifests: [$o + {platform: {os: "linux", architecture: "fakearch"}},
			$h + {platform: {os: "linux", architecture: $arch}}]}')
	digest=$(printf '%s' "$index" | sha256sum | cut -d' ' -f1)
	printf '%s' "$index" >"$out/blobs/sha256/$digest"
	jq -n --arg d "sha256:$digest" --argjson size "${#index}" '{schemaVersion: 2, manifests: [{
		mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $size,
		annotations: {"org.opencontainers.image.ref.name": "latest"}}]}' >"$out/index.json"
	echo '{"imageLayoutVersion": "1.0.0"}' >"$out/oci-layout"
	echo "sha256:$digest"
}

setup_file() {
	bats_require_minimum_version 1.5.0
	[ "$(id -u)" = 0 ] || skip "not root"
	local tool
	for tool in docker-registry skopeo python3; do
		command -v "$tool" >/dev/null || skip "$tool is not installed"
	done
	PULL_DIR=$(mktemp -d "${NOOK_BATS_SUITE:-$BATS_FILE_TMPDIR}/pull.XXXXXX")
	export PULL_DIR
	"$NOOK_SRCDIR/tests/helpers/make-busybox-rootfs.sh" "$PULL_DIR/rootfs" >&2
	# One image (busybox, one layer) and an index of it and a fake architecture's image.
	IMAGE_DIGEST=$(python3 "$MAKE_LAYOUT" "$PULL_DIR/layout" --ref latest --gzip "$PULL_DIR/rootfs")
	INDEX_DIGEST=$(multiarch_layout "$PULL_DIR/layout-multi")
	local m=$PULL_DIR/layout/blobs/sha256/${IMAGE_DIGEST#sha256:} other
	LAYER=$(jq -r '.layers[0].digest' "$m")
	CONFIG=$(jq -r '.config.digest' "$m")
	DIFF_ID=$(jq -r '.rootfs.diff_ids[0]' "$PULL_DIR/layout/blobs/sha256/${CONFIG#sha256:}")
	other=$(jq -r '.manifests[] | select(.platform.architecture == "fakearch") | .digest' \
		"$PULL_DIR/layout-multi/blobs/sha256/${INDEX_DIGEST#sha256:}")
	OTHER_LAYER=$(jq -r '.layers[0].digest' "$PULL_DIR/layout-multi/blobs/sha256/${other#sha256:}")
	export IMAGE_DIGEST INDEX_DIGEST LAYER CONFIG DIFF_ID OTHER_LAYER

	registry_start "$PULL_DIR/registry"
	export REGISTRY REG_PID REG_LOG
	local push=(skopeo copy --quiet --dest-tls-verify=false)
	"${push[@]}" "oci:$PULL_DIR/layout:latest" "docker://$REGISTRY/test/busybox:latest" >&2
	"${push[@]}" --all "oci:$PULL_DIR/layout-multi:latest" "docker://$REGISTRY/test/multi:latest" >&2
	"${push[@]}" --format v2s2 "oci:$PULL_DIR/layout:latest" "docker://$REGISTRY/test/docker:latest" >&2
	"${push[@]}" --all --format v2s2 "oci:$PULL_DIR/layout-multi:latest" \
		"docker://$REGISTRY/test/dockerlist:latest" >&2

	fake_registry_start "$PULL_DIR/layout" "$PULL_DIR/fake"
	export FAKE FAKE_PID FAKE_DIR=$PULL_DIR/fake

	# The same images over https (HTTP/2), with a certificate no one trusts.
	local plain=$REGISTRY plain_pid=$REG_PID plain_log=$REG_LOG
	if command -v openssl >/dev/null && make_cert "$PULL_DIR"; then
		registry_start "$PULL_DIR/registry-tls" "$PULL_DIR/registry/data" "$PULL_DIR"
		export TLS_REGISTRY=$REGISTRY TLS_PID=$REG_PID TLS_LOG=$REG_LOG
	fi
	export REGISTRY=$plain REG_PID=$plain_pid REG_LOG=$plain_log
}

teardown_file() {
	registry_stop "${REG_PID:-}"
	registry_stop "${TLS_PID:-}"
	registry_stop "${FAKE_PID:-}"
	[ -z "${PULL_DIR:-}" ] || rm -rf "$PULL_DIR"
}

setup() {
	nook_setup
	STORAGE=$TEST_DIR/storage
	echo '{}' >"$FAKE_DIR/mode"
	: >"$FAKE_DIR/requests"
}

# nook_pull ARGS...: `nook --storage $STORAGE image pull ARGS`, bounded in time.
nook_pull() {
	timeout -k 5 "$NOOK_TEST_TIMEOUT" "$NOOK_BUILDDIR/nook" --storage "$STORAGE" image pull "$@" 3>&-
}

# names: "NAME DIGEST" for each name in the store's index.json.
names() {
	[ -e "$STORAGE/index.json" ] || return 0
	jq -r '.manifests[] | "\(.annotations["org.opencontainers.image.ref.name"]) \(.digest)"' \
		"$STORAGE/index.json"
}

blob() {
	printf '%s/blobs/sha256/%s' "$STORAGE" "${1#sha256:}"
}

# blob_gets REPO [DIGEST]: how many GETs of blobs (of DIGEST) docker-registry has served.
blob_gets() {
	grep -c "\"GET /v2/$1/blobs/${2:-}" "$REG_LOG" || true
}

fake_mode() {
	printf '%s\n' "$1" >"$FAKE_DIR/mode"
}

@test "pull by tag: the canonical name, verified blobs, the layer unpacked" {
	run --separate-stderr nook_pull --insecure "$REGISTRY/test/busybox"
	assert_status 0
	assert_output "$REGISTRY/test/busybox:latest"
	[ "$(names)" = "$REGISTRY/test/busybox:latest $IMAGE_DIGEST" ]
	for d in "$IMAGE_DIGEST" "$CONFIG" "$LAYER"; do
		[ "$(sha256sum <"$(blob "$d")" | cut -d' ' -f1)" = "${d#sha256:}" ]
	done
	[ -x "$STORAGE/layers/${DIFF_ID#sha256:}/diff/bin/busybox" ]
	[ -z "$(ls -A "$STORAGE/tmp")" ]
}

@test "progress per blob on a terminal, nothing on a pipe or with --quiet" {
	local item=${LAYER#sha256:}
	item=${item:0:12}
	run --separate-stderr nook_pull --insecure "$REGISTRY/test/busybox"
	assert_status 0
	[ -z "$stderr" ]
	rm -rf "$STORAGE"
	run script -qec "$NOOK_BUILDDIR/nook --storage $STORAGE image pull --insecure $REGISTRY/test/busybox" /dev/null
	assert_status 0
	assert_output_contains "$item"
	assert_output_contains "done"
	assert_output_contains "$REGISTRY/test/busybox:latest"
	rm -rf "$STORAGE"
	run script -qec "$NOOK_BUILDDIR/nook --storage $STORAGE image pull --quiet --insecure $REGISTRY/test/busybox" /dev/null
	assert_status 0
	[[ "$output" != *"$item"* ]]
	run --separate-stderr "$NOOK_BUILDDIR/nook" --storage "$STORAGE" image ls --format json
	assert_status 0
	[ "$(jq -r '.[0].name' <<<"$output")" = "$REGISTRY/test/busybox:latest" ]
	[ "$(jq -r '.[0].id' <<<"$output")" = "${CONFIG#sha256:}" ]
}

@test "--tls-verify=false is --insecure; other values are a usage error" {
	run --separate-stderr nook_pull --tls-verify=false "$REGISTRY/test/busybox"
	assert_status 0
	run --separate-stderr nook_pull --tls-verify=maybe "$REGISTRY/test/busybox"
	assert_status 125
	assert_one_line_error "--tls-verify takes true or false"
}

@test "a pulled image runs" {
	require_nook "nook run"
	local cgp=$CG_PARENT/$TEST_TAG-run
	on_teardown "while read -r b; do rmdir \"\$b/$cgp\" 2>/dev/null; done < <(nook_cgroup_bases)"
	nook_pull --insecure "$REGISTRY/test/busybox" >/dev/null
	run --separate-stderr timeout -k 5 "$NOOK_TEST_TIMEOUT" "$NOOK_BUILDDIR/nook" --root "$ROOT" \
		--storage "$STORAGE" run --rm --net none --cgroup-parent "$cgp" -e "$(container_env_marker)" \
		"$REGISTRY/test/busybox" sh -c 'echo hello from $0' pull
	assert_status 0
	assert_output "hello from pull"
	[ -z "$(ls -A "$STORAGE/containers")" ]
}

@test "pull by digest: named REPOSITORY@DIGEST" {
	run --separate-stderr nook_pull --insecure "$REGISTRY/test/busybox@$IMAGE_DIGEST"
	assert_status 0
	assert_output "$REGISTRY/test/busybox@$IMAGE_DIGEST"
	[ "$(names)" = "$REGISTRY/test/busybox@$IMAGE_DIGEST $IMAGE_DIGEST" ]
}

@test "pull of an OCI index: the linux/host image only, the index kept, the platform manifest named" {
	local before
	before=$(blob_gets test/multi "$OTHER_LAYER")
	run --separate-stderr nook_pull --insecure "$REGISTRY/test/multi:latest"
	assert_status 0
	assert_output "$REGISTRY/test/multi:latest"
	[ "$(names)" = "$REGISTRY/test/multi:latest $IMAGE_DIGEST" ]
	[ -e "$(blob "$INDEX_DIGEST")" ]
	[ ! -e "$(blob "$OTHER_LAYER")" ]
	[ "$(blob_gets test/multi "$OTHER_LAYER")" = "$before" ]
}

@test "pull by the digest of an index: named by it, the platform manifest behind the name" {
	run --separate-stderr nook_pull --insecure "$REGISTRY/test/multi@$INDEX_DIGEST"
	assert_status 0
	[ "$(names)" = "$REGISTRY/test/multi@$INDEX_DIGEST $IMAGE_DIGEST" ]
}

@test "pull of Docker schema 2 media types: a manifest and a manifest list" {
	local digest
	run --separate-stderr nook_pull --insecure "$REGISTRY/test/docker"
	assert_status 0
	digest=$(names | awk '{ print $2 }')
	[ "$(jq -r .mediaType "$(blob "$digest")")" = application/vnd.docker.distribution.manifest.v2+json ]
	run --separate-stderr nook_pull --insecure "$REGISTRY/test/dockerlist"
	assert_status 0
	[ "$(names | grep dockerlist | awk '{ print $2 }')" = "$digest" ]
}

@test "a second pull fetches the manifest and no blob" {
	local blobs manifests
	nook_pull --insecure "$REGISTRY/test/busybox" >/dev/null
	blobs=$(blob_gets test/busybox)
	manifests=$(grep -c '"GET /v2/test/busybox/manifests/' "$REG_LOG")
	run --separate-stderr nook_pull --insecure "$REGISTRY/test/busybox"
	assert_status 0
	[ "$(blob_gets test/busybox)" = "$blobs" ]
	[ "$(grep -c '"GET /v2/test/busybox/manifests/' "$REG_LOG")" -gt "$manifests" ]
}

@test "a partial blob left by an earlier pull is continued with a Range request" {
	local size partial=$STORAGE/tmp/partial-${LAYER#sha256:}
	mkdir -p "$STORAGE/tmp"
	size=$(stat -c %s "$PULL_DIR/layout/blobs/sha256/${LAYER#sha256:}")
	head -c $((size / 2)) "$PULL_DIR/layout/blobs/sha256/${LAYER#sha256:}" >"$partial"
	run --separate-stderr nook_pull --insecure "$REGISTRY/test/busybox"
	assert_status 0
	# docker-registry's access log: the status and the bytes sent, the second half only.
	grep -q "\"GET /v2/test/busybox/blobs/$LAYER HTTP/1.1\" 206 $((size - size / 2)) " "$REG_LOG"
	[ ! -e "$partial" ]
	[ "$(sha256sum <"$(blob "$LAYER")" | cut -d' ' -f1)" = "${LAYER#sha256:}" ]
}

@test "a partial blob with wrong bytes: the resumed blob fails its digest, one more try from 0" {
	mkdir -p "$STORAGE/tmp"
	head -c 1000 /dev/urandom >"$STORAGE/tmp/partial-${LAYER#sha256:}"
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_status 0
	grep -q "GET /v2/test/busybox/blobs/$LAYER range=bytes=1000- " "$FAKE_DIR/requests"
	grep -q "GET /v2/test/busybox/blobs/$LAYER range=- " "$FAKE_DIR/requests"
	[ -e "$(blob "$LAYER")" ]
}

@test "a connection broken mid-blob is resumed within the pull" {
	fake_mode '{"drop_after": 100000, "drop_ranges": false}'
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_status 0
	grep -q "GET /v2/test/busybox/blobs/$LAYER range=bytes=100000- " "$FAKE_DIR/requests"
	[ "$(names)" = "$FAKE/test/busybox:latest $IMAGE_DIGEST" ]
}

@test "an interrupted pull fails, keeps its partial blob, and the next pull completes it" {
	fake_mode '{"drop_after": 100000}'
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_failure
	assert_one_line_error "pull \`$FAKE/test/busybox:latest\`" "blob \`$LAYER\`" "broken"
	[ -z "$(names)" ]
	# Three tries of 100000 bytes each (the first and two resumptions).
	[ "$(stat -c %s "$STORAGE/tmp/partial-${LAYER#sha256:}")" = 300000 ]
	fake_mode '{}'
	: >"$FAKE_DIR/requests"
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_status 0
	grep -q "GET /v2/test/busybox/blobs/$LAYER range=bytes=300000- " "$FAKE_DIR/requests"
	[ ! -e "$STORAGE/tmp/partial-${LAYER#sha256:}" ]
	[ "$(names)" = "$FAKE/test/busybox:latest $IMAGE_DIGEST" ]
}

@test "a server that ignores Range: the partial blob starts again from byte 0" {
	mkdir -p "$STORAGE/tmp"
	head -c 5000 "$PULL_DIR/layout/blobs/sha256/${LAYER#sha256:}" >"$STORAGE/tmp/partial-${LAYER#sha256:}"
	fake_mode '{"ignore_range": true}'
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_status 0
	grep -q "GET /v2/test/busybox/blobs/$LAYER range=bytes=5000- " "$FAKE_DIR/requests"
	[ "$(sha256sum <"$(blob "$LAYER")" | cut -d' ' -f1)" = "${LAYER#sha256:}" ]
}

@test "two pulls of one image at once: one download of each blob, both named" {
	local a b
	fake_mode '{"slow": true}'
	nook_pull --insecure "$FAKE/test/busybox" >"$TEST_DIR/a.out" 2>"$TEST_DIR/a.err" &
	a=$!
	nook_pull --insecure "$FAKE/test/busybox@$IMAGE_DIGEST" >"$TEST_DIR/b.out" 2>"$TEST_DIR/b.err" &
	b=$!
	wait "$a" || { cat "$TEST_DIR/a.err"; false; }
	wait "$b" || { cat "$TEST_DIR/b.err"; false; }
	[ "$(grep -c "GET /v2/test/busybox/blobs/$LAYER " "$FAKE_DIR/requests")" = 1 ]
	[ "$(names | wc -l)" = 2 ]
	[ "$(sha256sum <"$(blob "$LAYER")" | cut -d' ' -f1)" = "${LAYER#sha256:}" ]
}

@test "a corrupt blob: digest mismatch, nothing named, nothing stored under its digest" {
	fake_mode '{"corrupt": true}'
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_failure
	assert_one_line_error "pull \`$FAKE/test/busybox:latest\`" "digest mismatch"
	[ -z "$(names)" ]
	[ ! -e "$(blob "$LAYER")" ]
	[ ! -e "$(blob "$CONFIG")" ]
}

@test "a blob longer than its descriptor says is cut off and refused" {
	fake_mode '{"extra_bytes": true}'
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_failure
	assert_one_line_error "blob \`" "the registry sent more than the"
	[ -z "$(names)" ]
	[ ! -e "$(blob "$LAYER")" ]
}

@test "a manifest larger than 4 MiB is refused" {
	fake_mode '{"big_manifest": true}'
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_failure
	assert_one_line_error "manifest larger than 4194304 bytes"
}

@test "a manifest that is not the digest asked for is refused" {
	fake_mode '{"wrong_manifest": true}'
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox@$IMAGE_DIGEST"
	assert_failure
	assert_one_line_error "manifest \`$IMAGE_DIGEST\`" "the registry sent content with digest"
	[ -z "$(names)" ]
}

@test "an unknown image: the registry's message and the HTTP status" {
	run --separate-stderr nook_pull --insecure "$REGISTRY/test/nope:latest"
	assert_failure
	assert_one_line_error "pull \`$REGISTRY/test/nope:latest\`: manifest unknown (404)"
	run --separate-stderr nook_pull --insecure "$REGISTRY/test/busybox:nope"
	assert_failure
	assert_one_line_error "pull \`$REGISTRY/test/busybox:nope\`: manifest unknown (404)"
}

@test "https without --insecure against a plain-HTTP registry: a TLS error that names --insecure" {
	run --separate-stderr nook_pull "$REGISTRY/test/busybox"
	assert_failure
	assert_one_line_error "pull \`$REGISTRY/test/busybox:latest\`" "TLS" "--insecure"
	[ -z "$(names)" ]
}

@test "https with a certificate no one trusts: refused, naming it and --insecure" {
	[ -n "${TLS_REGISTRY:-}" ] || skip "openssl is not installed"
	run --separate-stderr nook_pull "$TLS_REGISTRY/test/busybox"
	assert_failure
	assert_one_line_error "pull \`$TLS_REGISTRY/test/busybox:latest\`" \
		"TLS certificate of \`$TLS_REGISTRY\` not trusted" "--insecure"
	[ -z "$(names)" ]
}

@test "--insecure over https: the certificate is not checked, HTTP/2 is spoken" {
	[ -n "${TLS_REGISTRY:-}" ] || skip "openssl is not installed"
	run --separate-stderr nook_pull --insecure "$TLS_REGISTRY/test/multi"
	assert_status 0
	[ "$(names)" = "$TLS_REGISTRY/test/multi:latest $IMAGE_DIGEST" ]
	grep -q "\"GET /v2/test/multi/blobs/$LAYER HTTP/2.0\" 200 " "$TLS_LOG"
	[ "$(grep -c '"GET /v2/test/multi/[^"]* HTTP/1' "$TLS_LOG")" = 0 ]
}

@test "connection refused names the registry" {
	local port
	port=$(free_port)
	run --separate-stderr nook_pull --insecure "127.0.0.1:$port/test/busybox"
	assert_failure
	assert_one_line_error "pull \`127.0.0.1:$port/test/busybox:latest\`" \
		"connect to \`127.0.0.1:$port\`" "Connection refused"
}

@test "anonymous bearer token: 401 challenge, token from the realm, retried with it" {
	fake_mode '{"auth": "bearer"}'
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_status 0
	grep -q '^GET /token?service=fake&scope=repository%3Atest%2Fbusybox%3Apull ' "$FAKE_DIR/requests"
	grep -q "GET /v2/test/busybox/blobs/$LAYER range=- auth=Bearer good" "$FAKE_DIR/requests"
	[ "$(names)" = "$FAKE/test/busybox:latest $IMAGE_DIGEST" ]
}

@test "blobs redirected to another host: followed, without the Authorization header" {
	fake_mode '{"auth": "bearer", "redirect": true}'
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_status 0
	grep -q "GET /storage/$LAYER range=- auth=-" "$FAKE_DIR/requests"
	[ -e "$(blob "$LAYER")" ]
}

@test "a Basic challenge: a clear error, nook pulls anonymously" {
	fake_mode '{"auth": "basic"}'
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_failure
	assert_one_line_error "pull \`$FAKE/test/busybox:latest\`" "basic authentication"
}

@test "a Docker schema 1 manifest is refused with a clear error" {
	fake_mode '{"schema1": true}'
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_failure
	assert_one_line_error "schema 1"
}

@test "a registry that stops sending: the pull fails instead of hanging" {
	fake_mode '{"stall": true}'
	export NOOK_PULL_STALL_TIMEOUT=2
	SECONDS=0
	run --separate-stderr nook_pull --insecure "$FAKE/test/busybox"
	assert_failure
	assert_one_line_error "sent nothing for 2 s"
	[ "$SECONDS" -lt 30 ]
}

@test "an invalid reference is refused before any request" {
	run --separate-stderr nook_pull --insecure "$FAKE/Test/UPPER"
	assert_failure
	assert_one_line_error "invalid image reference"
	[ ! -s "$FAKE_DIR/requests" ]
}
