#!/usr/bin/env python3
"""Slow clients must not freeze the endpoints (python3 stdlib only).

usage: slowclient.py PORT FCGI_CHILDREN READ_TIMEOUT

For each POST/DELETE route, opens 4 x FCGI_CHILDREN connections to
127.0.0.1:PORT that send their headers with Content-Length: 100 and then
only 4 bytes of the body. While they stay open, one normal request per
route (all at once) must get its usual status within a few seconds: the
timeout is a liveness bound, not a performance assertion. Then, after
lighttpd's read timeout (READ_TIMEOUT seconds, checked about once a
second), every slow connection must have ended with a 4xx status line or
a plain close (EOF or reset), never a 5xx and never still open.
Prints one line per check and a summary; exits 1 on any failure.
"""
import http.client
import json
import socket
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

PORT, CHILDREN, READ_TIMEOUT = (int(a) for a in sys.argv[1:4])
LIVENESS = 5  # seconds a normal request may take while the slow ones wait

bad_token = json.dumps({"refresh_token": "not.a.jwt"})
# (method, path, body of the normal request, statuses it may answer)
ROUTES = [
    ("POST", "/auth/register",
     json.dumps({"email": f"slow-{uuid.uuid4().hex[:12]}@example.com",
                 "password": "secret123"}), {201}),
    ("POST", "/auth/login",
     json.dumps({"email": "nobody@example.com", "password": "wrongpass1"}),
     {401}),
    ("POST", "/auth/refresh", bad_token, {401, 422}),
    ("POST", "/auth/logout", bad_token, {401, 422}),
    ("POST", "/auth/logout-all", "", {401}),
    ("DELETE", f"/auth/sessions/{uuid.uuid4()}", None, {401}),
]


def slow_connection(method, path):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=LIVENESS)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              "Content-Type: application/json\r\nContent-Length: 100\r\n"
              "\r\n{\"em".encode())
    return s


def normal_request(route):
    method, path, body, expected = route
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=LIVENESS)
    start = time.monotonic()
    try:
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json"})
        status = conn.getresponse().status
    except OSError as e:
        return False, f"{method} {path}: no answer ({e!r})"
    finally:
        conn.close()
    took = time.monotonic() - start
    ok = status in expected
    return ok, f"{method} {path}: {status} in {took:.2f} s" + (
        "" if ok else f" (expected {sorted(expected)})")


def how_it_ended(s, deadline):
    """'4xx', 'closed', 'reset', or a failure text."""
    s.settimeout(max(deadline - time.monotonic(), 0.01))
    try:
        data = s.recv(4096)
    except socket.timeout:
        return "still open"
    except ConnectionResetError:
        return "reset"
    finally:
        s.close()
    if not data:
        return "closed"
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    return "4xx" if line.startswith("HTTP/1.1 4") else f"answered {line!r}"


def main():
    failures = 0
    slow = [(m, p, slow_connection(m, p))
            for m, p, _, _ in ROUTES for _ in range(4 * CHILDREN)]
    sent = time.monotonic()
    time.sleep(0.3)  # let lighttpd see them all before the normal requests
    print(f"{len(slow)} slow connections open "
          f"({4 * CHILDREN} per route, 4 of 100 body bytes sent)")

    with ThreadPoolExecutor(len(ROUTES)) as pool:
        for ok, text in pool.map(normal_request, ROUTES):
            failures += not ok
            print(("ok   " if ok else "FAIL ") + text)

    deadline = sent + READ_TIMEOUT + 5
    ends = {}
    for method, path, s in slow:
        end = how_it_ended(s, deadline)
        ends.setdefault(f"{method} {path}", []).append(end)
    for route, got in ends.items():
        bad = [e for e in got if e not in ("4xx", "closed", "reset")]
        failures += bool(bad)
        summary = ", ".join(f"{got.count(e)} {e}" for e in sorted(set(got)))
        print(("FAIL " if bad else "ok   ") + f"slow {route}: {summary}")

    print(f"slowclient: {failures} check(s) FAILED" if failures
          else "slowclient: all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
