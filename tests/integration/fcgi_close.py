#!/usr/bin/env python3
"""One FastCGI request straight to an endpoint's unix socket, then report
how the worker ended the connection.

usage: fcgi_close.py SOCKET METHOD URI [CONTENT_LENGTH [BODY]]

Sends the parameters and BODY; the empty record that ends stdin is sent
only when BODY is exactly CONTENT_LENGTH bytes long. Reads the reply up
to the end-of-request record and then to end of stream, and tries one
more write: "closed" when the worker has closed its end (the write
fails), "open" when it only shut down its write side and is still
reading (libfcgi's lingering close). Prints "status=NNN after=closed|open".
"""
import socket
import sys

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def record(kind, content=b""):
    n = len(content)
    pad = -n % 8
    return bytes([1, kind, 0, 1, n >> 8, n & 0xFF, pad, 0]) + content + bytes(pad)


def pair(name, value):
    n, v = name.encode(), value.encode()
    return bytes([len(n), len(v)]) + n + v


def main():
    path, method, uri = sys.argv[1:4]
    length = sys.argv[4] if len(sys.argv) > 4 else None
    body = sys.argv[5].encode() if len(sys.argv) > 5 else b""
    params = pair("REQUEST_METHOD", method) + pair("REQUEST_URI", uri) + \
        pair("SCRIPT_NAME", uri) + pair("REMOTE_ADDR", "127.0.0.1")
    if length is not None:
        params += pair("CONTENT_LENGTH", length) + \
            pair("CONTENT_TYPE", "application/json")
    out = record(BEGIN, bytes([0, 1, 0, 0, 0, 0, 0, 0])) + \
        record(PARAMS, params) + record(PARAMS)
    if body:
        out += record(STDIN, body)
    if length is None or len(body) == int(length):
        out += record(STDIN)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(out)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    stdout, i = b"", 0
    while i + 8 <= len(data):
        kind, n, pad = data[i + 1], (data[i + 4] << 8) | data[i + 5], data[i + 6]
        if kind == STDOUT:
            stdout += data[i + 8:i + 8 + n]
        i += 8 + n + pad
    status = stdout.split(b"\r\n", 1)[0].split(b" ")[1].decode()
    try:
        s.sendall(record(STDIN, b"x" * 100))
        after = "open"
    except (BrokenPipeError, ConnectionResetError):
        after = "closed"
    s.close()
    print(f"status={status} after={after}")


if __name__ == "__main__":
    main()
