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

from fcgi_echo import pairs, record as read_record, send


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
        p = pairs(params)
        obj = {"method": p.get("REQUEST_METHOD"), "path": p.get("REQUEST_URI"),
               "body_len": len(stdin), "params": p}
        record(self.server.log, obj)
        out = json.dumps(obj).encode()
        resp = b"Status: 200 OK\r\nContent-Type: application/json\r\n\r\n" + out
        send(conn, 6, rid, resp)          # FCGI_STDOUT, then its end
        send(conn, 6, rid, b"")
        send(conn, 3, rid, struct.pack("!IB3x", 0, 0))   # FCGI_END_REQUEST


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
