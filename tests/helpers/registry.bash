# shellcheck shell=bash
# Local registries for the pull tests, on 127.0.0.1 only: Debian's docker-registry (the
# reference implementation, distribution 2.8) and tests/helpers/fake-registry.py (one that
# misbehaves on purpose).  Both run in the background with every fd of bats closed, so that
# bats never waits on them; the caller stops them with registry_stop.  docker-registry takes
# every REGISTRY_* environment variable as a setting: no variable here starts with that.

# free_port: print a TCP port that nothing listens on right now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_listen PORT [SECONDS]: poll until something listens on 127.0.0.1:PORT.
wait_listen() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		if (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

# make_cert DIR: a self-signed certificate for 127.0.0.1 in DIR/cert.pem, its key in
# DIR/key.pem.
make_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# registry_start DIR [DATA [CERTDIR]]: start docker-registry with its config and log in DIR,
# its storage in DATA (default DIR/data; two registries may serve one), TLS with the
# certificate of make_cert CERTDIR when given.  Sets REGISTRY (127.0.0.1:PORT), REG_PID
# and REG_LOG (access log lines included).
registry_start() {
	local dir=$1 data=${2:-$1/data} certs=${3:-} port try tls=
	mkdir -p "$dir" "$data"
	REG_LOG=$dir/log
	if [ -n "$certs" ]; then
		tls=$(printf '  tls:\n    certificate: %s\n    key: %s' "$certs/cert.pem" "$certs/key.pem")
	fi
	for try in 1 2 3; do
		port=$(free_port) || return 1
		cat >"$dir/config.yml" <<-EOF
			version: 0.1
			log:
			  level: info
			storage:
			  filesystem:
			    rootdirectory: $data
			http:
			  addr: 127.0.0.1:$port
			$tls
		EOF
		docker-registry serve "$dir/config.yml" >"$REG_LOG" 2>&1 </dev/null 3>&- &
		REG_PID=$!
		REGISTRY=127.0.0.1:$port
		if wait_listen "$port" 10 && kill -0 "$REG_PID" 2>/dev/null; then
			return 0
		fi
		# Lost the port to someone else between free_port and the bind: again.
		kill "$REG_PID" 2>/dev/null || true
		wait "$REG_PID" 2>/dev/null || true
	done
	cat "$REG_LOG" >&2
	return 1
}

# fake_registry_start LAYOUT DIR: start fake-registry.py serving LAYOUT, its port file, mode
# and request log in DIR; sets FAKE (127.0.0.1:PORT) and FAKE_PID.
fake_registry_start() {
	local layout=$1 dir=$2 i
	mkdir -p "$dir"
	echo '{}' >"$dir/mode"
	: >"$dir/requests"
	python3 "$NOOK_SRCDIR/tests/helpers/fake-registry.py" "$layout" "$dir" \
		>"$dir/log" 2>&1 </dev/null 3>&- &
	FAKE_PID=$!
	for ((i = 0; i < 200; i++)); do
		[ -s "$dir/port" ] && break
		sleep 0.05
	done
	[ -s "$dir/port" ] || { cat "$dir/log" >&2; return 1; }
	FAKE=127.0.0.1:$(cat "$dir/port")
}

# registry_stop PID: stop a registry started above (SIGTERM, then SIGKILL after 5 s).
registry_stop() {
	local i
	[ -n "${1:-}" ] || return 0
	kill "$1" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || break
		# A zombie waits for its parent, which may not be this shell.
		[ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ] || break
		sleep 0.05
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
