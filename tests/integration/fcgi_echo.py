#!/usr/bin/env python3
"""A FastCGI responder that answers every request with what it was given.

usage: fcgi_echo.py SOCKET

Listens on the unix socket SOCKET (mode 0600) and answers each request
200 with a JSON object: "params" (every FastCGI parameter) and "stdin"
(the number of body bytes it received). For testing a front's routes to
programs that are not built here (python3 stdlib only). Its FastCGI
record helpers (record, pairs, send) serve gateway_echo.py too.
"""
import json
import os
import socket
import struct
import sys

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        d = conn.recv(n - len(buf))
        if not d:
            raise EOFError
        buf += d
    return buf


def record(conn):
    _, rtype, rid, clen, plen, _ = struct.unpack(">BBHHBB", read_exact(conn, 8))
    data = read_exact(conn, clen)
    read_exact(conn, plen)
    return rtype, rid, data


def pairs(data):
    out, i = {}, 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] & 0x80:
                lens.append(struct.unpack(">I", data[i:i + 4])[0] & 0x7fffffff)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        k = data[i:i + lens[0]].decode("latin1")
        i += lens[0]
        out[k] = data[i:i + lens[1]].decode("latin1")
        i += lens[1]
    return out


def send(conn, rtype, rid, data):
    for off in range(0, max(len(data), 1), 65535):
        chunk = data[off:off + 65535]
        conn.sendall(struct.pack(">BBHHBB", 1, rtype, rid, len(chunk), 0, 0) + chunk)


def serve(conn):
    params, raw, stdin, rid = {}, b"", 0, 0
    while True:
        rtype, rid, data = record(conn)
        if rtype == PARAMS:
            raw += data
        elif rtype == STDIN:
            if not data:
                break
            stdin += len(data)
    params = pairs(raw)
    body = json.dumps({"params": params, "stdin": stdin}).encode()
    send(conn, STDOUT, rid, b"Status: 200 OK\r\nContent-Type: application/json\r\n"
         b"Content-Length: %d\r\n\r\n" % len(body) + body)
    send(conn, STDOUT, rid, b"")
    send(conn, END, rid, b"\0" * 8)


def main():
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    s.bind(path)
    os.umask(old)
    s.listen(16)
    while True:
        conn, _ = s.accept()
        try:
            serve(conn)
        except (EOFError, OSError):
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
