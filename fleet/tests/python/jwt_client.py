"""A verifier and a signer of server-to-server tokens, for the key server's tests (fleet/tests/serve.rs).

sign PFX PASSWORD AUDIENCE
    Prints an RS256 token signed with the PFX's key, its `kid` and `x5t` the base64url SHA-1 of
    the certificate (what certslot's JWK Set names keys by), computed here, not asked of certslot.
verify URL CAFILE AUDIENCE TOKEN
    Fetches the JWK Set at URL over HTTPS with PyJWT's PyJWKClient (trusting CAFILE only, no
    cache between calls) and verifies the token; prints `verified KID` or `refused ERROR`.
"""
import base64
import hashlib
import ssl
import sys
import time

import jwt
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12


def sign(pfx, password, audience):
    with open(pfx, "rb") as f:
        key, cert, _ = pkcs12.load_key_and_certificates(f.read(), password.encode())
    x5t = base64.urlsafe_b64encode(hashlib.sha1(cert.public_bytes(Encoding.DER)).digest()).rstrip(b"=").decode()
    now = int(time.time())
    claims = {"iss": "00000004-0000-0ff1-ce00-000000000000@contoso.com", "aud": audience, "nbf": now - 60, "exp": now + 3600}
    print(jwt.encode(claims, key, algorithm="RS256", headers={"kid": x5t, "x5t": x5t}))


def verify(url, cafile, audience, token):
    client = jwt.PyJWKClient(url, cache_jwk_set=False, ssl_context=ssl.create_default_context(cafile=cafile))
    try:
        signing_key = client.get_signing_key_from_jwt(token)
        jwt.decode(token, signing_key.key, algorithms=["RS256"], audience=audience)
    except jwt.exceptions.PyJWTError as e:
        print(f"refused {type(e).__name__}: {e}")
        return
    print(f"verified {signing_key.key_id}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"sign": sign, "verify": verify}[command](*args)
