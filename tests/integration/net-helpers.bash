# Helpers shared by the bats files that run nook in a network namespace of the test's own
# (net-run.bats, net-parallel.bats, faults.bats), loaded after helpers.bash.  The namespace ($NS,
# bound on a file in the test's directory) plays the host: bridges, veths, nft rules and
# ip_forward are never the machine's.  The file sets STORAGE, CGP and NS (net_ns_setup).

# net_ns_setup SUFFIX: the test's storage, its cgroup parent ($CG_PARENT/$TEST_TAG-SUFFIX) and
# its network namespace $NS with lo up.
net_ns_setup() {
	STORAGE=$TEST_DIR/storage
	CGP=$CG_PARENT/$TEST_TAG-$1
	NS=$TEST_DIR/netns
	touch "$NS"
	unshare --net="$NS" true
	inns ip link set lo up
}

# net_teardown: remove every container (in the test's namespace), wait for the background runs,
# then drop the namespace and the cgroup parent.
net_teardown() {
	local d base
	for d in "$STORAGE"/containers/*/; do
		[ -d "$d" ] || continue
		NOOK_TEST_TIMEOUT=20 ncli rm -f "$(basename "$d")" >/dev/null 2>&1 || true
	done
	wait 2>/dev/null || true
	umount "$NS" 2>/dev/null || true
	while read -r base; do
		rmdir "$base/$CGP" 2>/dev/null || true
	done < <(nook_cgroup_bases)
}

# inns CMD...: CMD in the test's network namespace.
inns() {
	timeout -k 5 "$NOOK_TEST_TIMEOUT" nsenter --net="$NS" "$@"
}

# ncli ARGS...: nook on the test's state root and storage, in the test's namespace.
ncli() {
	inns "$NOOK_BUILDDIR/nook" --root "$ROOT" --storage "$STORAGE" "$@" 3>&-
}

# nrun ARGS...: `nook run` tagged for the leftover checks.
nrun() {
	ncli run --cgroup-parent "$CGP" -e "$(container_env_marker)" "$@"
}

# ctr_id NAME: the id of the container NAME (STORAGE/names/NAME, or its directory's `name` file).
ctr_id() {
	if [ -L "$STORAGE/names/$1" ]; then
		basename "$(readlink "$STORAGE/names/$1")"
		return
	fi
	basename "$(dirname "$(grep -lx "$1" "$STORAGE"/containers/*/name)")"
}

# wait_no_veth: poll (up to 2 s) until no veth is left in the test's namespace: teardown leaves
# the pair of a container to the kernel, which removes it with the container's network
# namespace a few ms after nook returns.
wait_no_veth() {
	local i links
	for i in $(seq 40); do
		links=$(inns ip -o link show type veth)
		[ -z "$links" ] && return 0
		sleep 0.05
	done
	echo "veths left: $links" >&2
	return 1
}

# assert_no_network_left ID: no veth, lease, nft rule, netns file (of container ID) or netns mount
# remains.
assert_no_network_left() {
	local id=$1 rules
	wait_no_veth || return 1
	rules=$(inns nft -a list table inet nook 2>/dev/null | grep "nook ctr=" || true)
	[ -z "$rules" ] || { echo "nft rules left: $rules" >&2; return 1; }
	run --separate-stderr ncli network inspect nook
	assert_status 0
	echo "$output" | jq -e '.[0].containers == []' >/dev/null ||
		{ echo "leases left: $output" >&2; return 1; }
	[ ! -e "$ROOT/@netns/$id" ] || { echo "netns file left" >&2; return 1; }
	[ ! -e "$ROOT/@netns" ]
	! grep -qF "$ROOT/@netns" /proc/self/mountinfo
}
