#!/usr/bin/python3
"""openapi_check.py DOC BASE [PATH_REGEX]: check a running stack against
docs/openapi.yaml.

For every path and method the document lists (those matching PATH_REGEX),
send a success request built from the document (its example body, a fresh
account's tokens) and its documented error cases; each answer's status must
be one the document lists for the operation, its documented required
headers present and matching their schemas, and a JSON body valid against
the documented response schema. Prints one line per case, then
"N passed, N failed"; exits 1 when any case failed or a listed operation
had no case. TOTP codes for the second factor's routes are computed here
(RFC 6238: HMAC-SHA1, 6 digits, 30 s steps). Run with /usr/bin/python3
(Debian's jsonschema and yaml).
"""
import base64
import hashlib
import hmac
import http.client
import json
import re
import struct
import sys
import time
import uuid
import urllib.parse

import jsonschema
import yaml

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


class Checker:
    def __init__(self, doc, base):
        self.doc = doc
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.resolver = jsonschema.RefResolver.from_schema(doc)
        self.passed = self.failed = 0
        self.checked = set()

    def deref(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            obj = self.resolver.resolve(obj["$ref"])[1]
        return obj

    def send(self, method, path, body=None, headers=None, raw=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None or method in ("POST", "PUT", "PATCH"):
            data = data or b""
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload

    def validate(self, schema, value):
        jsonschema.Draft202012Validator(
            schema, resolver=self.resolver,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        ).validate(value)

    def case(self, name, template, method, path, want=None, **kw):
        """One request to an operation of `template`; True when it answered
        as documented (and with status `want`, when given)."""
        self.checked.add((template, method))
        try:
            status, headers, payload = self.send(method.upper(), path, **kw)
            op = self.doc["paths"][template][method]
            responses = op["responses"]
            if str(status) not in responses:
                raise AssertionError(f"status {status} is not documented "
                                     f"({', '.join(responses)}): {payload[:200]!r}")
            if want is not None and status != want:
                raise AssertionError(f"status {status}, expected {want}: {payload[:200]!r}")
            resp = self.deref(responses[str(status)])
            for hname, h in (resp.get("headers") or {}).items():
                h = self.deref(h)
                value = headers.get(hname.lower())
                if value is None:
                    if h.get("required"):
                        raise AssertionError(f"header {hname} missing")
                    continue
                self.validate(h.get("schema", {}), value)
            content = resp.get("content")
            if not content:
                if payload:
                    raise AssertionError(f"documented without a body, got {payload[:200]!r}")
            elif method != "head":
                ctype = headers.get("content-type", "")
                media = next((m for m in content if m.split(";")[0] ==
                              ctype.split(";")[0]), None)
                if media is None:
                    raise AssertionError(f"Content-Type {ctype!r} is not one of {list(content)}")
                schema = content[media].get("schema", {})
                value = json.loads(payload) if media == "application/json" \
                    else payload.decode()
                self.validate(schema, value)
            self.passed += 1
            print(f"ok   {method.upper()} {template}: {name} ({status})")
            return True, status, headers, payload
        except Exception as e:  # any failure is reported, never hidden
            self.failed += 1
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"FAIL {method.upper()} {template}: {name}: {msg}")
            return False, None, None, None

    def example(self, template, method):
        """The request body example the document gives, with a fresh email."""
        op = self.doc["paths"][template][method]
        rb = self.deref(op["requestBody"])
        schema = self.deref(rb["content"]["application/json"]["schema"])
        ex = dict(schema["example"])
        ex["email"] = f"oa-{uuid.uuid4().hex[:12]}@example.com"
        return ex

    def account(self):
        """A fresh account: (credentials, token pair), or None."""
        body = self.example("/auth/register", "post")
        status, _, payload = self.send("POST", "/auth/register", body=body)
        return (body, json.loads(payload)) if status == 201 else (body, None)


def bearer(pair):
    return {"Authorization": "Bearer " + (pair["access_token"] if pair else "x")}


def totp(secret, step):
    """RFC 6238 (RFC 4226 at counter `step`): 6 digits, HMAC-SHA1, of a
    base32 secret."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    return f"{value % 1000000:06d}"


def totp_step():
    return int(time.time()) // 30


def wrong_code(secret):
    """Six digits that are no TOTP of secret near now."""
    now = totp_step()
    near = {totp(secret, now + d) for d in range(-2, 3)}
    return next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in near)


def claims(token):
    """A JWT's payload, unverified (the stack signed it)."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def run(c, only):
    doc = c.doc
    big = b'{"email":"' + b"a" * (65536 + 1) + b'"}'
    bad_token = "eyJhbGciOiJSUzI1NiJ9.e30.AAAA"
    post_bodies = {"/auth/register", "/auth/login", "/auth/refresh", "/auth/logout",
                   "/auth/password/forgot", "/auth/password/reset", "/auth/email/verify",
                   "/auth/mfa/totp/enroll", "/auth/mfa/totp/confirm",
                   "/auth/mfa/totp/disable", "/auth/mfa/verify"}

    def want(template):
        return template in doc["paths"] and re.search(only, template)

    # Token routes.
    if want("/auth/register"):
        body = c.example("/auth/register", "post")
        c.case("new account", "/auth/register", "post", "/auth/register", 201, body=body)
        c.case("email taken", "/auth/register", "post", "/auth/register", 400, body=body)
        c.case("password too short", "/auth/register", "post", "/auth/register", 422,
               body={"email": body["email"], "password": "short"})
    if want("/auth/login"):
        cred, _ = c.account()
        c.case("right password", "/auth/login", "post", "/auth/login", 200, body=cred)
        c.case("wrong password", "/auth/login", "post", "/auth/login", 401,
               body={"email": cred["email"], "password": "wrong password"})
        c.case("no email", "/auth/login", "post", "/auth/login", 422, body={"password": "12345678"})
    if want("/auth/refresh"):
        _, pair = c.account()
        tok = pair["refresh_token"] if pair else "x"
        c.case("object body", "/auth/refresh", "post", "/auth/refresh", 200,
               body={"refresh_token": tok})
        _, pair2 = c.account()
        c.case("bare string body", "/auth/refresh", "post", "/auth/refresh", 200,
               body=pair2["refresh_token"] if pair2 else "x")
        c.case("rotated token (replay)", "/auth/refresh", "post", "/auth/refresh", 401,
               body={"refresh_token": tok})
        c.case("not a token", "/auth/refresh", "post", "/auth/refresh", 401,
               body={"refresh_token": bad_token})
        c.case("field missing", "/auth/refresh", "post", "/auth/refresh", 422, body={})
    if want("/auth/logout"):
        _, pair = c.account()
        c.case("refresh token", "/auth/logout", "post", "/auth/logout", 204,
               body={"refresh_token": pair["refresh_token"] if pair else "x"})
        c.case("not a token", "/auth/logout", "post", "/auth/logout", 401,
               body={"refresh_token": bad_token})
        c.case("not JSON", "/auth/logout", "post", "/auth/logout", 422, raw=b"{")
    if want("/auth/logout-all"):
        _, pair = c.account()
        c.case("access token", "/auth/logout-all", "post", "/auth/logout-all", 204,
               headers=bearer(pair), raw=b"")
        c.case("revoked session", "/auth/logout-all", "post", "/auth/logout-all", 401,
               headers=bearer(pair), raw=b"")
        c.case("no token", "/auth/logout-all", "post", "/auth/logout-all", 401, raw=b"")
    for t in sorted(post_bodies):
        if want(t):
            c.case("body over MAX_BODY_BYTES", t, "post", t, 413, raw=big)
    if want("/auth/me"):
        cred, pair = c.account()
        ok, _, _, payload = c.case("access token", "/auth/me", "get", "/auth/me", 200,
                                   headers=bearer(pair))
        if ok and json.loads(payload)["email"] != cred["email"]:
            c.passed -= 1
            c.failed += 1
            print("FAIL GET /auth/me: access token: another email")
        c.case("no token", "/auth/me", "get", "/auth/me", 401)
        c.case("refresh token as bearer", "/auth/me", "get", "/auth/me", 401,
               headers={"Authorization": "Bearer " + (pair["refresh_token"] if pair else "x")})
    if want("/auth/sessions"):
        _, pair = c.account()
        c.case("list", "/auth/sessions", "get", "/auth/sessions", 200, headers=bearer(pair))
        c.case("bad token", "/auth/sessions", "get", "/auth/sessions", 401,
               headers={"Authorization": "Bearer " + bad_token})
    if want("/auth/sessions/{id}"):
        _, pair = c.account()
        sid = None
        if pair:
            _, _, payload = c.send("GET", "/auth/sessions", headers=bearer(pair))
            sid = json.loads(payload)[0]["id"]
        t = "/auth/sessions/{id}"
        c.case("own session", t, "delete", f"/auth/sessions/{sid}", 204, headers=bearer(pair))
        c.case("unknown session", t, "delete", f"/auth/sessions/{uuid.uuid4()}", 404,
               headers=bearer(c.account()[1]))
        c.case("no token", t, "delete", f"/auth/sessions/{uuid.uuid4()}", 401)

    # Account routes (the token flows themselves: accounts.bats).
    if want("/auth/password"):
        cred, pair = c.account()
        t = "/auth/password"
        c.case("wrong current password", t, "post", t, 401, headers=bearer(pair),
               body={"current_password": "wrong password", "new_password": "battery staple"})
        c.case("new password too short", t, "post", t, 422, headers=bearer(pair),
               body={"current_password": cred["password"], "new_password": "short"})
        c.case("change", t, "post", t, 204, headers=bearer(pair),
               body={"current_password": cred["password"], "new_password": "battery staple"})
        c.case("no token", t, "post", t, 401,
               body={"current_password": "x", "new_password": "battery staple"})
    if want("/auth/password/forgot"):
        t = "/auth/password/forgot"
        cred, _ = c.account()
        c.case("registered", t, "post", t, 202, body={"email": cred["email"]})
        c.case("unregistered", t, "post", t, 202,
               body={"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com"})
        c.case("not an email", t, "post", t, 422, body={"email": "nope"})
    if want("/auth/password/reset"):
        t = "/auth/password/reset"
        c.case("unknown token", t, "post", t, 400,
               body={"token": "A" * 43, "new_password": "battery staple"})
        c.case("token missing", t, "post", t, 422, body={"new_password": "battery staple"})
    if want("/auth/email/verify"):
        t = "/auth/email/verify"
        c.case("unknown token", t, "post", t, 400, body={"token": "B" * 43})
        c.case("not JSON", t, "post", t, 422, raw=b"{")
    if want("/auth/email/resend"):
        t = "/auth/email/resend"
        _, pair = c.account()
        c.case("unverified account", t, "post", t, 202, headers=bearer(pair), raw=b"")
        c.case("no token", t, "post", t, 401, raw=b"")

    # Second factor: enroll, confirm, login's 403, verify, disable, in the
    # order a user goes; a step not selected by PATH_REGEX is still taken
    # (a plain request) so that the later ones have their state. A TOTP
    # step accepted once is never accepted again: each use takes a later
    # step than the last one accepted (one step either side of now passes).
    E, C, D, V = ("/auth/mfa/totp/enroll", "/auth/mfa/totp/confirm",
                  "/auth/mfa/totp/disable", "/auth/mfa/verify")
    if want("/auth/login") or any(want(t) for t in (E, C, D, V)):
        def step(name, t, m, path, code, **kw):
            if want(t):
                return c.case(name, t, m, path, code, **kw)
            status, h, payload = c.send(m.upper(), path, **kw)
            if status != code:
                c.failed += 1
                print(f"FAIL {m.upper()} {t}: {name} (setup): status {status}: {payload[:200]!r}")
            return status == code, status, h, payload

        def failed(line):
            c.passed -= 1
            c.failed += 1
            print("FAIL " + line)

        cred, pair = c.account()
        ok, _, _, payload = step("access token", E, "post", E, 200,
                                 headers=bearer(pair), raw=b"")
        secret = json.loads(payload)["secret"] if ok else "A" * 32
        if want(E):
            c.case("no token", E, "post", E, 401, raw=b"")
        if want(C):
            c.case("wrong code", C, "post", C, 400, headers=bearer(pair),
                   body={"code": wrong_code(secret)})
            c.case("code missing", C, "post", C, 422, headers=bearer(pair), body={})
        used = totp_step()
        ok, _, _, payload = step("TOTP of the pending secret", C, "post", C, 200,
                                 headers=bearer(pair), body={"code": totp(secret, used)})
        codes = json.loads(payload)["recovery_codes"] if ok else ["x", "y", "z"]
        if want(C):
            c.case("nothing pending", C, "post", C, 409, headers=bearer(pair),
                   body={"code": totp(secret, used)})
        if want(E):
            c.case("TOTP on already", E, "post", E, 409, headers=bearer(pair), raw=b"")
        ok, _, _, payload = step("TOTP on: mfa required", "/auth/login", "post",
                                 "/auth/login", 403, body=cred)
        mfa_token = json.loads(payload).get("mfa_token", "x") if ok else "x"
        if want(V):
            c.case("wrong code", V, "post", V, 401,
                   body={"mfa_token": mfa_token, "code": wrong_code(secret)})
            c.case("access token as mfa_token", V, "post", V, 401,
                   body={"mfa_token": pair["access_token"] if pair else "x",
                         "code": wrong_code(secret)})
            c.case("code missing", V, "post", V, 422, body={"mfa_token": mfa_token})
        used = max(used + 1, totp_step() - 1)
        ok, _, _, payload = step("TOTP of a later step", V, "post", V, 200,
                                 body={"mfa_token": mfa_token, "code": totp(secret, used)})
        pair2 = json.loads(payload) if ok else None
        if ok and want(V) and claims(pair2["access_token"]).get("amr") != ["pwd", "otp"]:
            failed(f"POST {V}: TOTP of a later step: access token amr is not [pwd, otp]")
        if want(V):
            # A good recovery code: only the used-up token is wrong.
            c.case("mfa_token used up", V, "post", V, 401,
                   body={"mfa_token": mfa_token, "code": codes[0]})
        if want(D):
            c.case("wrong code", D, "post", D, 400, headers=bearer(pair2),
                   body={"code": wrong_code(secret)})
            c.case("not JSON", D, "post", D, 422, headers=bearer(pair2), raw=b"{")
            c.case("no token", D, "post", D, 401, body={"code": codes[1]})
        step("recovery code", D, "post", D, 204, headers=bearer(pair2),
             body={"code": codes[1].upper()})
        if want(D):
            c.case("TOTP off already", D, "post", D, 409, headers=bearer(pair2),
                   body={"code": codes[2]})
        if want("/auth/login"):
            ok, _, _, payload = c.case("TOTP off again: a pair", "/auth/login", "post",
                                       "/auth/login", 200, body=cred)
            if ok and claims(json.loads(payload)["access_token"]).get("amr") != ["pwd"]:
                failed("POST /auth/login: TOTP off again: access token amr is not [pwd]")

    # Gateway: every method it lists.
    if want("/auth/verify"):
        cred, pair = c.account()
        for m in METHODS:
            if m not in doc["paths"]["/auth/verify"]:
                continue
            ok, _, h, _ = c.case("access token", "/auth/verify", m, "/auth/verify", 200,
                                 headers=bearer(pair))
            if ok and (h.get("x-user-email") != cred["email"] or
                       h.get("remote-user") != h.get("x-user-id")):
                c.passed -= 1
                c.failed += 1
                print(f"FAIL {m.upper()} /auth/verify: identity headers disagree")
            c.case("no token", "/auth/verify", m, "/auth/verify", 401)
            c.case("refresh token as bearer", "/auth/verify", m, "/auth/verify", 401,
                   headers={"Authorization": "Bearer " + (pair["refresh_token"] if pair else "x")})

    # Discovery: 200 when JWT_ISS is this stack's URL, 404 otherwise
    # (ISS_IS_URL says which this stack is).
    for t in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        if want(t):
            code = 200 if ISS_IS_URL else 404
            ok, _, _, payload = c.case("metadata" if ISS_IS_URL else "JWT_ISS not a URL",
                                       t, "get", t, code)
            if ok and ISS_IS_URL and json.loads(payload)["issuer"] != BASE:
                c.passed -= 1
                c.failed += 1
                print(f"FAIL GET {t}: issuer is not {BASE}")

    for t, ok_case in (("/.well-known/jwks.json", 200), ("/healthz", 200),
                       ("/readyz", 200), ("/metrics", 200)):
        if want(t):
            c.case("from the stack's host", t, "get", t, ok_case)

    # Every path: a method it does not serve is 405 with Allow (the
    # document's x-other-methods), recorded against the documented methods.
    for t, item in doc["paths"].items():
        other = item.get("x-other-methods")
        if not other or not want(t):
            continue
        path = t.replace("{id}", str(uuid.uuid4()))
        ops = [m for m in METHODS if m in item]
        for m in ops:
            if "405" not in item[m]["responses"]:
                continue
            wrong = "PUT"
            status, h, payload = c.send(wrong, path, raw=b"")
            c.checked.add((t, m))
            resp = c.deref(item[m]["responses"]["405"])
            try:
                assert status == 405, f"status {status}"
                allow = h.get("allow") or ""
                c.validate(c.deref(resp["headers"]["Allow"])["schema"], allow)
                served = {x.upper() for x in ops}
                assert served <= set(allow.split(", ")), f"Allow {allow!r} lacks {served}"
                c.validate(resp["content"]["application/json"]["schema"], json.loads(payload))
                c.passed += 1
                print(f"ok   {wrong} {t}: not served (405, Allow: {allow})")
            except Exception as e:
                c.failed += 1
                print(f"FAIL {wrong} {t}: not served: {e}")


def main():
    global ISS_IS_URL, BASE
    doc_path, BASE = sys.argv[1], sys.argv[2]
    only = sys.argv[3] if len(sys.argv) > 3 else "."
    ISS_IS_URL = len(sys.argv) > 4 and sys.argv[4] == "iss-url"
    with open(doc_path) as f:
        doc = yaml.safe_load(f)
    c = Checker(doc, BASE)
    run(c, only)
    for t, item in doc["paths"].items():
        if not re.search(only, t):
            continue
        for m in METHODS:
            if m in item and (t, m) not in c.checked:
                c.failed += 1
                print(f"FAIL {m.upper()} {t}: listed but no case checks it")
    print(f"{c.passed} passed, {c.failed} failed")
    return 1 if c.failed or not c.passed else 0


ISS_IS_URL = False
BASE = ""

if __name__ == "__main__":
    sys.exit(main())
