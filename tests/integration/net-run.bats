#!/usr/bin/env bats
# `nook run` on networks: --net bridge|none|host|NETWORK|container:NAME, -p, --add-host, --dns,
# the /etc files, crash cleanup.  Every nook command runs in one network namespace the test
# makes ($NS, bound on a file in the test's directory with `unshare --net=FILE`), which plays
# the host: bridges, veths, nft rules and ip_forward are never the machine's, and traffic goes
# only to 127.0.0.1 and 10.88.0.0/16 inside it.  A container that must run while the test
# talks to it is a foreground `nook run` put in the shell's background.

load helpers
load net-helpers

setup() {
	nook_setup
	require_nook "nook run"
	net_ns_setup net
	on_teardown 'net_teardown'
}

# bg_run OUT ARGS...: nrun ARGS in the background, its output to OUT.
bg_run() {
	local out=$1
	shift
	nrun "$@" >"$out" 2>&1 </dev/null &
}

# wait_for_lease NAME [NETWORK]: poll until container NAME holds an address; print it.
wait_for_lease() {
	local i addr
	for i in $(seq 100); do
		addr=$(ncli network inspect "${2:-nook}" 2>/dev/null |
			jq -r --arg n "$1" '.[0].containers[] | select(.name == $n) | .address')
		if [ -n "$addr" ]; then
			echo "$addr"
			return 0
		fi
		sleep 0.1
	done
	echo "container $1 got no lease" >&2
	return 1
}

# wait_for_http URL: poll until a GET of URL from the test's namespace answers.
wait_for_http() {
	local i
	for i in $(seq 100); do
		inns curl -sf --max-time 2 -o /dev/null "$1" && return 0
		sleep 0.1
	done
	echo "no answer from $1" >&2
	return 1
}

@test "--net none: only lo; /etc/hosts and /etc/hostname, the image's resolv.conf" {
	run --separate-stderr nrun --rm --net none --name box --hostname box --add-host db.example:192.0.2.7 \
		busybox sh -c 'ip -o link | cut -d: -f2; cat /etc/hostname /etc/hosts'
	assert_status 0
	assert_output "$(printf ' lo\nbox\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox\n192.0.2.7\tdb.example')"
	[ -z "$(ls -A "$STORAGE/containers")" ]
	state_root_is_empty
}

@test "--net host: the (test namespace's) links, the host's hostname and files" {
	inns ip link add nooktest0 type veth peer name nooktest1
	run --separate-stderr nrun --rm --net host --name hosty busybox \
		sh -c 'ip -o link | cut -d: -f2; hostname; tail -n1 /etc/hosts; cat /etc/resolv.conf'
	assert_status 0
	assert_output_contains " nooktest0"
	assert_output_contains "$(hostname)"
	assert_output_contains "$(printf '127.0.1.1\t%s hosty' "$(hostname)")"
	assert_output_contains "$(grep nameserver /etc/resolv.conf | head -n1)"
	run --separate-stderr nrun --rm --net host --dns 192.0.2.53 busybox cat /etc/resolv.conf
	assert_status 0
	assert_output_contains "nameserver 192.0.2.53"
	[[ "$output" != *"$(grep nameserver /etc/resolv.conf | head -n1)"* ]]
}

@test "default network: an address in 10.88.0.0/16, a default route, its name in /etc/hosts" {
	run --separate-stderr nrun --rm --name alpha busybox sh -c \
		'ip -o -4 addr show eth0 | awk "{print \$4}"; ip route | grep default; cat /etc/hosts /etc/hostname'
	assert_status 0
	[[ "${lines[0]}" =~ ^10\.88\.[0-9]+\.[0-9]+/16$ ]]
	first=${lines[0]}
	assert_output_contains "default via 10.88.0.1 dev eth0"
	[[ "$output" =~ 10\.88\.[0-9.]+$'\t'[0-9a-f]{12}\ alpha ]]
	assert_output_contains "# nook: the other containers of network \`nook\`"
	[ -z "$(ls -A "$STORAGE/containers")" ]
	assert_no_network_left none
	# --net bridge and --network are the same
	run --separate-stderr nrun --rm --network bridge --hostname h1 --dns 192.0.2.53 busybox \
		sh -c 'hostname; ip -o -4 addr show eth0 | wc -l; cat /etc/resolv.conf'
	assert_status 0
	assert_output_contains "$(printf 'h1\n1\n')"
	assert_output_contains "nameserver 192.0.2.53"
	# addresses go round: the next container gets the next address, not the one just freed
	run --separate-stderr nrun --rm busybox sh -c 'ip -o -4 addr show eth0 | awk "{print \$4}"'
	assert_status 0
	[ "$output" = "10.88.0.4/16" ] && [ "$first" = "10.88.0.2/16" ]
}

