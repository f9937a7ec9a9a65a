#!/usr/bin/env python3
"""recvtty.py SOCKET OUTPUT [--input TEXT] [--timeout SECONDS]

A minimal --console-socket receiver for tests (socat cannot receive SCM_RIGHTS): listen on the
unix socket SOCKET, accept one connection, receive the pty master the runtime sends, optionally
write TEXT to it, and copy everything read from it to the file OUTPUT until the pty closes (all
slave ends gone) or the timeout passes.  Exits 0 when a master was received, 1 otherwise.
"""
import argparse
import os
import select
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("socket")
    p.add_argument("output")
    p.add_argument("--input", default=None)
    p.add_argument("--timeout", type=float, default=60.0)
    a = p.parse_args()

    deadline = time.monotonic() + a.timeout
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.socket)
    srv.listen(1)
    srv.settimeout(a.timeout)
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        print("recvtty: no connection", file=sys.stderr)
        return 1
    conn.settimeout(max(1.0, deadline - time.monotonic()))
    try:
        _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 4)
    except (OSError, socket.timeout) as e:
        print("recvtty: receiving the fd: %s" % e, file=sys.stderr)
        return 1
    conn.close()
    srv.close()
    if not fds:
        print("recvtty: no fd received", file=sys.stderr)
        return 1
    master = fds[0]
    for fd in fds[1:]:
        os.close(fd)

    if a.input is not None:
        os.write(master, a.input.encode())

    with open(a.output, "ab", buffering=0) as out:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                print("recvtty: timeout", file=sys.stderr)
                break
            r, _, _ = select.select([master], [], [], min(left, 1.0))
            if not r:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every slave end is closed
                break
            if not data:
                break
            out.write(data)
    os.close(master)
    return 0


if __name__ == "__main__":
    sys.exit(main())
