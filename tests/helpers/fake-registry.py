#!/usr/bin/env python3
"""fake-registry.py LAYOUT DIR: a registry that misbehaves on purpose, for nook's pull tests.

Serves the images of the OCI layout LAYOUT over the distribution API (any repository name,
tags from the layout's ref.name annotations) on 127.0.0.1, plain HTTP.  Writes its port to
DIR/port once it listens and one line per request to DIR/requests:
    METHOD PATH range=RANGE auth=AUTHORIZATION
How it misbehaves is read from DIR/mode (JSON, re-read on every request, so a test changes it
between pulls without a restart):
    {"auth": "bearer"}      401 + Bearer challenge; the token endpoint /token gives "good"
    {"auth": "basic"}       401 + Basic challenge
    {"corrupt": true}       blobs come with one byte changed
    {"drop_after": N}       a blob answer stops after N bytes and the connection is closed
                            (with "drop_ranges": false, Range requests are served whole)
    {"ignore_range": true}  Range is ignored: 200 and the whole blob
    {"stall": true}         blob answers send their headers, then nothing
    {"slow": true}          blob answers take about a second (ten pieces, 0.1 s apart)
    {"schema1": true}       manifests are Docker schema 1
    {"redirect": true}      blobs redirect to http://localhost:PORT/storage/..., which
                            refuses requests that carry an Authorization header
    {"wrong_manifest": true} a manifest asked for by digest comes back different
    {"big_manifest": true}  manifests come with 5 MiB of spaces in front
    {"extra_bytes": true}   blobs come with 1000 bytes more than their size
It stops on SIGTERM.  Only the standard library is used.
"""
import hashlib
import http.server
import json
import os
import re
import signal
import sys
import time

LAYOUT, DIR = sys.argv[1], sys.argv[2]


def mode():
    try:
        with open(os.path.join(DIR, "mode")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def blob_path(digest):
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        return None
    p = os.path.join(LAYOUT, "blobs", "sha256", digest[7:])
    return p if os.path.exists(p) else None


def tags():
    with open(os.path.join(LAYOUT, "index.json")) as f:
        index = json.load(f)
    return {d.get("annotations", {}).get("org.opencontainers.image.ref.name"): d
            for d in index["manifests"]}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body=b"", ctype="application/json", headers=None, length=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message, headers=None):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self.send(status, body, headers=headers)

    def do_GET(self):
        m = mode()
        with open(os.path.join(DIR, "requests"), "a") as f:
            f.write("%s %s range=%s auth=%s\n" % (self.command, self.path,
                                                   self.headers.get("Range", "-"),
                                                   self.headers.get("Authorization", "-")))
        path = self.path.split("?")[0]
        if path == "/token":
            q = dict(p.split("=", 1) for p in self.path.split("?", 1)[1].split("&"))
            if q.get("service") != "fake" or not q.get("scope", "").startswith("repository%3A"):
                return self.error(400, "DENIED", "bad token request")
            return self.send(200, json.dumps({"access_token": "good", "expires_in": 300}).encode())
        if path.startswith("/storage/"):
            if self.headers.get("Authorization"):
                return self.error(400, "DENIED", "authorization sent to the storage host")
            return self.blob(path[len("/storage/"):], m)
        if not path.startswith("/v2/"):
            return self.error(404, "NOT_FOUND", "not found")
        if m.get("auth") == "bearer" and self.headers.get("Authorization") != "Bearer good":
            realm = "http://127.0.0.1:%d/token" % self.server.server_port
            repo = path[4:].rsplit("/", 2)[0]
            chal = 'Bearer realm="%s",service="fake",scope="repository:%s:pull"' % (realm, repo)
            return self.error(401, "UNAUTHORIZED", "authentication required",
                              {"WWW-Authenticate": chal})
        if m.get("auth") == "basic" and not self.headers.get("Authorization"):
            return self.error(401, "UNAUTHORIZED", "authentication required",
                              {"WWW-Authenticate": 'Basic realm="fake"'})
        if path == "/v2/":
            return self.send(200, b"{}")
        mm = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", path)
        if not mm:
            return self.error(404, "NOT_FOUND", "not found")
        if mm.group(2) == "manifests":
            return self.manifest(mm.group(3), m)
        if m.get("redirect"):
            loc = "http://localhost:%d/storage/%s" % (self.server.server_port, mm.group(3))
            return self.send(307, b"", headers={"Location": loc})
        return self.blob(mm.group(3), m)

    do_HEAD = do_GET

    def manifest(self, ref, m):
        if m.get("schema1"):
            body = json.dumps({"schemaVersion": 1, "name": "x", "tag": ref, "fsLayers": []}).encode()
            return self.send(200, body, "application/vnd.docker.distribution.manifest.v1+prettyjws")
        desc = tags().get(ref)
        digest = desc["digest"] if desc else ref
        p = blob_path(digest)
        if not p:
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        with open(p, "rb") as f:
            body = f.read()
        if m.get("wrong_manifest") and ref.startswith("sha256:"):
            body = body.replace(b"{", b"{ ", 1)
        if m.get("big_manifest"):
            body = b" " * (5 << 20) + body
        ctype = json.loads(body).get("mediaType", "application/json")
        self.send(200, body, ctype, {"Docker-Content-Digest": "sha256:" + hashlib.sha256(body).hexdigest()})

    def blob(self, digest, m):
        p = blob_path(digest)
        if not p:
            return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        with open(p, "rb") as f:
            data = f.read()
        if m.get("corrupt") and data:
            data = bytes([data[0] ^ 1]) + data[1:]
        if m.get("extra_bytes"):
            data += b"x" * 1000
        start, status, headers = 0, 200, {}
        rng = self.headers.get("Range")
        if rng and not m.get("ignore_range"):
            start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
            if start >= len(data):
                return self.error(416, "RANGE", "range not satisfiable")
            status = 206
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
        body = data[start:]
        drop = m.get("drop_after")
        if m.get("stall") or (drop is not None and (not rng or m.get("drop_ranges", True))):
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if m.get("stall"):
                time.sleep(3600)
            self.wfile.write(body[:drop])
            self.wfile.flush()
            self.close_connection = True
            return
        if m.get("slow"):
            self.send(status, b"", "application/octet-stream",
                      headers, length=len(body))
            step = max(1, len(body) // 10)
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(0.1)
            return
        self.send(status, body, "application/octet-stream", headers)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    tmp = os.path.join(DIR, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_port)
    os.rename(tmp, os.path.join(DIR, "port"))
    server.serve_forever()


if __name__ == "__main__":
    main()