@test "two containers reach each other by address and by name; /etc/hosts follows" {
	bg_run "$TEST_DIR/web.out" --name web busybox httpd -f -p 80 -h /etc
	addr=$(wait_for_lease web)
	wait_for_http "http://$addr/hostname"
	id=$(ctr_id web)
	run --separate-stderr nrun --rm --name client busybox sh -c \
		"wget -q -O - http://$addr/hostname && wget -q -O - http://web/hosts"
	assert_status 0
	assert_output_contains "${id:0:12}"
	# web's /etc/hosts, as its httpd serves it, learnt the client's name in place
	[[ "$output" =~ 10\.88\.[0-9.]+$'\t'client ]]
	# and forgets it when the client is gone
	! grep -q client "$STORAGE/containers/$id/hosts"
	grep -q "web" "$STORAGE/containers/$id/hosts"
	run --separate-stderr ncli rm -f web
	assert_status 0
	wait
	assert_no_network_left "$id"
}

@test "-p: a published port on 127.0.0.1 reaches httpd in a container; udp too" {
	bg_run "$TEST_DIR/web.out" --name web -p 127.0.0.1:18080:80 busybox httpd -f -p 80 -h /etc
	wait_for_lease web >/dev/null
	wait_for_http "http://127.0.0.1:18080/hostname"
	id=$(ctr_id web)
	run inns curl -sf --max-time 5 http://127.0.0.1:18080/hostname
	assert_status 0
	assert_output "${id:0:12}"
	inns nft list chain inet nook output | grep -q "tcp dport 18080 dnat ip to"
	# udp: the busybox of the image has no udp server, so a python one listens in the
	# container's network namespace, and answers from there
	bg_run "$TEST_DIR/udp.out" --name udp -p 127.0.0.1:15353:53/udp busybox sleep 60
	wait_for_lease udp >/dev/null
	uid=$(ctr_id udp)
	timeout 30 nsenter --net="$ROOT/@netns/$uid" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
d, a = s.recvfrom(100)
s.sendto(b"echo " + d, a)' &
	run inns python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for i in range(40):
    s.sendto(b"hello", ("127.0.0.1", 15353))
    try:
        d, a = s.recvfrom(100)
        print(d.decode(), a[0], a[1])
        sys.exit(0)
    except (socket.timeout, ConnectionRefusedError):
        pass
sys.exit(1)'
	assert_status 0
	assert_output "echo hello 127.0.0.1 15353"
	run --separate-stderr ncli rm -f web udp
	assert_status 0
	wait
	assert_no_network_left "$id"
	assert_no_network_left "$uid"
}

@test "--net NETWORK and container:NAME; network rm refuses while a container uses it" {
	run --separate-stderr ncli network create --subnet 192.0.2.0/24 web
	assert_status 0
	bg_run "$TEST_DIR/srv.out" --name srv --net web busybox httpd -f -p 80 -h /etc
	addr=$(wait_for_lease srv web)
	[[ "$addr" == 192.0.2.* ]]
	wait_for_http "http://$addr/hostname"
	id=$(ctr_id srv)
	run --separate-stderr ncli network rm web
	assert_status 125
	assert_one_line_error "network \`web\` is in use by 1 container (\`$id\`)"
	# container:srv: the same namespace (the server is on 127.0.0.1), hostname and /etc files
	run --separate-stderr nrun --rm --net container:srv busybox sh -c \
		'wget -q -O - http://127.0.0.1/hostname; hostname; ip -o -4 addr show eth0 | wc -l'
	assert_status 0
	assert_output "$(printf '%s\n%s\n1' "${id:0:12}" "${id:0:12}")"
	run --separate-stderr ncli rm -f srv
	assert_status 0
	wait
	# a lease whose container is gone (removed behind nook's back) does not hold the network
	printf '192.0.2.9 %s ghost\n' "$(printf 'a%.0s' {1..64})" >>"$STORAGE/networks/web/leases"
	run --separate-stderr ncli network rm web
	assert_status 0
	[ ! -e "$STORAGE/networks/web" ]
	wait_no_veth
}

