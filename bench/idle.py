#!/usr/bin/env python3
"""Idle keep-alive connections a server holds, and its memory while it holds them.

Usage: idle.py HOST:PORT PIDS N

Opens N connections to HOST:PORT (in batches of 500: connect, send one `GET /v2/` with
keep-alive, read its whole answer), keeps every one open without sending more, then reads
VmRSS and VmHWM of PIDS (comma-separated; nginx: master and worker, summed) and the
descriptors the first of them holds, checks that all N connections are still open (a
non-blocking peek finds no end of stream) and that a new connection still gets 200 on
`GET /v2/`, and closes everything. Prints one JSON line: asked, opened (connections that got a
200 and stayed open), answered (200s), closed_by_server, rss_before_kib (before the first
connection), rss_kib, hwm_kib (sums over PIDS), fds (the most held by one of PIDS),
new_client_status, seconds (to open them all), error (the first failure, if any). Raises its
own soft descriptor limit to the hard one. Only the standard library; every loop is bounded and every socket has
a timeout.
"""
import json
import os
import resource
import socket
import sys
import time

BATCH = 500
TIMEOUT = 10.0


def status_of(pids, key):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def fds_of(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def read_answer(sock):
    """Reads one answer to GET /v2/ (head and Content-Length body); returns its status."""
    data = b""
    for _ in range(64):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before a whole answer")
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if len(body) >= length:
                return int(head.split(b" ", 2)[1])
    raise ConnectionError("answer too long")


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    pids = [int(p) for p in sys.argv[2].split(",") if p]
    n = int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    request = f"GET /v2/ HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    rss_before = status_of(pids, "VmRSS")
    socks, answered, error = [], 0, None
    t0 = time.monotonic()
    while len(socks) < n and error is None:
        batch = []
        try:
            for _ in range(min(BATCH, n - len(socks))):
                s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
                batch.append(s)
                s.sendall(request)
            for s in batch:
                if read_answer(s) == 200:
                    answered += 1
        except OSError as e:
            error = f"after {len(socks) + len(batch)} connections: {e!r}"
        socks += batch
    seconds = time.monotonic() - t0
    time.sleep(0.5)  # let the server settle (its access log drained)
    rss, hwm = status_of(pids, "VmRSS"), status_of(pids, "VmHWM")
    fds = max([fds_of(pid) for pid in pids] or [0])
    closed = 0
    for s in socks:
        s.setblocking(False)  # a socket with a timeout would wait in poll() first
        try:
            if s.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    new_status = 0
    try:
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as s:
            s.sendall(request)
            new_status = read_answer(s)
    except OSError as e:
        error = error or f"new client: {e!r}"
    for s in socks:
        s.close()
    print(json.dumps({
        "asked": n, "opened": len(socks) - closed, "answered": answered,
        "closed_by_server": closed, "rss_before_kib": rss_before, "rss_kib": rss, "hwm_kib": hwm, "fds": fds,
        "new_client_status": new_status, "seconds": round(seconds, 3), "error": error,
    }))
    return 0 if error is None and closed == 0 and new_status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
