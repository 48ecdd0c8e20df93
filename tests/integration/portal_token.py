#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/integration/portal_token.py - makes bearer tokens for the portal
# tests with Python's own hmac, hashlib and base64 (independent of the
# portal's C code):
#
#   portal_token.py KEY-FILE SUB [name=value ...]
#
# Claims: sub=SUB, aud=gatewayd-portal, exp=now+600, plus name=value
# (a JSON value, or "-" to leave the claim out; exp=+N / -N: now plus N).
# Special names: alg= (header alg, "-" none), key= (another key file),
# header= (the whole header JSON), claims= (the whole claims text),
# sig= (the signature part as given), hs512=1 (sign with HMAC-SHA512).
import base64, hashlib, hmac, json, sys, time

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def main():
    key_file, sub = sys.argv[1], sys.argv[2]
    claims = {"sub": sub, "aud": "gatewayd-portal", "exp": int(time.time()) + 600}
    header = {"alg": "HS256", "typ": "JWT"}
    opts = {}
    for a in sys.argv[3:]:
        name, value = a.split("=", 1)
        if name in ("key", "header", "claims", "sig", "hs512"):
            opts[name] = value
        elif name == "alg":
            if value == "-":
                header.pop("alg")
            else:
                header["alg"] = value
        elif value == "-":
            claims.pop(name, None)
        elif name in ("exp", "nbf", "iat") and value[0] in "+-":
            claims[name] = int(time.time()) + int(value)
        else:
            claims[name] = json.loads(value)
    key = open(opts.get("key", key_file), "rb").read().rstrip(b"\r\n")
    h = opts.get("header", json.dumps(header, separators=(",", ":")))
    c = opts.get("claims", json.dumps(claims, separators=(",", ":")))
    signed = b64(h.encode()) + "." + b64(c.encode())
    digest = hashlib.sha512 if opts.get("hs512") else hashlib.sha256
    sig = opts.get("sig", b64(hmac.new(key, signed.encode(), digest).digest()))
    print(signed + "." + sig)

main()
