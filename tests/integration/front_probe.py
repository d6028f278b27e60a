#!/usr/bin/env python3
"""Raw HTTP requests to a front, answers printed so two fronts compare.

usage: front_probe.py PORT [CASE...]

Each case is sent as bytes on a new connection to 127.0.0.1:PORT; the
answer is read to its end (Content-Length, else the connection's close)
and printed as: "=== case", the status code, the headers sorted (Date
left out, X-Request-Id's value masked), then the body. What differs
between fronts only in form is normalized: the protocol version and the
reason phrase of the status line (nginx says HTTP/1.1 and its own words),
and "Connection: keep-alive" (HTTP/1.1's default, which nginx spells out
and lighttpd leaves implicit).
"""
import re
import socket
import sys

PORT = int(sys.argv[1])
BODY = '{"email":"probe@example.com","password":"wrongpass1"}'
C = "Host: x\r\nConnection: close\r\n"


def req(line, headers="", body=""):
    return (line + "\r\n" + C + headers + "\r\n" + body).encode()


def chunks(data, size):
    out = "".join("%x\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size])
                  for i in range(0, len(data), size))
    return out + "0\r\n\r\n"


JSON = "Content-Type: application/json\r\n"
CASES = {
    "get-healthz": req("GET /healthz HTTP/1.1"),
    "get-healthz-query": req("GET /healthz?x=1 HTTP/1.1"),
    "get-healthz-range": req("GET /healthz HTTP/1.1", "Range: bytes=0-3\r\n"),
    "head-healthz": req("HEAD /healthz HTTP/1.1"),
    "head-me": req("HEAD /auth/me HTTP/1.1"),
    "head-outside": req("HEAD /nope HTTP/1.1"),
    "get-outside": req("GET /nope HTTP/1.1"),
    "get-errors-file": req("GET /errors/status-404.html HTTP/1.1"),
    "get-me-no-token": req("GET /auth/me HTTP/1.1"),
    "get-me-bad-token": req("GET /auth/me HTTP/1.1", "Authorization: Bearer x.y.z\r\n"),
    "get-with-body": req("GET /auth/me HTTP/1.1", "Content-Length: 2\r\n", "{}"),
    "get-with-length-0": req("GET /auth/me HTTP/1.1", "Content-Length: 0\r\n"),
    "get-chunked": req("GET /auth/me HTTP/1.1", "Transfer-Encoding: chunked\r\n", chunks("{}", 2)),
    "head-with-body": req("HEAD /healthz HTTP/1.1", "Content-Length: 5\r\n"),
    "post-login": req("POST /auth/login HTTP/1.1",
                      JSON + "Content-Length: %d\r\n" % len(BODY), BODY),
    "post-no-length": req("POST /auth/login HTTP/1.1"),
    "post-no-length-outside": req("POST /nope HTTP/1.1"),
    "post-no-length-http10": b"POST /auth/login HTTP/1.0\r\n\r\n",
    "post-length-0": req("POST /auth/login HTTP/1.1", "Content-Length: 0\r\n"),
    "post-length-bad": req("POST /auth/login HTTP/1.1", "Content-Length: abc\r\n"),
    "post-length-twice": req("POST /auth/login HTTP/1.1",
                             "Content-Length: 2\r\nContent-Length: 3\r\n", "{}"),
    "post-over-front-limit": req("POST /auth/login HTTP/1.1",
                                 JSON + "Content-Length: 2000000\r\n"),
    "post-over-front-limit-outside": req("POST /nope HTTP/1.1", "Content-Length: 2000000\r\n"),
    "post-over-endpoint-limit": req("POST /auth/login HTTP/1.1",
                                    JSON + "Content-Length: 100000\r\n", "a" * 100000),
    "post-chunked": req("POST /auth/login HTTP/1.1",
                        JSON + "Transfer-Encoding: chunked\r\n", chunks(BODY, 7)),
    "post-chunked-over-front-limit": req("POST /auth/login HTTP/1.1",
                                         "Transfer-Encoding: chunked\r\n",
                                         chunks("a" * 1100000, 60000)),
    "post-transfer-encoding-gzip": req("POST /auth/login HTTP/1.1", "Transfer-Encoding: gzip\r\n"),
    "post-chunked-and-length": req("POST /auth/login HTTP/1.1",
                                   "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                                   "0\r\n\r\n"),
    "put-healthz": req("PUT /healthz HTTP/1.1", "Content-Length: 0\r\n"),
    "put-no-length": req("PUT /healthz HTTP/1.1"),
    "patch-outside": req("PATCH /nope HTTP/1.1"),
    "delete-login": req("DELETE /auth/login HTTP/1.1"),
    "delete-session": req("DELETE /auth/sessions/abc HTTP/1.1"),
    "delete-session-encoded-slash": req("DELETE /auth/sessions%2fabc HTTP/1.1"),
    "propfind-healthz": req("PROPFIND /healthz HTTP/1.1"),
    "unknown-method": req("FOO /healthz HTTP/1.1"),
    "unknown-method-outside": req("FOO /nope HTTP/1.1"),
    "http2-preface-method": req("PRI /healthz HTTP/1.1"),
    "header-12k": req("GET /healthz HTTP/1.1", "X-Big: %s\r\n" % ("c" * 12000)),
    "header-20k": req("GET /healthz HTTP/1.1", "X-Big: %s\r\n" % ("c" * 20000)),
    "headers-24k-in-6": req("GET /healthz HTTP/1.1",
                            "".join("X-H%d: %s\r\n" % (i, "b" * 4000) for i in range(6))),
    "uri-9k": req("GET /healthz?%s HTTP/1.1" % ("q" * 9000)),
    "uri-20k": req("GET /healthz?%s HTTP/1.1" % ("q" * 20000)),
    "version-2.0": b"GET /healthz HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n",
    "version-1.2": b"GET /healthz HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n",
    "version-1.0": b"GET /healthz HTTP/1.0\r\n\r\n",
    "no-host-1.1": b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
    "garbage": b"BLAH\r\n\r\n",
    "nul-in-header": req("GET /healthz HTTP/1.1", "X-A: a\0b\r\n"),
    "double-slash": req("GET //healthz HTTP/1.1"),
    "dot-segment": req("GET /auth/../healthz HTTP/1.1"),
    "percent-encoded": req("GET /%68ealthz HTTP/1.1"),
    "absolute-form": req("GET http://x/healthz HTTP/1.1"),
    "expect-unknown": req("POST /auth/login HTTP/1.1",
                          "Expect: foo\r\nContent-Length: 2\r\n", "{}"),
    "keep-alive-two": (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
}


def exchange(data):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    out = b""
    try:
        s.sendall(data)
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError as e:
        # A front refusing a large body may reset the connection while
        # it is still being sent; what it answered before counts.
        out += b"" if out else ("<%s>" % type(e).__name__).encode()
    s.close()
    return out


def show(raw, head):
    text = raw.decode("latin1").replace("\r", "")
    parts = re.split(r"(?=HTTP/1\.[01] \d\d\d )", text)
    out = []
    for part in parts:
        if not part:
            continue
        if "\n\n" not in part:
            out.append(part)
            continue
        h, b = part.split("\n\n", 1)
        lines = h.split("\n")
        status = re.sub(r"^HTTP/1\.[01] (\d\d\d).*", r"\1", lines[0])
        hdrs = sorted(re.sub(r"^(X-Request-Id:) .*", r"\1 -", x, flags=re.I)
                      for x in lines[1:]
                      if not x.lower().startswith("date:") and
                      x.lower() != "connection: keep-alive")
        b = re.sub(r'"request_id":"[^"]*"', '"request_id":"-"', b)
        out.append("\n".join([status] + hdrs) + "\n\n" + ("" if head else b))
    return "".join(out)


for name in sys.argv[2:] or CASES:
    print("=== %s" % name)
    print(show(exchange(CASES[name]), name.startswith("head-")))
