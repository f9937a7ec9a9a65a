#!/usr/bin/env python3
# make-seccomp-default.py [SECCOMP.JSON] > runtime/seccomp-default.json
#
# Writes nook's default seccomp profile (the one every `nook run` gets unless
# --security-opt seccomp=unconfined) from podman's: /usr/share/containers/seccomp.json of
# Debian's golang-github-containers-common, which is containers/common's pkg/seccomp
# seccomp.json, Copyright 2018 github.com/containers/common authors, Apache License 2.0
# (https://www.apache.org/licenses/LICENSE-2.0).  Run once when that profile changes; the
# output is checked in and compiled into nook (runtime/seccomp-default-data.S).
#
# The profile stays in the containers/docker format: its "includes"/"excludes" of capabilities
# depend on each container's capability set, so nook resolves them when it writes config.json
# (runtime/seccomp-profile.c), as podman does.  This script only drops what nook does not read
# ("comment", and "errno"/"defaultErrno", the names of the numbers in "errnoRet"), empty
# fields, and writes one syscall group per line so that a change of the profile reads well in
# a diff.
import json
import sys

SOURCE = "/usr/share/containers/seccomp.json"
ATTRIBUTION = ("podman's default seccomp profile: containers/common pkg/seccomp/seccomp.json "
               "(Debian golang-github-containers-common {version}), Copyright 2018 "
               "github.com/containers/common authors, Apache License 2.0; made by "
               "runtime/make-seccomp-default.py")


def debian_version():
    try:
        with open("/var/lib/dpkg/status", encoding="utf-8") as f:
            para = f.read().split("\n\n")
    except OSError:
        return "unknown version"
    for p in para:
        if "Package: golang-github-containers-common\n" in p + "\n":
            for line in p.splitlines():
                if line.startswith("Version: "):
                    return line[len("Version: "):]
    return "unknown version"


def clean_filter(f):
    return {k: v for k, v in (f or {}).items() if v not in (None, [], {}, "")}


def clean_syscall(s):
    out = {}
    if s.get("name"):
        out["name"] = s["name"]
    if s.get("names"):
        out["names"] = s["names"]
    out["action"] = s["action"]
    if s.get("errnoRet") is not None:
        out["errnoRet"] = s["errnoRet"]
    if s.get("args"):
        out["args"] = s["args"]
    for key in ("includes", "excludes"):
        f = clean_filter(s.get(key))
        if f:
            out[key] = f
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else SOURCE
    with open(src, encoding="utf-8") as f:
        profile = json.load(f)
    head = {"comment": ATTRIBUTION.format(version=debian_version()),
            "defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        head["defaultErrnoRet"] = profile["defaultErrnoRet"]
    for key in ("architectures", "archMap", "flags"):
        if profile.get(key):
            head[key] = profile[key]
    lines = []
    for key, value in head.items():
        lines.append("  %s: %s" % (json.dumps(key), json.dumps(value)))
    calls = [json.dumps(clean_syscall(s)) for s in profile["syscalls"]]
    lines.append('  "syscalls": [\n    ' + ",\n    ".join(calls) + "\n  ]")
    sys.stdout.write("{\n" + ",\n".join(lines) + "\n}\n")


if __name__ == "__main__":
    main()
