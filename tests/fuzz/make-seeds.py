#!/usr/bin/env python3
"""make-seeds.py DIR: writes the binary seeds of the fuzz targets, one directory per target (the
text seeds are checked in under tests/fuzz/corpus/TARGET/).

DIR/unpack: layers with every entry kind in pax, GNU and ustar tars, whiteouts, replacements,
sparse files (GNU tar, when present; one of 128 MiB, past the targets' file size limit), and the hostile layers the unit tests refuse; one pax
layer also gzip- and zstd-compressed.
DIR/import: image archives as docker save, podman save and skopeo write them (docker-archive
with the old and the new layout, oci-archive), a plain rootfs tarball, and hostile archives
(members named with `..`, symlinks out of the archive, a manifest.json naming what is not
there); one docker-archive also gzip-compressed.
DIR/replay/TARGET: inputs too big for the fuzzer's corpus, replayed only: JSON nested two
million levels deep (state.json once blew the stack in yajl_tree_free), for every JSON target."""
import gzip
import hashlib
import json
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile


def entry(name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644, uid=0, gid=0, pax=None,
          dev=(0, 0)):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.mtime = 1600000000
    info.linkname = link
    info.devmajor, info.devminor = dev
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if pax:
        info.pax_headers = pax
    return info, data


def layer(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.size else None)
    return buf.getvalue()


