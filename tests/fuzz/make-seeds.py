#!/usr/bin/env python3
"""make-seeds.py DIR: writes the seed layers of the unpack fuzz target into DIR: every entry kind
in pax, GNU and ustar tars, whiteouts, replacements, sparse files (GNU tar, when present), and
the hostile layers the unit tests refuse; one pax layer also gzip- and zstd-compressed."""
import gzip
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


def main():
    out = sys.argv[1]
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
            for fmt in ("pax", "gnu"):
                subprocess.run(["tar", "-S", f"--format={fmt}", "-C", tmp, "-cf",
                                os.path.join(out, f"sparse-{fmt}.tar"), "sparse"], check=True)


if __name__ == "__main__":
    main()
