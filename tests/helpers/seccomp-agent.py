#!/usr/bin/env python3
"""A seccomp notify agent for the integration tests (runtime-spec linux.seccomp.listenerPath).

seccomp-agent.py SOCKET OUT [--timeout S]: listens on SOCKET, accepts one runtime connection,
receives the containerProcessState JSON with the notify fd (SCM_RIGHTS), writes the JSON to
OUT, then answers every notification with a faked success (return value 0, the syscall is not
run) and appends "notified NR" to OUT.notify, until the container's filter goes away.
"""
import argparse
import fcntl
import os
import select
import socket
import struct
import sys

# struct seccomp_notif is 80 bytes, struct seccomp_notif_resp 24 (linux/seccomp.h).
NOTIF_SIZE = 80
RESP_FMT = "=QqiI"
IOCTL_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif)
IOCTL_SEND = 0xC0182101  # _IOWR('!', 1, struct seccomp_notif_resp)


def serve(fd, out, deadline):
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        events = poller.poll(deadline * 1000)
        if not events:
            return
        _, ev = events[0]
        if ev & (select.POLLHUP | select.POLLERR):
            return
        buf = bytearray(NOTIF_SIZE)
        try:
            fcntl.ioctl(fd, IOCTL_RECV, buf)
        except OSError:
            continue  # the notifying task went away
        notif_id, _pid, _flags, nr = struct.unpack_from("=QIIi", buf)
        with open(out + ".notify", "a") as f:
            f.write("notified %d\n" % nr)
        try:
            fcntl.ioctl(fd, IOCTL_SEND, bytearray(struct.pack(RESP_FMT, notif_id, 0, 0, 0)))
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("out")
    ap.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()

    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.socket)
    srv.listen(1)
    srv.settimeout(args.timeout)
    conn, _ = srv.accept()
    conn.settimeout(args.timeout)
    msg, fds, _, _ = socket.recv_fds(conn, 65536, 4)
    data = msg
    while True:  # the JSON may span reads on a stream socket
        try:
            more = conn.recv(65536)
        except socket.timeout:
            break
        if not more:
            break
        data += more
    conn.close()
    with open(args.out + ".tmp", "wb") as f:
        f.write(data)
    os.rename(args.out + ".tmp", args.out)
    if not fds:
        sys.exit("no fd received")
    serve(fds[0], args.out, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
