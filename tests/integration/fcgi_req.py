#!/usr/bin/env python3
"""One FastCGI request straight to an endpoint's unix socket, with control
over how its body arrives; prints the answer.

usage: fcgi_req.py [options] SOCKET METHOD URI [BODY]

  --addr A         REMOTE_ADDR (default 127.0.0.1)
  --length N       CONTENT_LENGTH (default: the length of BODY when BODY is
                   given; none when neither is)
  --first K        send only the first K bytes of BODY, then pause:
  --pause S        wait S seconds (default 0), or
  --wait-file F    until file F exists (then --pause is the most to wait
                   for it, default 30 s)
  --signal SIG     after the pause send SIG (TERM, HUP, INT or a number) to
  --pid P          this pid (repeatable) and/or
  --pids-file F    every pid in F (whitespace separated; read at that
                   moment), then wait
  --settle S       S seconds (default 0.3) for the signals to land
  --stall          never send the rest: hold the body incomplete and wait
                   for whatever the worker answers
  --ready-file F   create file F once the first part has been sent
  --headers        also print the reply's header lines, after the body
  --timeout S      socket timeout in seconds (default 15)

Sends the parameters, the first K bytes of BODY (all of it without
--first) as stdin, and after the pause the rest of BODY and the empty
record that ends stdin (unless --stall; without --first, the end of stdin
is sent only when BODY is exactly CONTENT_LENGTH bytes long). Then reads
the reply up to the end-of-request record and prints

  status=NNN
  BODY (the reply body, one line)
  Header: value          (only with --headers, one line each)

A socket timeout prints "status=timeout", a connection closed without a
complete reply "status=closed", a socket that cannot be reached
"status=error"; all exit 1.
"""
import argparse
import os
import signal
import socket
import sys
import time

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def record(kind, content=b""):
    n = len(content)
    pad = -n % 8
    return bytes([1, kind, 0, 1, n >> 8, n & 0xFF, pad, 0]) + content + bytes(pad)


def length_bytes(n):
    return bytes([n]) if n < 128 else (n | 0x80000000).to_bytes(4, "big")


def pair(name, value):
    n, v = name.encode(), value.encode()
    return length_bytes(len(n)) + length_bytes(len(v)) + n + v


def signum(name):
    if name.isdigit():
        return int(name)
    return getattr(signal, "SIG" + name.upper().removeprefix("SIG"))


def parse_args():
    p = argparse.ArgumentParser(
        usage="%(prog)s [options] SOCKET METHOD URI [BODY]",
        description=__doc__, add_help=True,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("socket")
    p.add_argument("method")
    p.add_argument("uri")
    p.add_argument("body", nargs="?")
    p.add_argument("--addr", default="127.0.0.1")
    p.add_argument("--length")
    p.add_argument("--first", type=int)
    p.add_argument("--pause", type=float)
    p.add_argument("--wait-file")
    p.add_argument("--signal")
    p.add_argument("--pid", type=int, action="append", default=[])
    p.add_argument("--pids-file")
    p.add_argument("--settle", type=float, default=0.3)
    p.add_argument("--stall", action="store_true")
    p.add_argument("--ready-file")
    p.add_argument("--headers", action="store_true")
    p.add_argument("--timeout", type=float, default=15)
    return p.parse_args()


def pause(args):
    if args.wait_file:
        limit = time.monotonic() + (args.pause if args.pause else 30)
        while not os.path.exists(args.wait_file) and time.monotonic() < limit:
            time.sleep(0.02)
    elif args.pause:
        time.sleep(args.pause)
    if args.signal:
        pids = list(args.pid)
        if args.pids_file:
            with open(args.pids_file) as f:
                pids += [int(w) for w in f.read().split()]
        for pid in pids:
            try:
                os.kill(pid, signum(args.signal))
            except ProcessLookupError:
                pass
        time.sleep(args.settle)


def read_reply(s):
    """stdout bytes up to the end-of-request record, or None at EOF."""
    data, stdout, i = b"", b"", 0
    while True:
        while i + 8 <= len(data):
            kind = data[i + 1]
            n, pad = (data[i + 4] << 8) | data[i + 5], data[i + 6]
            if i + 8 + n + pad > len(data):
                break
            if kind == STDOUT:
                stdout += data[i + 8:i + 8 + n]
            elif kind == END:
                return stdout
            i += 8 + n + pad
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk


def main():
    args = parse_args()
    body = args.body.encode() if args.body is not None else b""
    length = args.length
    if length is None and args.body is not None:
        length = str(len(body))
    params = pair("REQUEST_METHOD", args.method) + \
        pair("REQUEST_URI", args.uri) + pair("SCRIPT_NAME", args.uri) + \
        pair("REMOTE_ADDR", args.addr)
    if length is not None:
        params += pair("CONTENT_LENGTH", length) + \
            pair("CONTENT_TYPE", "application/json")
    first = body if args.first is None else body[:args.first]
    rest = b"" if args.first is None else body[args.first:]
    out = record(BEGIN, bytes([0, 1, 0, 0, 0, 0, 0, 0])) + \
        record(PARAMS, params) + record(PARAMS)
    if first:
        out += record(STDIN, first)
    whole = args.first is None and (length is None or len(body) == int(length))
    if whole:
        out += record(STDIN)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(args.timeout)
    try:
        s.connect(args.socket)
        s.sendall(out)
        if args.ready_file:
            open(args.ready_file, "w").close()
        if args.first is not None:
            pause(args)
            if not args.stall:
                try:
                    s.sendall((record(STDIN, rest) if rest else b"") +
                              record(STDIN))
                except (BrokenPipeError, ConnectionResetError):
                    pass        # answered early; the reply is still there
        stdout = read_reply(s)
    except socket.timeout:
        print("status=timeout")
        sys.exit(1)
    except ConnectionResetError:
        stdout = None
    except OSError as e:        # no such socket, nobody listening
        print("status=error")
        print(e, file=sys.stderr)
        sys.exit(1)
    finally:
        s.close()
    if stdout is None:
        print("status=closed")
        sys.exit(1)
    head, _, reply = stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1] if lines[0].startswith("Status:") else "?"
    print(f"status={status}")
    print(reply.decode("utf-8", "replace").rstrip("\n"))
    if args.headers:
        for line in lines[1:]:
            print(line)


if __name__ == "__main__":
    main()