@test "crash: kill -9 of nook run and the container, then rm -f cleans the network up" {
	bg_run "$TEST_DIR/web.out" --name web -p 18081:80 busybox httpd -f -p 80 -h /etc
	wait_for_lease web >/dev/null
	id=$(ctr_id web)
	wait_for_file "$ROOT/$id/state.json"
	pid=$(jq -r .pid "$ROOT/$id/state.json")
	nook_pid=$(awk '{print $4}' "/proc/$pid/stat")
	# nook run itself, or its supervisor (whose comm is that of a re-exec'd copy, "exe")
	tr '\0' ' ' <"/proc/$nook_pid/cmdline" | grep -q "nook"
	kill -9 "$nook_pid" "$pid"
	wait || true
	[ -n "$(inns ip -o link show type veth)" ]
	[ -e "$ROOT/@netns/$id" ]
	run --separate-stderr ncli rm -f web
	assert_status 0
	assert_no_network_left "$id"
	state_root_is_empty
	# rm is idempotent for the network: a second teardown finds nothing to do
	run --separate-stderr ncli rm -f web
	assert_status 125
	assert_one_line_error "no container \`web\`"
}

@test "crash: a stray process holds the container's network namespace; rm -f deletes the veth" {
	bg_run "$TEST_DIR/web.out" --name web busybox httpd -f -p 80 -h /etc
	runner=$!
	wait_for_lease web >/dev/null
	id=$(ctr_id web)
	wait_for_file "$ROOT/$id/state.json"
	pid=$(jq -r .pid "$ROOT/$id/state.json")
	nook_pid=$(awk '{print $4}' "/proc/$pid/stat")
	# the namespace outlives its file as long as this process is in it
	nsenter --net="$ROOT/@netns/$id" sleep 60 </dev/null >/dev/null 2>&1 &
	holder=$!
	on_teardown "kill -9 $holder 2>/dev/null || true"
	kill -9 "$nook_pid" "$pid"
	wait "$runner" || true
	run --separate-stderr ncli rm -f web
	assert_status 0
	# no waiting: with the namespace alive the kernel would not remove the pair, so rm did
	[ -z "$(inns ip -o link show type veth)" ]
	[ -e "/proc/$holder" ]
	kill -9 "$holder"
	wait "$holder" 2>/dev/null || true
	assert_no_network_left "$id"
	state_root_is_empty
}

@test "errors: bad -p, unknown network, flags a mode refuses; nothing is made" {
	run --separate-stderr nrun --rm -p 80:x busybox true
	assert_status 125
	assert_one_line_error "publish \`80:x\`: container port \`x\` is not a number from 1 to 65535"
	run --separate-stderr nrun --rm -p 8080:80 -p 8080:81 busybox true
	assert_status 125
	assert_one_line_error "host port 8080/tcp is published twice"
	run --separate-stderr nrun --rm --net nope busybox true
	assert_status 125
	assert_one_line_error "--net \`nope\`: network \`nope\` does not exist"
	run --separate-stderr nrun --rm --net none -p 80:80 busybox true
	assert_status 125
	assert_one_line_error "-p/--publish cannot be used with --net none"
	run --separate-stderr nrun --rm --net host -p 80:80 busybox true
	assert_status 125
	assert_one_line_error "-p/--publish cannot be used with --net host"
	run --separate-stderr nrun --rm --net none --dns 192.0.2.1 busybox true
	assert_status 125
	assert_one_line_error "--dns cannot be used with --net none"
	run --separate-stderr nrun --rm --net container:nope busybox true
	assert_status 125
	assert_one_line_error "--net \`container:nope\`: no container \`nope\`"
	run --separate-stderr nrun --rm --add-host nocolon busybox true
	assert_status 125
	assert_one_line_error "--add-host \`nocolon\`: expected NAME:IP"
	run --separate-stderr nrun --rm --dns 300.1.1.1 busybox true
	assert_status 125
	assert_one_line_error "--dns \`300.1.1.1\`: not an IP address"
	run --separate-stderr nrun --rm --hostname 'bad host' busybox true
	assert_status 125
	assert_one_line_error "--hostname \`bad host\`"
	# a stopped container cannot be joined
	run nrun --name stopped --net none busybox true
	assert_status 0
	run --separate-stderr nrun --rm --net container:stopped busybox true
	assert_status 125
	assert_one_line_error "--net container:" "not running"
	run --separate-stderr nrun --rm --net container:stopped --hostname x busybox true
	assert_status 125
	assert_one_line_error "--hostname cannot be used with --net container:"
	[ "$(ls "$STORAGE/containers" | wc -l)" -eq 1 ]
	[ -z "$(inns ip -o link show type veth)" ]
	[ ! -e "$ROOT/@netns" ]
}
