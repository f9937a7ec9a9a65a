#!/usr/bin/env bats
# netns: `nook network create|ls|inspect|rm`.  Every call runs in a network namespace of its
# own (unshare -n), so that `rm` (which deletes a bridge and nft rules) never touches the
# host's links or nft tables; the networks live in the test's directory (--storage).

load helpers

# net ARGS...: `nook --storage $TEST_DIR/net network ARGS` in a fresh network namespace.
net() {
	timeout -k 5 "$NOOK_TEST_TIMEOUT" unshare -n "$NOOK_BUILDDIR/nook" \
		--storage "$TEST_DIR/net" network "$@"
}

@test "network ls: the default network exists from the start" {
	require_nook
	run --separate-stderr net ls --format json
	assert_status 0
	echo "$output" | jq -e 'length == 1 and .[0].name == "nook" and .[0].bridge == "nook0"
		and .[0].subnet == "10.88.0.0/16" and .[0].gateway == "10.88.0.1"' >/dev/null
}

@test "network create, ls, inspect and rm" {
	require_nook
	run --separate-stderr net create web
	assert_status 0
	assert_output "web"
	run --separate-stderr net create --subnet 192.0.2.0/24 --gateway 192.0.2.254 --bridge br-db db
	assert_status 0
	run --separate-stderr net ls -q
	assert_status 0
	assert_output "$(printf 'db\nnook\nweb')"
	run --separate-stderr net ls
	assert_status 0
	assert_output_contains "web     nook1             10.89.0.0/24        10.89.0.1"
	run --separate-stderr net inspect db web
	assert_status 0
	echo "$output" | jq -e 'length == 2 and .[0].gateway == "192.0.2.254"
		and .[0].bridge == "br-db" and .[0].containers == [] and .[1].subnet == "10.89.0.0/24"' \
		>/dev/null
	run --separate-stderr net rm web db
	assert_status 0
	run --separate-stderr net ls -q
	assert_output "nook"
	[ ! -e "$TEST_DIR/net/networks/web" ]
}

@test "network create: a bad option is one line naming the field" {
	require_nook
	run --separate-stderr net create --subnet 10.0.0.0/33 x
	assert_failure
	assert_one_line_error "subnet: \`10.0.0.0/33\`"
	run --separate-stderr net create --subnet 10.89.0.0/24 --gateway 10.90.0.1 x
	assert_failure
	assert_one_line_error "gateway: \`10.90.0.1\` is not a host address of \`10.89.0.0/24\`"
	run --separate-stderr net create --bridge a-very-long-bridge x
	assert_failure
	assert_one_line_error "bridge: \`a-very-long-bridge\`: must be 1 to 15 characters"
	run --separate-stderr net create "bad name"
	assert_failure
	assert_one_line_error "name: \`bad name\`"
	run --separate-stderr net create --subnet 10.88.7.0/24 x
	assert_failure
	assert_one_line_error "overlaps network \`nook\`"
	run --separate-stderr net ls -q
	assert_output "nook"
}

@test "network rm: the default network stays, unknown names fail" {
	require_nook
	run --separate-stderr net rm nook
	assert_failure
	assert_one_line_error "network \`nook\` is the default network and cannot be removed"
	run --separate-stderr net rm nope
	assert_failure
	assert_one_line_error "network \`nope\` does not exist"
	run --separate-stderr net inspect nope
	assert_failure
	assert_one_line_error "network \`nope\` does not exist"
}
