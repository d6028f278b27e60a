#!/usr/bin/env python3
"""gateway_echo.py http PORT LOG | fcgi SOCKET LOG: the protected service of
tests/integration/gateway.bats. Answers every request with 200 and a JSON
object of what it got (method, path, body length, and the request headers
or the FastCGI parameters), and appends the same object as one line to
LOG: a request the front refused must leave no line there. Stdlib only."""
import http.server
import json
import os
import socket
import socketserver
import struct
import sys


def record(log, obj):
    with open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps(obj) + "\n")


class Http(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        obj = {"method": self.command, "path": self.path, "body_len": len(body),
               "headers": [[k, v] for k, v in self.headers.items()]}
        record(self.server.log, obj)
        out = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = answer

    def log_message(self, *args):
        pass


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_record(conn):
    _, rtype, rid, clen, plen, _ = struct.unpack("!BBHHBB", read_exact(conn, 8))
    content = read_exact(conn, clen)
    read_exact(conn, plen)
    return rtype, rid, content


def parse_params(data):
    params, i = {}, 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] & 0x80:
                lens.append(struct.unpack("!I", data[i:i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        k = data[i:i + lens[0]].decode("latin-1")
        i += lens[0]
        params[k] = data[i:i + lens[1]].decode("latin-1")
        i += lens[1]
    return params


def fcgi_record(rtype, rid, content):
    return struct.pack("!BBHHBB", 1, rtype, rid, len(content), 0, 0) + content


class Fcgi(socketserver.BaseRequestHandler):
    """One FastCGI responder request per connection (lighttpd's way)."""

    def handle(self):
        conn, params, stdin, rid = self.request, b"", b"", 1
        try:
            while True:
                rtype, rid, content = read_record(conn)
                if rtype == 4:        # FCGI_PARAMS
                    params += content
                elif rtype == 5:      # FCGI_STDIN; empty: the end
                    if not content:
                        break
                    stdin += content
        except EOFError:
            return
        p = parse_params(params)
        obj = {"method": p.get("REQUEST_METHOD"), "path": p.get("REQUEST_URI"),
               "body_len": len(stdin), "params": p}
        record(self.server.log, obj)
        out = json.dumps(obj).encode()
        resp = b"Status: 200 OK\r\nContent-Type: application/json\r\n\r\n" + out
        conn.sendall(fcgi_record(6, rid, resp) + fcgi_record(6, rid, b"") +
                     fcgi_record(3, rid, struct.pack("!IB3x", 0, 0)))


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class TcpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    kind, where, log = sys.argv[1:4]
    if kind == "http":
        srv = TcpServer(("127.0.0.1", int(where)), Http)
    else:
        if os.path.exists(where):
            os.unlink(where)
        srv = UnixServer(where, Fcgi)
    srv.log = log
    open(log, "a", encoding="utf-8").close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