def unpack_seeds(out):
    os.makedirs(out, exist_ok=True)
    D, S, H = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
    longdir = "d" * 120
    kinds = [
        entry("./", D, mode=0o755),
        entry("dir", D, mode=0o750, uid=1000, gid=1000,
              pax={"SCHILY.xattr.user.dir": "1"}),
        entry("dir/file", data=b"hello\n", mode=0o4755,
              pax={"SCHILY.xattr.user.a": "b", "SCHILY.xattr.trusted.t": "1",
                   "SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}),
        entry("dir/link", S, link="file"),
        entry("dir/abs", S, link="/etc/passwd"),
        entry("dir/hard", H, link="dir/file"),
        entry("dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3)),
        entry("dev/loop", tarfile.BLKTYPE, mode=0o660, dev=(7, 0)),
        entry("run/fifo", tarfile.FIFOTYPE, mode=0o600),
        entry(f"{longdir}/{longdir}/caf\u00e9-long-name", data=b"long"),
        entry("tmp", D, mode=0o1777),
    ]
    seeds = {
        "kinds-pax.tar": layer(kinds),
        "kinds-gnu.tar": layer(kinds, tarfile.GNU_FORMAT),
        "kinds-ustar.tar": layer([e for e in kinds if len(e[0].name) < 100 and not e[0].pax_headers],
                                 tarfile.USTAR_FORMAT),
        "whiteouts.tar": layer([
            entry("a/b", data=b"old"), entry("a/.wh.b"), entry("a/.wh.gone"),
            entry("o/.wh..wh..opq"), entry("o/kept", data=b"k"),
            entry(".wh..wh.plnk", D), entry(".wh..wh.plnk/1.2", data=b"x"),
        ]),
        "replace.tar": layer([
            entry("f", data=b"1"), entry("f", data=b"2"), entry("x", data=b"file"), entry("x", D),
            entry("x/in", data=b"in"), entry("t", D), entry("t/deep/f", data=b"g"),
            entry("t", data=b"now a file"), entry("s", S, link="/etc"), entry("s", data=b"no"),
            entry("h", data=b"h"), entry("h2", H, link="h"), entry("h2", H, link="h"),
        ]),
        "hostile.tar": layer([
            entry("../escape", data=b"x"), entry("/abs/name", data=b"x"),
            entry("ok/../../sentinel/keep", data=b"x"), entry("a", S, link="/etc"),
            entry("a/passwd", data=b"x"), entry("s", S, link="../sentinel"),
            entry("s/keep", data=b"x"), entry("l", H, link="../sentinel/keep"),
            entry("l2", H, link="/etc/passwd"), entry("l3", H, link="s/keep"),
        ]),
        "empty.tar": layer([]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    with open(os.path.join(out, "kinds-pax.tar.gz"), "wb") as f:
        f.write(gzip.compress(seeds["kinds-pax.tar"], 6))
    if shutil.which("zstd"):
        subprocess.run(["zstd", "-q", "-f", os.path.join(out, "kinds-pax.tar"), "-o",
                        os.path.join(out, "kinds-pax.tar.zst")], check=True)
    if shutil.which("tar"):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "sparse"), "wb") as f:
                f.truncate(1 << 20)
                f.seek(1 << 19)
                f.write(b"middle")
            # past the targets' RLIMIT_FSIZE (64 MiB): EFBIG, not SIGXFSZ
            with open(os.path.join(tmp, "huge"), "wb") as f:
                f.truncate(128 << 20)
            for fmt in ("pax", "gnu"):
                subprocess.run(["tar", "-S", f"--format={fmt}", "-C", tmp, "-cf",
                                os.path.join(out, f"sparse-{fmt}.tar"), "sparse"], check=True)
            subprocess.run(["tar", "-S", "--format=gnu", "-C", tmp, "-cf",
                            os.path.join(out, "sparse-huge.tar"), "huge"], check=True)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def blob_entries(blobs):
    return [entry(f"blobs/sha256/{sha(b)}", data=b) for b in blobs]


def image_blobs():
    """A layer, its config and an OCI manifest of them."""
    lay = layer([entry("bin", tarfile.DIRTYPE, mode=0o755), entry("bin/sh", data=b"#!", mode=0o755),
                 entry("etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n")], tarfile.USTAR_FORMAT)
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "User": "root",
                                 "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}},
                                 "Labels": {"a": "b"}},
                      "rootfs": {"type": "layers", "diff_ids": [f"sha256:{sha(lay)}"]}}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": f"sha256:{sha(cfg)}", "size": len(cfg)},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                  "digest": f"sha256:{sha(lay)}", "size": len(lay)}]}).encode()
    return lay, cfg, man


def import_seeds(out):
    os.makedirs(out, exist_ok=True)
    lay, cfg, man = image_blobs()
    L, C, M = sha(lay), sha(cfg), sha(man)
    docker_old = [entry(f"{C}.json", data=cfg), entry(f"{L}/", tarfile.DIRTYPE, mode=0o755),
                  entry(f"{L}/layer.tar", data=lay), entry(f"{L}/VERSION", data=b"1.0"),
                  entry("manifest.json", data=json.dumps(
                      [{"Config": f"{C}.json", "RepoTags": ["fuzz.example/old:1", "busybox"],
                        "Layers": [f"{L}/layer.tar"]}]).encode()),
                  entry("repositories", data=b"{}")]
    docker_new = blob_entries([lay, cfg]) + [
        entry("oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}'),
        entry("manifest.json", data=json.dumps(
            [{"Config": f"blobs/sha256/{C}", "RepoTags": ["fuzz.example/new:2"],
              "Layers": [f"blobs/sha256/{L}"]}]).encode())]
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": f"sha256:{M}",
         "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "fuzz.example/oci:3"},
         "platform": {"os": "linux", "architecture": "amd64"}}]}
    oci = blob_entries([lay, cfg, man]) + [
        entry("oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}'),
        entry("index.json", data=json.dumps(index).encode())]
    hostile = [entry(f"{C}.json", data=cfg), entry(f"{L}/layer.tar", S, link="../../etc/passwd"),
               entry("../escape", data=b"x"),
               entry("manifest.json", data=json.dumps(
                   [{"Config": f"{C}.json", "RepoTags": ["fuzz.example/bad:1"],
                     "Layers": [f"{L}/layer.tar", "../escape", "/etc/passwd", "missing"]}]).encode())]
    seeds = {
        "docker-old.tar": layer(docker_old, tarfile.USTAR_FORMAT),
        "docker-new.tar": layer(docker_new, tarfile.USTAR_FORMAT),
        "oci.tar": layer(oci, tarfile.USTAR_FORMAT),
        "rootfs.tar": lay,
        "hostile.tar": layer(hostile, tarfile.USTAR_FORMAT),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    with open(os.path.join(out, "docker-old.tar.gz"), "wb") as f:
        f.write(gzip.compress(seeds["docker-old.tar"], 6))


S = tarfile.SYMTYPE


def replay_seeds(out):
    deep = b"[" * 2000000 + b"]" * 2000000
    for target in ("spec", "image", "state", "netns", "registry"):
        os.makedirs(os.path.join(out, target), exist_ok=True)
        with open(os.path.join(out, target, "deep.json"), "wb") as f:
            f.write(deep)


def main():
    unpack_seeds(os.path.join(sys.argv[1], "unpack"))
    import_seeds(os.path.join(sys.argv[1], "import"))
    replay_seeds(os.path.join(sys.argv[1], "replay"))


if __name__ == "__main__":
    main()
