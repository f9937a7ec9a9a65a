#!/bin/sh
# make-busybox-rootfs.sh DIR: build a minimal root filesystem for container tests in DIR.
#
# DIR gets /bin/busybox (Debian's busybox-static, or $BUSYBOX) with one relative symlink per
# applet from `busybox --list`, /etc/passwd and /etc/group with root and nobody, and empty
# /proc /sys /dev /tmp /root mount points.  Nothing is fetched from the network.
#
# It takes about half a second (one `ln` per applet); callers that need many rootfs build one
# per suite run and copy it with `cp -a`.
set -eu

usage() {
	echo "usage: $0 DIR" >&2
	exit 2
}

[ $# -eq 1 ] || usage
dir=$1
[ -n "$dir" ] || usage

busybox=${BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ]; then
	echo "$0: \`$busybox' not found: install busybox-static" >&2
	exit 1
fi
# A dynamically linked busybox (Debian's `busybox' package) would not run inside the rootfs.
if ldd "$busybox" >/dev/null 2>&1; then
	echo "$0: \`$busybox' is dynamically linked: install busybox-static" >&2
	exit 1
fi

mkdir -p "$dir"
if [ -n "$(ls -A "$dir")" ]; then
	echo "$0: \`$dir' is not empty" >&2
	exit 1
fi

mkdir -p "$dir/bin" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/root"
chmod 1777 "$dir/tmp"
chmod 0700 "$dir/root"
cp "$busybox" "$dir/bin/busybox"
chmod 0755 "$dir/bin/busybox"

# One relative symlink per applet, so the links resolve inside the rootfs only.
for applet in $("$busybox" --list); do
	case $applet in
	busybox | */* | '') continue ;;
	esac
	ln -s busybox "$dir/bin/$applet"
done

cat >"$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$dir/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
EOF
chmod 0644 "$dir/etc/passwd" "$dir/etc/group"
