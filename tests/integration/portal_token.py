#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/integration/portal_token.py - makes bearer tokens for the portal
# tests with Python's own hmac, hashlib and base64 (independent of the
# portal's C code):
#
#   portal_token.py KEY-FILE SUB [name=value ...]
#
# Claims: sub=SUB, aud=gatewayd-portal, exp=now+600, jti=a random one
# (each token its own, as the customer page's handoff needs), plus name=value
# (a JSON value, or "-" to leave the claim out; exp=+N / -N: now plus N).
# Special names: alg= (header alg, "-" none), key= (another key file),
# header= (the whole header JSON), claims= (the whole claims text),
# sig= (the signature part as given), hs512=1 (sign with HMAC-SHA512),
# es256=PEM-FILE (sign ES256 with that EC private key, Python's
# cryptography; alg ES256 unless alg= says otherwise), der=1 (ES256: the
# signature in DER, as a wrong backend sends it), high_s=1 (ES256: s
# replaced by n - s, the other valid signature), count=N (N tokens, one a
# line, each with a jti of its own).
import base64, hashlib, hmac, json, os, sys, time

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def main():
    key_file, sub = sys.argv[1], sys.argv[2]
    claims = {"sub": sub, "aud": "gatewayd-portal", "exp": int(time.time()) + 600,
              "jti": b64(os.urandom(12))}
    header = {"alg": "HS256", "typ": "JWT"}
    opts = {}
    for a in sys.argv[3:]:
        name, value = a.split("=", 1)
        if name in ("key", "header", "claims", "sig", "hs512", "es256", "der", "high_s", "count"):
            opts[name] = value
            if name == "es256" and "alg=" not in " ".join(sys.argv[3:]):
                header["alg"] = "ES256"
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
    for _ in range(int(opts.get("count", 1))):
        make(opts, header, claims, key_file)
        claims["jti"] = b64(os.urandom(12))

def make(opts, header, claims, key_file):
    key = open(opts.get("key", key_file), "rb").read().rstrip(b"\r\n")
    h = opts.get("header", json.dumps(header, separators=(",", ":")))
    c = opts.get("claims", json.dumps(claims, separators=(",", ":")))
    signed = b64(h.encode()) + "." + b64(c.encode())
    if "es256" in opts:
        sig = es256(opts, signed.encode())
    else:
        digest = hashlib.sha512 if opts.get("hs512") else hashlib.sha256
        sig = b64(hmac.new(key, signed.encode(), digest).digest())
    print(signed + "." + opts.get("sig", sig))

def es256(opts, data):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils
    priv = serialization.load_pem_private_key(open(opts["es256"], "rb").read(), None)
    half = (priv.curve.key_size + 7) // 8
    h = hashes.SHA384() if half == 48 else hashes.SHA256()
    der = priv.sign(data, ec.ECDSA(h))
    if opts.get("der"):
        return b64(der)
    r, s = utils.decode_dss_signature(der)
    if opts.get("high_s"):
        n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256's order
        s = n - s
    return b64(r.to_bytes(half, "big") + s.to_bytes(half, "big"))

main()
