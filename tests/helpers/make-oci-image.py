#!/usr/bin/env python3
"""make-oci-image.py LAYOUT ROOTFS [--tag TAG] [--other-arch ARCH]: write an OCI image layout.

LAYOUT gets one image whose single gzip layer is the directory ROOTFS (owner root, files in
sorted order), for linux and this host's architecture, named TAG (default "latest") in
index.json.  With --other-arch, TAG names an image index of two images instead: this one, and
one for linux/ARCH whose layer holds only /arch (containing ARCH), so that a client picking the
wrong platform is seen.  skopeo copies the layout to a registry (oci:LAYOUT:TAG, --all for the
index).  Nothing is fetched from the network.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import tarfile

ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
          "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def put_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + digest


def tar_dir(rootfs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for top, dirs, files in os.walk(rootfs):
            dirs.sort()
            for name in sorted(dirs + files):
                path = os.path.join(top, name)
                info = tar.gettarinfo(path, os.path.relpath(path, rootfs))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def tar_file(name, content):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def image(layout, arch, layer_tar):
    """Writes layer, config and manifest blobs; returns the manifest's descriptor."""
    layer_gz = gzip.compress(layer_tar, mtime=0)
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
             "digest": put_blob(layout, layer_gz), "size": len(layer_gz)}
    config = json.dumps({
        "architecture": arch, "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": put_blob(layout, config), "size": len(config)},
        "layers": [layer],
    }).encode()
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": put_blob(layout, manifest), "size": len(manifest),
            "platform": {"os": "linux", "architecture": arch}}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("layout")
    p.add_argument("rootfs")
    p.add_argument("--tag", default="latest")
    p.add_argument("--other-arch")
    a = p.parse_args()

    os.makedirs(os.path.join(a.layout, "blobs", "sha256"), exist_ok=True)
    host = ARCHES.get(platform.machine(), platform.machine())
    top = image(a.layout, host, tar_dir(a.rootfs))
    if a.other_arch:
        other = image(a.layout, a.other_arch, tar_file("arch", a.other_arch.encode() + b"\n"))
        index = json.dumps({"schemaVersion": 2,
                            "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": [other, top]}).encode()
        top = {"mediaType": "application/vnd.oci.image.index.v1+json",
               "digest": put_blob(a.layout, index), "size": len(index)}
    top = dict(top, annotations={"org.opencontainers.image.ref.name": a.tag})
    with open(os.path.join(a.layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(a.layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)
    print(top["digest"])


if __name__ == "__main__":
    main()
