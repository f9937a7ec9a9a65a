#!/bin/sh
# make-default-image.sh OUT: build the image nook embeds, an oci-archive of Debian's static
# busybox named localhost/busybox:latest, so that `nook run busybox ...` works on a machine
# without network.  Reproducible: fixed mtimes, owners and ordering, gzip without a name or
# time stamp, so that the same busybox always gives the same digests.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
out=$1
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

case $(uname -m) in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
armv7l | armv6l) arch=arm ;;
i?86) arch=386 ;;
ppc64le) arch=ppc64le ;;
s390x) arch=s390x ;;
riscv64) arch=riscv64 ;;
*) arch=$(uname -m) ;;
esac

sh "$top/tests/helpers/make-busybox-rootfs.sh" "$tmp/rootfs"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
	--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-C "$tmp/rootfs" -cf "$tmp/layer.tar" .
diff_id=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
gzip -n -9 "$tmp/layer.tar"

mkdir -p "$tmp/oci/blobs/sha256"
blob() { # blob FILE: move FILE into the layout, print "DIGEST SIZE"
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(wc -c <"$1")
	mv "$1" "$tmp/oci/blobs/sha256/$d"
	echo "$d $s"
}
set -- $(blob "$tmp/layer.tar.gz")
layer_digest=$1 layer_size=$2

printf '%s' "{\"architecture\":\"$arch\",\"os\":\"linux\",\"created\":\"1970-01-01T00:00:00Z\",\
\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\
\"Cmd\":[\"sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff_id\"]},\
\"history\":[{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"nook: Debian busybox-static\"}]}" \
	>"$tmp/config.json"
set -- $(blob "$tmp/config.json")
config_digest=$1 config_size=$2

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\
\"digest\":\"sha256:$config_digest\",\"size\":$config_size},\
\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\
\"digest\":\"sha256:$layer_digest\",\"size\":$layer_size}]}" >"$tmp/manifest.json"
set -- $(blob "$tmp/manifest.json")
manifest_digest=$1 manifest_size=$2

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\
\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"digest\":\"sha256:$manifest_digest\",\"size\":$manifest_size,\
\"annotations\":{\"org.opencontainers.image.ref.name\":\"localhost/busybox:latest\"}}]}" \
	>"$tmp/oci/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$tmp/oci/oci-layout"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$tmp/oci" -cf "$out.tmp" \
	oci-layout index.json blobs
mv "$out.tmp" "$out"
