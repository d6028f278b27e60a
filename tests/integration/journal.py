#!/usr/bin/env python3
"""journal.py OUT DIR CMD...: stand in for journald's stream socket.

Runs CMD with its stderr on one end of a unix stream socket and
JOURNAL_STREAM naming that end by device and inode, as systemd does for
StandardError=journal, and LOG_FILE=/dev/stderr so that start.sh leaves
every process on it. Copies what arrives on the other end to OUT until
every holder has closed it (the stack stopped). While DIR/pause exists
nothing is read: a stalled journal. CMD's exit status goes to
DIR/started once it exits. The writers' send buffer is kept small so
that a stall fills it after a few dozen lines. Gives up after LIMIT_S
whatever happens, so that a test that failed leaves nothing running.
"""
import os
import select
import socket
import subprocess
import sys
import time

LIMIT_S = 300


def main():
    out_path, run_dir, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    st = os.fstat(theirs.fileno())
    env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}",
               LOG_FILE="/dev/stderr")
    with open(os.path.join(run_dir, "start.out"), "wb") as start_out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                stdout=start_out, stderr=theirs.fileno(),
                                env=env)
    theirs.close()
    started = False
    pause = os.path.join(run_dir, "pause")
    deadline = time.monotonic() + LIMIT_S
    with open(out_path, "ab", buffering=0) as out:
        while time.monotonic() < deadline:
            if not started and proc.poll() is not None:
                with open(os.path.join(run_dir, "started"), "w") as f:
                    f.write(f"{proc.returncode}\n")
                started = True
            if os.path.exists(pause):
                select.select([], [], [], 0.05)
                continue
            ready, _, _ = select.select([ours], [], [], 0.05)
            if not ready:
                continue
            data = ours.recv(65536)
            if not data:
                break
            out.write(data)
    if not started:
        proc.wait()
        with open(os.path.join(run_dir, "started"), "w") as f:
            f.write(f"{proc.returncode}\n")


if __name__ == "__main__":
    main()
