#!/usr/bin/env python3
"""make-oci-layout.py OUT [--ref NAME] [--gzip] [--arch ARCH] [--cmd ARG]... [--volume PATH]...
    [--label K=V]... [--user USER] [--workdir DIR] LAYER_DIR...

Builds an OCI image layout in OUT (a new or empty directory) from LAYER_DIRs, lowest first:
each becomes one layer tar (owners 0/0, mtimes kept, sorted names; --gzip compresses them),
then a config (this host's architecture, or ARCH; linux, PATH, Cmd) and a manifest, and
index.json with the annotation org.opencontainers.image.ref.name=NAME when --ref is given.  Whiteouts
are plain files named .wh.NAME / .wh..wh..opq in a layer dir, as in a layer tar.

skopeo makes the other kinds from it: `skopeo copy oci:OUT oci-archive:FILE:NAME`,
`docker-archive:FILE:NAME`.  Nothing is fetched from the network.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import sys
import tarfile

ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
        "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def layer_tar(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(path, arc):
            info = tar.gettarinfo(path, arc)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            if rel != ".":
                add(dirpath, rel)
            for name in sorted(filenames):
                p = os.path.join(dirpath, name)
                add(p, os.path.normpath(os.path.join(rel, name)))
            # symlinks to directories are listed in dirnames but not walked
            for name in list(dirnames):
                p = os.path.join(dirpath, name)
                if os.path.islink(p):
                    add(p, os.path.normpath(os.path.join(rel, name)))
                    dirnames.remove(name)
    return buf.getvalue()


def put_blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("layers", nargs="+")
    ap.add_argument("--ref")
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--cmd", action="append", default=None)
    ap.add_argument("--volume", action="append", default=[])
    ap.add_argument("--label", action="append", default=[])
    ap.add_argument("--user")
    ap.add_argument("--workdir")
    ap.add_argument("--arch", default=ARCH.get(platform.machine(), platform.machine()))
    a = ap.parse_args()

    os.makedirs(os.path.join(a.out, "blobs", "sha256"), exist_ok=True)
    layers, diff_ids = [], []
    for d in a.layers:
        tar = layer_tar(d)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        mt = "application/vnd.oci.image.layer.v1.tar"
        if a.gzip:
            tar = gzip.compress(tar, mtime=0)
            mt += "+gzip"
        layers.append({"mediaType": mt, "digest": put_blob(a.out, tar), "size": len(tar)})
    config = {
        "created": "2024-01-02T03:04:05Z",
        "architecture": a.arch,
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": a.cmd or ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if a.volume:
        config["config"]["Volumes"] = {v: {} for v in a.volume}
    if a.label:
        config["config"]["Labels"] = dict(l.split("=", 1) for l in a.label)
    if a.user:
        config["config"]["User"] = a.user
    if a.workdir:
        config["config"]["WorkingDir"] = a.workdir
    cdata = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": put_blob(a.out, cdata), "size": len(cdata)},
        "layers": layers,
    }
    mdata = json.dumps(manifest).encode()
    desc = {"mediaType": manifest["mediaType"], "digest": put_blob(a.out, mdata), "size": len(mdata)}
    if a.ref:
        desc["annotations"] = {"org.opencontainers.image.ref.name": a.ref}
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": [desc]}, f)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(desc["digest"])


if __name__ == "__main__":
    sys.exit(main())
