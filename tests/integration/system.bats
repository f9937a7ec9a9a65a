#!/usr/bin/env bats
# `nook system check`: the store checker's command line (text and JSON, exit codes, --repair,
# usage errors).  What it finds is tested in tests/unit/test-check.c; concurrency.bats and
# diskfull.bats run it after every race and every full disk.

load helpers
load run-helpers

MAKE_LAYOUT=$NOOK_SRCDIR/tests/helpers/make-oci-layout.py

setup() {
	nook_setup
	require_nook "nook system"
	STORAGE=$TEST_DIR/storage
}

# import_image: an image of one layer (the busybox rootfs) as example.org/system:1; prints its
# manifest's digest.
import_image() {
	python3 "$MAKE_LAYOUT" "$TEST_DIR/layout" --ref example.org/system:1 --gzip "$BUNDLE/rootfs"
	nook_cli image import "$TEST_DIR/layout" >/dev/null
}

@test "a consistent store: exit 0, nothing printed; JSON says what was checked" {
	import_image >/dev/null
	run --separate-stderr nook_cli system check
	assert_status 0
	assert_output ""
	[ -z "$stderr" ]
	run --separate-stderr nook_cli system check --format json
	assert_status 0
	[ "$(jq -c '[.consistent, .problems, .checked]' <<<"$output")" = \
		'[true,[],{"blobs":3,"layers":1,"images":1,"containers":0}]' ]
	# An empty store is consistent too.
	STORAGE=$TEST_DIR/empty
	run nook_cli system check
	assert_status 0
}

@test "a damaged store: one line per problem naming the path, exit 1; --repair mends it, exit 0" {
	local manifest config layer
	manifest=$(import_image)
	config=$(jq -r '.config.digest[7:]' "$STORAGE/blobs/sha256/${manifest#sha256:}")
	layer=$(jq -r '.layers[0].digest[7:]' "$STORAGE/blobs/sha256/${manifest#sha256:}")
	printf x >>"$STORAGE/blobs/sha256/$config"
	: >"$STORAGE/tmp/blob-1-left"
	run --separate-stderr nook_cli system check
	assert_status 1
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 4 ]
	assert_output_contains "$STORAGE/blobs/sha256/$config: corrupt: its content is \`sha256:"
	assert_output_contains "$STORAGE/index.json: image \`example.org/system:1\`: config \`sha256:$config\` is corrupt"
	assert_output_contains "$STORAGE/tmp/blob-1-left: left over"
	# Without its config no image says it needs the layer.
	assert_output_contains "$STORAGE/layers/$(ls "$STORAGE/layers"): unreferenced"
	run --separate-stderr nook_cli system check --format json
	assert_status 1
	[ "$(jq -r .consistent <<<"$output")" = false ]
	[ "$(jq -r '.problems[] | select(.path | endswith("blob-1-left")) | .repair' <<<"$output")" = null ]

	run --separate-stderr nook_cli system check --repair
	assert_status 0
	assert_output_contains "$STORAGE/blobs/sha256/$config: corrupt: its content is \`sha256:"
	assert_output_contains "(removed)"
	assert_output_contains "(name \`example.org/system:1\` removed)"
	run nook_cli system check
	assert_status 0
	assert_output ""
	[ "$(nook_cli image ls --format json | jq length)" -eq 0 ]
	# What the damaged image left is prune's.
	run nook_cli image prune
	assert_status 0
	[ ! -e "$STORAGE/blobs/sha256/$layer" ]
}

@test "--repair unpacks a missing layer again from its blob and keeps the image" {
	import_image >/dev/null
	rm -r "$STORAGE/layers/"*
	run nook_cli system check --repair
	assert_status 0
	assert_output_contains "(unpacked again from \`sha256:"
	run nook_cli system check
	assert_status 0
	[ -x "$STORAGE/layers/"*/diff/bin/busybox ]
	[ "$(nook_cli image ls --format json | jq -r '.[0].name')" = example.org/system:1 ]
}

@test "usage errors: one line, exit 125" {
	run --separate-stderr nook_cli system check --format yaml
	assert_status 125
	assert_one_line_error "--format must be \`text\` or \`json\`, not \`yaml\`"
	run --separate-stderr nook_cli system check extra
	assert_status 125
	assert_one_line_error "unexpected argument \`extra\`"
	run --separate-stderr nook_cli system check --bogus
	assert_status 125
	assert_one_line_error "unknown option \`--bogus\`"
	run --separate-stderr nook_cli system frobnicate
	assert_status 125
	assert_one_line_error "unknown command \`system frobnicate\`"
	run --separate-stderr nook_cli system
	assert_status 125
	run nook_cli system check --help
	assert_status 0
	assert_output_contains "usage: nook system check"
	# A store that cannot be opened is an error, not a finding.
	: >"$TEST_DIR/file"
	STORAGE=$TEST_DIR/file
	run --separate-stderr nook_cli system check
	assert_status 125
	[ "${#stderr_lines[@]}" -eq 1 ]
}
