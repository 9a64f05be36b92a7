#!/usr/bin/env python3
"""Generate the certificate-request fixtures: a test CA, a pending key and a CA's answers.

Usage (from the repository root):

    python3 tests/data/request/gen_request.py           # make only what is missing
    python3 tests/data/request/gen_request.py --force   # regenerate everything

Requirements: Python 3.11+, `cryptography` (written against 48.x) and the `openssl` CLI
(written against OpenSSL 3.0).

What is made, with OpenSSL unless said otherwise:

* `ca-root.pem` / `ca-root.key` and `ca-issuing.pem` / `ca-issuing.key`: a two-level test CA
  (RSA 2048, unencrypted keys: the tests sign certslot's requests with `openssl x509 -req`);
* `pending.p8`: the key of a request waiting for the CA's answer, RSA 2048, encrypted PKCS #8
  (PBES2, PBKDF2-HMAC-SHA256 with 2,048 iterations, AES-256-CBC), password `P@ssw0rd`;
* `request.pem`: a request for `CN=pool01.contoso.com` with the DNS names pool01.contoso.com
  and contoso.com, made with `openssl req` from that key;
* the CA's answer to it (leaf signed by `ca-issuing` with `openssl x509 -req`, serial 0x1001,
  valid 730 days from the moment the script runs: OpenSSL 3.0's `x509 -req` takes no start
  date, so the dates are recorded in `expected.json`), as a CA returns it: `answer.der` (the leaf alone),
  `answer-chain.pem` (leaf, issuing CA, root), `answer.p7b` and `answer-p7b.pem`
  (`openssl crl2pkcs7 -nocrl`, DER and PEM), `answer-python.p7b` and `answer-python-p7b.pem`
  (cryptography's `pkcs7.serialize_certificates`, DER and PEM, root first);
* `answer-other-key.pem`: a certificate for another key, which no request here asked for;
* `expected.json`: the SHA-1 thumbprint of every certificate and the chain, leaf first,
  as `openssl x509 -fingerprint` gives them, and the leaf's validity (`openssl x509 -dates`).

The keys are random on each full run, so the thumbprints change when the fixtures are
regenerated; `expected.json` follows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

HERE = Path(__file__).resolve().parent
PASSWORD = "P@ssw0rd"
FILES = [
    "ca-root.pem", "ca-root.key", "ca-issuing.pem", "ca-issuing.key", "pending.p8", "request.pem",
    "answer.der", "answer-chain.pem", "answer.p7b", "answer-p7b.pem", "answer-python.p7b",
    "answer-python-p7b.pem", "answer-other-key.pem", "expected.json",
]


def openssl(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=stdin, check=True, capture_output=True).stdout


def sha1(pem_path: Path) -> str:
    out = openssl("x509", "-in", str(pem_path), "-noout", "-fingerprint", "-sha1").decode()
    return out.strip().split("=", 1)[1].replace(":", "")


def dates(pem_path: Path) -> tuple[str, str]:
    """notBefore and notAfter as RFC 3339 UTC instants."""
    c = x509.load_pem_x509_certificate(pem_path.read_bytes())
    return (c.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"), c.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"))


def ext_file(tmp: Path, name: str, body: str) -> str:
    path = tmp / name
    path.write_text(body)
    return str(path)


def make_ca(tmp: Path) -> None:
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(HERE / "ca-root.key"))
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(HERE / "ca-issuing.key"))
    ca_ext = ext_file(tmp, "ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
                      "subjectKeyIdentifier=hash\n")
    openssl("req", "-new", "-key", str(HERE / "ca-root.key"), "-subj", "/C=US/O=Contoso/CN=Contoso Request Test Root CA",
            "-out", str(tmp / "root.csr"))
    openssl("x509", "-req", "-in", str(tmp / "root.csr"), "-signkey", str(HERE / "ca-root.key"), "-sha256",
            "-days", "3650", "-set_serial", "0x0100", "-extfile", ca_ext, "-out", str(HERE / "ca-root.pem"))
    openssl("req", "-new", "-key", str(HERE / "ca-issuing.key"), "-subj",
            "/C=US/O=Contoso/CN=Contoso Request Test Issuing CA", "-out", str(tmp / "issuing.csr"))
    sign(tmp / "issuing.csr", HERE / "ca-root.pem", HERE / "ca-root.key", "0x0200", ca_ext, HERE / "ca-issuing.pem",
         days=3650)


def sign(csr: Path, ca: Path, ca_key: Path, serial: str, ext: str, out: Path, days: int) -> None:
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-sha256", "-days", str(days),
            "-set_serial", serial, "-extfile", ext, "-out", str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="regenerate every fixture")
    args = parser.parse_args()
    if not args.force and all((HERE / f).exists() for f in FILES):
        print("all request fixtures exist; --force regenerates them")
        return
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        make_ca(tmp)
        # The pending key, as `request new` keeps it.
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(tmp / "pending.key"))
        openssl("pkcs8", "-topk8", "-in", str(tmp / "pending.key"), "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256",
                "-iter", "2048", "-passout", f"pass:{PASSWORD}", "-out", str(HERE / "pending.p8"))
        req_cnf = ext_file(tmp, "req.cnf", "[req]\ndistinguished_name=dn\nreq_extensions=ext\nprompt=no\n"
                           "[dn]\nCN=pool01.contoso.com\n[ext]\nsubjectAltName=DNS:pool01.contoso.com,DNS:contoso.com\n"
                           "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n")
        openssl("req", "-new", "-key", str(tmp / "pending.key"), "-config", req_cnf, "-out", str(HERE / "request.pem"))
        leaf_ext = ext_file(tmp, "leaf.ext", "basicConstraints=critical,CA:FALSE\n"
                            "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n"
                            "subjectAltName=DNS:pool01.contoso.com,DNS:contoso.com\n"
                            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
        leaf = tmp / "leaf.pem"
        sign(HERE / "request.pem", HERE / "ca-issuing.pem", HERE / "ca-issuing.key", "0x1001", leaf_ext, leaf, days=730)
        (HERE / "answer.der").write_bytes(openssl("x509", "-in", str(leaf), "-outform", "DER"))
        chain = [leaf, HERE / "ca-issuing.pem", HERE / "ca-root.pem"]
        chain_pem = b"".join(p.read_bytes() for p in chain)
        (HERE / "answer-chain.pem").write_bytes(chain_pem)
        chain_file = tmp / "chain.pem"
        chain_file.write_bytes(chain_pem)
        (HERE / "answer.p7b").write_bytes(openssl("crl2pkcs7", "-nocrl", "-certfile", str(chain_file), "-outform", "DER"))
        (HERE / "answer-p7b.pem").write_bytes(openssl("crl2pkcs7", "-nocrl", "-certfile", str(chain_file)))
        certs = [x509.load_pem_x509_certificate(p.read_bytes()) for p in reversed(chain)]
        (HERE / "answer-python.p7b").write_bytes(pkcs7.serialize_certificates(certs, Encoding.DER))
        (HERE / "answer-python-p7b.pem").write_bytes(pkcs7.serialize_certificates(certs, Encoding.PEM))
        # A certificate for another key.
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(tmp / "other.key"))
        openssl("req", "-new", "-key", str(tmp / "other.key"), "-config", req_cnf, "-out", str(tmp / "other.csr"))
        sign(tmp / "other.csr", HERE / "ca-issuing.pem", HERE / "ca-issuing.key", "0x1002", leaf_ext,
             HERE / "answer-other-key.pem", days=730)
        expected = {
            "password": PASSWORD,
            "leaf_sha1": sha1(leaf),
            "chain_sha1": [sha1(p) for p in chain],
            "other_key_sha1": sha1(HERE / "answer-other-key.pem"),
            "python_p7b_order_sha1": [sha1(p) for p in reversed(chain)],
            "leaf_not_before": dates(leaf)[0],
            "leaf_not_after": dates(leaf)[1],
        }
        (HERE / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print("request fixtures written")


if __name__ == "__main__":
    sys.exit(main())
