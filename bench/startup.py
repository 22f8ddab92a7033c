#!/usr/bin/env python3
"""Start-up time of a server: from exec to the first 200 answer to GET /v2/.

Usage: startup.py PORT COMMAND ARGS...

Starts COMMAND (in its own process group), polls http://127.0.0.1:PORT/v2/ (a fresh
connection every 0.5 ms while the port refuses), and as soon as the answer is 200 reads the peak
RSS (VmHWM) of the process and of its children, then stops the group (SIGTERM, SIGKILL after
5 s). Prints one JSON line: {"seconds": exec to first 200, "hwm_kib": the largest VmHWM of the
process or one of its children}. Exits 1 if the command exits first or nothing answers within
120 s. Only the Python standard library.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time


def hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return out


def status(port):
    """The status code of GET /v2/, or None while nothing accepts."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n" not in data:
                got = s.recv(4096)
                if not got:
                    break
                data += got
            parts = data.split(b" ", 2)
            return int(parts[1]) if len(parts) > 1 else 0
    except (ConnectionRefusedError, ConnectionResetError):
        return None


def main():
    port, command = int(sys.argv[1]), sys.argv[2:]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    seconds = None
    try:
        while time.monotonic() - started < 120:
            if process.poll() is not None:
                break
            code = status(port)
            if code == 200:
                seconds = time.monotonic() - started
                break
            time.sleep(0.0005)
        peak = max([hwm_kib(process.pid)] + [hwm_kib(c) for c in children(process.pid)])
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if seconds is None:
        print(json.dumps({"error": f"no 200 on /v2/ (exit status {process.returncode})"}))
        sys.exit(1)
    print(json.dumps({"seconds": round(seconds, 4), "hwm_kib": peak}))


if __name__ == "__main__":
    main()
