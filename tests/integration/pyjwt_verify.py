#!/usr/bin/python3
"""pyjwt_verify.py ISSUER TOKEN [AUDIENCE]: verify an access token with
Debian's PyJWT (python3-jwt), as a resource server configured with only
the issuer URL: discovery gives jwks_uri, PyJWKClient fetches the key the
token's kid names, jwt.decode checks RS256, signature, iss, exp (and aud).
PyJWT does not check the header's typ: checked here, as RFC 9068 asks.
Prints the verified claims as JSON and exits 0; on a refusal prints the
reason on stderr and exits 1."""
import json
import sys
import urllib.request

import jwt


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    issuer, token = argv[1], argv[2]
    audience = argv[3] if len(argv) == 4 and argv[3] else None
    try:
        url = issuer + "/.well-known/openid-configuration"
        with urllib.request.urlopen(url, timeout=10) as res:
            meta = json.load(res)
        if meta.get("issuer") != issuer:
            raise ValueError("discovery names issuer %r" % meta.get("issuer"))
        key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token)
        if jwt.get_unverified_header(token).get("typ") != "at+jwt":
            raise ValueError("typ is not at+jwt")
        claims = jwt.decode(
            token, key.key, algorithms=["RS256"], issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iat", "iss", "sub"],
                     "verify_aud": audience is not None})
    except Exception as e:  # every refusal is the same answer: exit 1
        print("pyjwt: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    print(json.dumps(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
