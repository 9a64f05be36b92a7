#!/usr/bin/env python3
"""Makes mismatched-key.pfx: the certificate of openssl3-default.pfx with the private key of
openssl3-rsa2048-next.pfx (both password P@ssw0rd), written by Python `cryptography`. Its
serializer refuses a leaf that does not match the key, so the certificate goes in as an
additional certificate: the file holds a key and a certificate that do not belong together, and
an importer must refuse it with a key-mismatch error.

Does nothing if the file exists, unless run with --force. Inputs are committed fixtures, so the
output is deterministic but for the salts cryptography draws.
"""
import os
import sys

from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "mismatched-key.pfx")
PASSWORD = b"P@ssw0rd"


def load(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return pkcs12.load_pkcs12(f.read(), PASSWORD)


def main():
    if os.path.exists(OUT) and "--force" not in sys.argv:
        print("mismatched-key.pfx exists; use --force")
        return
    cert = load("openssl3-default.pfx").cert.certificate
    key = load("openssl3-rsa2048-next.pfx").key
    data = pkcs12.serialize_key_and_certificates(b"Contoso OAuth", key, None, [cert], BestAvailableEncryption(PASSWORD))
    with open(OUT, "wb") as f:
        f.write(data)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
