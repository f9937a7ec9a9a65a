#!/usr/bin/env bats
# Many `nook run` at once on one bridge network (the default network `nook`): the leases, the
# bridge's creation, the nft rules and the /etc/hosts passes are taken under locks, so ten runs
# started together must all succeed with ten distinct addresses and leave nothing behind.  Every
# nook command runs in a network namespace the test makes (net-helpers.bash), as in net-run.bats.

load helpers
load net-helpers

setup() {
	nook_setup
	require_nook "nook run"
	net_ns_setup par
	on_teardown 'net_teardown'
	# the embedded busybox, imported once: the parallel runs test the network, not the store
	nrun --rm --net none busybox true
}

# par_wait PID...: wait for every PID; fail (after waiting for all) when one failed.
par_wait() {
	local pid rc=0
	for pid in "$@"; do
		wait "$pid" || rc=1
	done
	return "$rc"
}

# assert_distinct FILE: FILE has 10 lines, every one an address of 10.88.0.0/16, none twice.
assert_distinct() {
	cat "$1" >&2
	[ "$(wc -l <"$1")" -eq 10 ]
	[ "$(sort -u "$1" | wc -l)" -eq 10 ]
	! grep -vxE '10\.88\.[0-9]+\.[0-9]+' "$1"
}

@test "10 parallel run --rm on the default network: distinct addresses, nothing left" {
	local pids=() c
	for c in $(seq 10); do
		nrun --rm busybox sh -c 'ip -o -4 addr show eth0 | awk "{print \$4}"' \
			>"$TEST_DIR/r$c.out" 2>"$TEST_DIR/r$c.err" </dev/null &
		pids+=($!)
	done
	par_wait "${pids[@]}" || { tail -n +1 "$TEST_DIR"/r*.err >&2; false; }
	for c in $(seq 10); do
		[ ! -s "$TEST_DIR/r$c.err" ] || { cat "$TEST_DIR/r$c.err" >&2; false; }
		cut -d/ -f1 "$TEST_DIR/r$c.out"
	done >"$TEST_DIR/addrs"
	assert_distinct "$TEST_DIR/addrs"
	[ -z "$(ls -A "$STORAGE/containers")" ]
	assert_no_network_left none
}

@test "10 parallel run -d on the default network: distinct addresses, /etc/hosts of all, rm -f" {
	local pids=() c j addr
	for c in $(seq 10); do
		nrun -d --name "n$c" busybox sleep 600 >"$TEST_DIR/d$c.out" 2>&1 </dev/null &
		pids+=($!)
	done
	par_wait "${pids[@]}" || { tail -n +1 "$TEST_DIR"/d*.out >&2; false; }
	run --separate-stderr ncli network inspect nook
	assert_status 0
	echo "$output" | jq -r '.[0].containers[].address' | cut -d/ -f1 >"$TEST_DIR/addrs"
	assert_distinct "$TEST_DIR/addrs"
	# every container is named in the hosts file of every other: each run's hosts pass, under
	# the lease lock, wrote its own file from the leases and its line into those of the others
	declare -A addr_of
	for c in $(seq 10); do
		addr_of[n$c]=$(echo "$output" | jq -r --arg n "n$c" '.[0].containers[] | select(.name == $n) | .address' | cut -d/ -f1)
		[ -n "${addr_of[n$c]}" ]
	done
	for c in $(seq 10); do
		run --separate-stderr ncli exec "n$c" cat /etc/hosts
		assert_status 0
		for j in $(seq 10); do
			[ "$c" = "$j" ] && continue
			addr=${addr_of[n$j]}
			echo "$output" | grep -qE "^${addr//./\\.}"$'\t'"(.* )?n$j( |\$)" ||
				{ echo "n$c's /etc/hosts lacks n$j ($addr): $output" >&2; false; }
		done
	done
	pids=()
	for c in $(seq 10); do
		ncli rm -f "n$c" >"$TEST_DIR/rm$c.out" 2>&1 </dev/null &
		pids+=($!)
	done
	par_wait "${pids[@]}" || { tail -n +1 "$TEST_DIR"/rm*.out >&2; false; }
	[ -z "$(ls -A "$STORAGE/containers")" ]
	assert_no_network_left none
	[ -z "$(nook_find_processes "$TEST_DIR" "$(container_env_marker)")" ]
}

# (bats 1.8's `run --separate-stderr` sets a variable `i` of its caller: loops here use c)
@test "10 parallel run -d: each container's own /etc/hosts line is its id and name" {
	local pids=() c id
	for c in $(seq 10); do
		nrun -d --name "n$c" busybox sleep 600 >"$TEST_DIR/d$c.out" 2>&1 </dev/null &
		pids+=($!)
	done
	par_wait "${pids[@]}" || { tail -n +1 "$TEST_DIR"/d*.out >&2; false; }
	for c in $(seq 10); do
		id=$(ctr_id "n$c")
		run --separate-stderr ncli exec "n$c" sh -c 'hostname; cat /etc/hosts'
		assert_status 0
		[ "${lines[0]}" = "${id:0:12}" ]
		echo "$output" | grep -qE $'^10\\.88\\.[0-9.]+\t'"${id:0:12} n$c\$" ||
			{ echo "n$c ($id): $output" >&2; false; }
	done
}
