#!/usr/bin/env python3
"""Generate the PKCS#12 (PFX) test fixtures for certslot and record what each must yield.

Usage (from the repository root):

    python3 tests/data/pfx/gen_pfx.py           # no-op if tests/data/pfx/expected.json exists
    python3 tests/data/pfx/gen_pfx.py --force   # regenerate every fixture

Requirements: Python 3.11+, the `cryptography` package (written against 48.x),
the `openssl` command line tool (written against OpenSSL 3.0, with the legacy
provider), and a JDK's `keytool`/`java` (written against Java 17).  The pyca
vectors under vectors/ are copied, never regenerated: they are taken from
/tmp/cv/cryptography_vectors/pkcs12/ when that exists, else from
`pip download --no-deps cryptography-vectors==48.0.0`, and checked against the
SHA-256 sums pinned below.

Everything that goes into the files is fixed in this script (passwords, names,
dates, serials, iteration counts) except the keys, which are freshly random on
each run; so thumbprints change whenever the fixtures are regenerated and
`expected.json` is always rewritten together with them.  Private keys exist
only in a temporary directory while the script runs.

The values in expected.json are read back from each finished file by the
small DER/BER walker and PKCS#12 decryptor in this script (bag order,
attributes, algorithms, iteration counts, which password bytes the MAC key
derivation took), then cross-checked against `openssl pkcs12 -info` (MAC
digest/iterations/salt length, encryption algorithms and iteration counts,
bag order) and against the certificates and key that `openssl pkcs12` and
Python's `load_pkcs12` extract.  Thumbprints are `openssl x509 -fingerprint
-sha1` of each certificate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = Path(__file__).resolve().parent
UTC = dt.timezone.utc

# --------------------------------------------------------------------------
# Fixed inputs
# --------------------------------------------------------------------------

NOT_BEFORE = dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
NOT_AFTER = dt.datetime(2036, 1, 1, 0, 0, 0, tzinfo=UTC)
VALIDITY_DAYS = (NOT_AFTER - NOT_BEFORE).days  # 3652, for keytool -validity

PASSWORD = "P@ssw0rd"                # the example password in Microsoft's Lync docs
PW_NONASCII = "pässwörd"             # Latin-1 range, 2-byte UTF-8 sequences
PW_NONBMP = "\U0001F511key"          # "🔑key": U+1F511 is outside the BMP (surrogate pair)
FRIENDLY = "Contoso OAuth"
FRIENDLY_UNICODE = "Contoso OAuth \u2713 Z\u00fcrich"   # "✓ Zürich", all in the BMP
FRIENDLY_NONBMP = "Contoso \U0001F511"                   # refused by openssl -name
CSP_NAME = "Microsoft Enhanced RSA and AES Cryptographic Provider"
ITER_HIGH = 600000
KDF_ROUNDS_WINDOWS = 2000            # what CryptoAPI's PFXExportCertStoreEx uses

ROOT_SUBJECT = "Contoso PFX Test Root CA"
INTER_SUBJECT = "Contoso PFX Test Issuing CA"
LEAF_CN = "sip.contoso.com"
LEAF_SANS = ["sip.contoso.com", "contoso.com"]

SERIALS = {
    "root-ca": 0x5001,
    "intermediate-ca": 0x5002,
    "rsa2048": 0x5101,
    "rsa2048-next": 0x5102,
    "rsa1024": 0x5103,
    "rsa4096": 0x5104,
    "ec-p256": 0x5105,
    "ec-p384": 0x5106,
}
LEAVES = {  # name -> key spec
    "rsa2048": ("rsa", 2048),
    "rsa2048-next": ("rsa", 2048),
    "rsa1024": ("rsa", 1024),
    "rsa4096": ("rsa", 4096),
    "ec-p256": ("ec", "secp256r1"),
    "ec-p384": ("ec", "secp384r1"),
}

# keytool: fixed start date and alias; the JVM runs in UTC so -startdate is UTC.
KEYTOOL_STARTDATE = NOT_BEFORE.strftime("%Y/%m/%d %H:%M:%S")
KEYTOOL_ALIAS = "contoso-oauth"

# pyca cryptography-vectors 48.0.0, cryptography_vectors/pkcs12/<name>: sha256
VECTORS_VERSION = "48.0.0"
VECTOR_FILES = [
    "cert-key-aes256cbc.p12",
    "cert-rc2-key-3des.p12",
    "cert-none-key-none.p12",
    "no-password.p12",
    "java-truststore.p12",
    "name-unicode-pwd.p12",
    "no-cert-key-aes256cbc.p12",
    "cert-aes256cbc-no-key.p12",
]
VECTOR_PASSWORDS = {  # as used by pyca's tests/hazmat/primitives/test_pkcs12.py, re-verified below
    "cert-key-aes256cbc.p12": "cryptography",
    "cert-rc2-key-3des.p12": "cryptography",
    "cert-none-key-none.p12": "cryptography",
    "no-password.p12": None,
    "java-truststore.p12": None,
    "name-unicode-pwd.p12": "cryptography",
    "no-cert-key-aes256cbc.p12": "cryptography",
    "cert-aes256cbc-no-key.p12": "cryptography",
}
VECTOR_SHA256 = {
    "cert-key-aes256cbc.p12": "a7b8f2cf403ff9054dd7337e0d9bccfb72742b859bd73b1e7833ae800cceb213",
    "cert-rc2-key-3des.p12": "0af54d61e727c41afaa67053ea34251c118cb291de7a57826a37fff9d5ccb4aa",
    "cert-none-key-none.p12": "de7ea73ece83b8172466ff97f00cae0942a460e63f9a130ccf7d784fe7296b1e",
    "no-password.p12": "cc48f8a70f807e6c64cc7e269685ee29ca1d7ed36934bbf882a7f0845515425d",
    "java-truststore.p12": "bffae9d410f390f10444747d3951d22811dab81925bf49321e61e65a5167d790",
    "name-unicode-pwd.p12": "566614621a1c47672437d03f3c3426949bd51720344a36a415f01b3341f0ae75",
    "no-cert-key-aes256cbc.p12": "076c214f982d805ef3cc6670595bc2989694cae98b44ad8f67767dfe10d4ffa8",
    "cert-aes256cbc-no-key.p12": "aea2ba682f526f4425c1dd5f3b98b3817e6b1a64d5cb58c3957703bdc1e82b04",
}

# --------------------------------------------------------------------------
# OIDs
# --------------------------------------------------------------------------

OID_DATA = "1.2.840.113549.1.7.1"
OID_ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
BAG_NAMES = {
    "1.2.840.113549.1.12.10.1.1": "keyBag",
    "1.2.840.113549.1.12.10.1.2": "pkcs8ShroudedKeyBag",
    "1.2.840.113549.1.12.10.1.3": "certBag",
    "1.2.840.113549.1.12.10.1.4": "crlBag",
    "1.2.840.113549.1.12.10.1.5": "secretBag",
    "1.2.840.113549.1.12.10.1.6": "safeContentsBag",
}
BAG_OIDS = {v: k for k, v in BAG_NAMES.items()}
OID_X509_CERT = "1.2.840.113549.1.9.22.1"
OID_FRIENDLY_NAME = "1.2.840.113549.1.9.20"
OID_LOCAL_KEY_ID = "1.2.840.113549.1.9.21"
ATTR_NAMES = {
    OID_FRIENDLY_NAME: "friendlyName",
    OID_LOCAL_KEY_ID: "localKeyId",
    "1.3.6.1.4.1.311.17.1": "msCSPName",
    "1.3.6.1.4.1.311.17.2": "msLocalMachineKeyset",
    "2.5.29.15": "keyUsage",
    "2.16.840.1.113894.746875.1.1": "oracleTrustedKeyUsage",
}
PBES1 = {  # PKCS#12 appendix C: oid -> (name, cipher, key length, iv length)
    "1.2.840.113549.1.12.1.1": ("pbeWithSHAAnd128BitRC4", "rc4", 16, 0),
    "1.2.840.113549.1.12.1.2": ("pbeWithSHAAnd40BitRC4", "rc4", 5, 0),
    "1.2.840.113549.1.12.1.3": ("pbeWithSHAAnd3-KeyTripleDES-CBC", "3des", 24, 8),
    "1.2.840.113549.1.12.1.4": ("pbeWithSHAAnd2-KeyTripleDES-CBC", "3des", 16, 8),
    "1.2.840.113549.1.12.1.5": ("pbeWithSHAAnd128BitRC2-CBC", "rc2", 16, 8),
    "1.2.840.113549.1.12.1.6": ("pbeWithSHAAnd40BitRC2-CBC", "rc2", 5, 8),
}
PBES1_OIDS = {v[0]: k for k, v in PBES1.items()}
OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
PRFS = {
    "1.2.840.113549.2.7": "sha1",
    "1.2.840.113549.2.8": "sha224",
    "1.2.840.113549.2.9": "sha256",
    "1.2.840.113549.2.10": "sha384",
    "1.2.840.113549.2.11": "sha512",
    "1.2.840.113549.2.12": "sha512_224",
    "1.2.840.113549.2.13": "sha512_256",
}
PRF_OIDS = {v: k for k, v in PRFS.items()}
CIPHERS = {  # oid -> (name, kind, key length)
    "2.16.840.1.101.3.4.1.2": ("aes128-CBC", "aes", 16),
    "2.16.840.1.101.3.4.1.22": ("aes192-CBC", "aes", 24),
    "2.16.840.1.101.3.4.1.42": ("aes256-CBC", "aes", 32),
    "1.2.840.113549.3.7": ("des-EDE3-CBC", "3des", 24),
    "1.3.14.3.2.7": ("desCBC", "des", 8),
}
CIPHER_OIDS = {v[0]: k for k, v in CIPHERS.items()}
DIGESTS = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "2.16.840.1.101.3.4.2.5": "sha512_224",
    "2.16.840.1.101.3.4.2.6": "sha512_256",
    "1.2.840.113549.2.5": "md5",
}
DIGEST_OIDS = {v: k for k, v in DIGESTS.items()}
HMAC_PRF_NAMES = {v: "hmacWith" + v.upper().replace("_", "-") for v in PRFS.values()}
OID_RSA = "1.2.840.113549.1.1.1"
OID_EC = "1.2.840.10045.2.1"


def json_digest(name: str) -> str:
    """hashlib name -> the name used in expected.json ("sha512-224")."""
    return name.replace("_", "-")


# --------------------------------------------------------------------------
# DER / BER: a small TLV parser and writer (low tag numbers only, which is all
# PKCS#12 uses)
# --------------------------------------------------------------------------

class Node:
    """One TLV.  `children` is a list for constructed encodings, else None and
    `value` holds the content octets.  `indefinite` selects the 0x80 length
    form when written.  `ber` collects non-DER features seen while parsing."""

    __slots__ = ("tag", "value", "children", "indefinite", "nonminimal")

    def __init__(self, tag: int, value: bytes | None = None,
                 children: list[Node] | None = None, indefinite: bool = False):
        self.tag = tag
        self.value = value
        self.children = children
        self.indefinite = indefinite
        self.nonminimal = False

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def octets(self) -> bytes:
        """Content octets, concatenating the segments of a constructed string."""
        if self.children is None:
            return self.value
        return b"".join(c.octets() for c in self.children)

    def __getitem__(self, i: int) -> Node:
        return self.children[i]

    def __len__(self) -> int:
        return len(self.children)


def parse_len(buf: bytes, pos: int) -> tuple[int | None, int, bool]:
    """Return (length or None for indefinite, new pos, non-minimal?)."""
    b = buf[pos]
    pos += 1
    if b < 0x80:
        return b, pos, False
    if b == 0x80:
        return None, pos, False
    n = b & 0x7F
    if n > 4 or pos + n > len(buf):
        raise ValueError("bad length")
    length = int.from_bytes(buf[pos:pos + n], "big")
    nonmin = length < 0x80 or buf[pos] == 0
    return length, pos + n, nonmin


def parse(buf: bytes, pos: int = 0, end: int | None = None) -> tuple[Node, int]:
    """Parse one TLV at pos.  Constructed encodings are parsed recursively."""
    end = len(buf) if end is None else end
    if pos + 2 > end:
        raise ValueError("truncated")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag numbers not supported")
    length, pos, nonmin = parse_len(buf, pos + 1)
    if length is None:
        if not tag & 0x20:
            raise ValueError("indefinite length on a primitive")
        kids = []
        while True:
            if buf[pos:pos + 2] == b"\x00\x00":
                pos += 2
                break
            kid, pos = parse(buf, pos, end)
            kids.append(kid)
        n = Node(tag, children=kids, indefinite=True)
        return n, pos
    stop = pos + length
    if stop > end:
        raise ValueError("length past end")
    if tag & 0x20:
        kids = []
        p = pos
        while p < stop:
            kid, p = parse(buf, p, stop)
            kids.append(kid)
        n = Node(tag, children=kids)
    else:
        n = Node(tag, value=bytes(buf[pos:stop]))
    n.nonminimal = nonmin
    return n, stop


def parse_all(buf: bytes) -> Node:
    n, p = parse(buf)
    if p != len(buf):
        raise ValueError(f"{len(buf) - p} trailing bytes")
    return n


def ber_features(n: Node, out: set | None = None) -> set:
    out = set() if out is None else out
    if n.indefinite:
        out.add("indefinite-length")
    if n.nonminimal:
        out.add("non-minimal-length")
    if n.children is not None:
        if n.tag in (0x24, 0x23, 0x3E, 0x2C):  # constructed OCTET/BIT/BMP/UTF8 STRING
            out.add("constructed-string")
        for c in n.children:
            ber_features(c, out)
    return out


def enc_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + enc_len(len(content)) + content


def encode(n: Node) -> bytes:
    if n.children is None:
        return tlv(n.tag, n.value)
    content = b"".join(encode(c) for c in n.children)
    if n.indefinite:
        return bytes([n.tag, 0x80]) + content + b"\x00\x00"
    return tlv(n.tag, content)


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def set_of(*parts: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(parts)))  # DER SET OF: sorted encodings


def octet(b: bytes) -> bytes:
    return tlv(0x04, b)


def integer(v: int) -> bytes:
    n = max(1, (v.bit_length() + 8) // 8)
    return tlv(0x02, v.to_bytes(n, "big", signed=True))


def explicit(n: int, inner: bytes) -> bytes:
    return tlv(0xA0 | n, inner)


def bmpstring(s: str) -> bytes:
    return tlv(0x1E, s.encode("utf-16-be"))


NULL = b"\x05\x00"


def oid_enc(s: str) -> bytes:
    arcs = [int(a) for a in s.split(".")]
    out = bytearray()
    for v in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [v & 0x7F]
        v >>= 7
        while v:
            chunk.append(0x80 | (v & 0x7F))
            v >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def oid_dec(b: bytes) -> str:
    arcs, v = [], 0
    for x in b:
        v = (v << 7) | (x & 0x7F)
        if not x & 0x80:
            arcs.append(v)
            v = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first] + arcs[1:])


def int_dec(b: bytes) -> int:
    return int.from_bytes(b, "big", signed=True)


def node_oid(n: Node) -> str:
    assert n.tag == 0x06, hex(n.tag)
    return oid_dec(n.value)


def chunked(tag_constructed: int, data: bytes, size: int, indefinite: bool = True) -> Node:
    """A constructed string (tag_constructed, e.g. 0x24 or 0xA0) holding OCTET
    STRING segments of `size` bytes, the way BER streaming encoders write."""
    kids = [Node(0x04, value=data[i:i + size]) for i in range(0, len(data), size)] or [
        Node(0x04, value=b"")]
    return Node(tag_constructed, children=kids, indefinite=indefinite)


# --------------------------------------------------------------------------
# PKCS#12 crypto: RFC 7292 appendix B KDF, PBES1 (appendix C), PBES2 (RFC 8018), MAC
# --------------------------------------------------------------------------

def p12_kdf(hash_name: str, password: bytes, salt: bytes, ident: int, iterations: int,
            n: int) -> bytes:
    """RFC 7292 B.2.  `password` is already the formatted bytes (BMPString with
    its two-zero terminator, or b"" for a NULL password)."""
    h = hashlib.new(hash_name)
    u, v = h.digest_size, h.block_size
    d = bytes([ident]) * v

    def stretch(x: bytes) -> bytes:
        if not x:
            return b""
        k = v * ((len(x) + v - 1) // v)
        return (x * (k // len(x) + 1))[:k]

    i_ = bytearray(stretch(salt) + stretch(password))
    out = b""
    while len(out) < n:
        a = hashlib.new(hash_name, d + bytes(i_)).digest()
        for _ in range(iterations - 1):
            a = hashlib.new(hash_name, a).digest()
        out += a
        b = int.from_bytes((a * (v // u + 1))[:v], "big")
        for j in range(0, len(i_), v):
            ij = (int.from_bytes(i_[j:j + v], "big") + b + 1) % (1 << (8 * v))
            i_[j:j + v] = ij.to_bytes(v, "big")
    return out[:n]


def bmp_password(pw: str | None) -> bytes:
    """RFC 7292 B.1: BMPString (UTF-16BE, so a non-BMP character becomes a
    surrogate pair) plus two zero bytes; a NULL password is zero bytes."""
    if pw is None:
        return b""
    return pw.encode("utf-16-be") + b"\x00\x00"


def pbes1_candidates(pw: str | None) -> list[tuple[str, bytes]]:
    """Formatted-password candidates tried when reading, most likely first.
    The label that works is recorded in expected.json."""
    if pw is None:
        return [("empty (NULL password, no bytes)", b""),
                ("BMPString 00 00 (empty password)", b"\x00\x00")]
    if pw == "":
        return [("BMPString 00 00 (empty password)", b"\x00\x00"),
                ("empty (NULL password, no bytes)", b"")]
    c = [("BMPString UTF-16BE + 00 00", bmp_password(pw))]
    if any(ord(ch) > 0x7F for ch in pw):
        c.append(("each UTF-8 byte widened to 16 bits + 00 00",
                  b"".join(b"\x00" + bytes([x]) for x in pw.encode()) + b"\x00\x00"))
    c.append(("BMPString without terminator", pw.encode("utf-16-be")))
    return c


def unpad(b: bytes, bs: int) -> bytes:
    n = b[-1] if b else 0
    if not 1 <= n <= bs or b[-n:] != bytes([n]) * n:
        raise ValueError("bad padding")
    return b[:-n]


def pad(b: bytes, bs: int) -> bytes:
    n = bs - len(b) % bs
    return b + bytes([n]) * n


def openssl_rc2(key: bytes, iv: bytes, data: bytes, decrypt: bool) -> bytes:
    """RC2-CBC with effective key bits = 8 * len(key) (what the PKCS#12 RC2
    PBEs use); `cryptography` only offers 128-bit RC2 keys, so use the CLI."""
    cipher = {5: "rc2-40-cbc", 16: "rc2-cbc"}[len(key)]
    r = subprocess.run(["openssl", "enc", "-" + cipher, "-d" if decrypt else "-e",
                        "-K", key.hex(), "-iv", iv.hex(),
                        "-provider", "legacy", "-provider", "default"],
                       input=data, capture_output=True)
    if r.returncode != 0:
        raise ValueError("rc2: " + r.stderr.decode(errors="replace").strip())
    return r.stdout


def block_cipher(kind: str, key: bytes, iv: bytes, data: bytes, decrypt: bool) -> bytes:
    if kind == "rc2":
        return openssl_rc2(key, iv, data, decrypt)
    if kind == "rc4":
        c = Cipher(ARC4(key), mode=None)
        return (c.decryptor() if decrypt else c.encryptor()).update(data)
    if kind == "aes":
        alg, bs = algorithms.AES(key), 16
    elif kind == "3des":
        alg, bs = TripleDES(key), 8
    elif kind == "des":
        alg, bs = TripleDES(key * 3), 8
    else:
        raise ValueError(kind)
    c = Cipher(alg, modes.CBC(iv))
    if decrypt:
        d = c.decryptor()
        return unpad(d.update(data) + d.finalize(), bs)
    e = c.encryptor()
    return e.update(pad(data, bs)) + e.finalize()


def looks_like_der_seq(b: bytes) -> bool:
    try:
        n = parse_all(b)
        return n.tag == 0x30
    except Exception:
        return False


def describe_and_decrypt(alg: Node, data: bytes, pw: str | None) -> tuple[dict, bytes | None]:
    """Decrypt `data` under AlgorithmIdentifier `alg`.  Returns (description, plaintext)."""
    oid = node_oid(alg[0])
    if oid in PBES1:
        name, kind, klen, ivlen = PBES1[oid]
        params = alg[1]
        salt, iters = params[0].octets(), int_dec(params[1].value) if len(params) > 1 else 1
        desc = {"scheme": name, "oid": oid, "iterations": iters, "salt_len": len(salt)}
        for label, pwb in pbes1_candidates(pw):
            key = p12_kdf("sha1", pwb, salt, 1, iters, klen)
            iv = p12_kdf("sha1", pwb, salt, 2, iters, ivlen) if ivlen else b""
            try:
                pt = block_cipher(kind, key, iv, data, True)
            except Exception:
                continue
            if looks_like_der_seq(pt):
                desc["password_bytes"] = label
                return desc, pt
        desc["password_bytes"] = None
        return desc, None
    if oid == OID_PBES2:
        kdf, scheme = alg[1][0], alg[1][1]
        if node_oid(kdf[0]) != OID_PBKDF2:
            raise ValueError("unsupported KDF " + node_oid(kdf[0]))
        kp = kdf[1]
        salt = kp[0].octets()
        iters = int_dec(kp[1].value)
        key_len = None
        prf = "sha1"
        prf_explicit = False
        for extra in kp.children[2:]:
            if extra.tag == 0x02:
                key_len = int_dec(extra.value)
            elif extra.tag == 0x30:
                prf = PRFS[node_oid(extra[0])]
                prf_explicit = True
        cname, kind, klen = CIPHERS[node_oid(scheme[0])]
        iv = scheme[1].octets()
        desc = {"scheme": f"PBES2/PBKDF2-{HMAC_PRF_NAMES[prf]}/{cname}", "oid": oid,
                "iterations": iters, "salt_len": len(salt), "prf": HMAC_PRF_NAMES[prf],
                "prf_explicit": prf_explicit, "key_length_field": key_len, "cipher": cname}
        pwb = b"" if pw is None else pw.encode("utf-8")
        key = PBKDF2HMAC(getattr(hashes, prf.upper())(), klen, salt, iters).derive(pwb)
        try:
            pt = block_cipher(kind, key, iv, data, True)
        except Exception:
            return {**desc, "password_bytes": None}, None
        return {**desc, "password_bytes": "UTF-8, no terminator"}, pt
    raise ValueError("unsupported encryption " + oid)


def mac_key_and_value(digest: str, pwb: bytes, salt: bytes, iters: int, data: bytes) -> bytes:
    u = hashlib.new(digest).digest_size
    key = p12_kdf(digest, pwb, salt, 3, iters, u)
    return hmac.new(key, data, digest).digest()


def pbes1_params(salt: bytes, iters: int) -> bytes:
    return seq(octet(salt), integer(iters))


def encrypt_pbes1(name: str, data: bytes, pw: str, iters: int,
                  salt: bytes) -> tuple[bytes, bytes]:
    """AlgorithmIdentifier || ciphertext for a PKCS#12 PBE (3DES/2DES/RC4 only)."""
    oid = PBES1_OIDS[name]
    _, kind, klen, ivlen = PBES1[oid]
    pwb = bmp_password(pw)
    key = p12_kdf("sha1", pwb, salt, 1, iters, klen)
    iv = p12_kdf("sha1", pwb, salt, 2, iters, ivlen) if ivlen else b""
    alg = seq(oid_enc(oid), pbes1_params(salt, iters))
    return alg, block_cipher(kind, key, iv, data, False)


def encrypt_pbes2(data: bytes, pw: str, iters: int, salt: bytes, prf: str, cipher: str,
                  explicit_prf: bool = False, key_length_field: bool = False) -> tuple[bytes, bytes]:
    """PBES2/PBKDF2 AlgorithmIdentifier and ciphertext.  The prf is written when
    it is not hmacWithSHA1 (its DEFAULT) or when explicit_prf is set."""
    coid = CIPHER_OIDS[cipher]
    _, kind, klen = CIPHERS[coid]
    iv = os.urandom(16 if kind == "aes" else 8)
    key = PBKDF2HMAC(getattr(hashes, prf.upper())(), klen, salt, iters).derive(pw.encode())
    params = [octet(salt), integer(iters)]
    if key_length_field:
        params.append(integer(klen))
    if prf != "sha1" or explicit_prf:
        params.append(seq(oid_enc(PRF_OIDS[prf]), NULL))
    alg = seq(oid_enc(OID_PBES2),
              seq(seq(oid_enc(OID_PBKDF2), seq(*params)), seq(oid_enc(coid), octet(iv))))
    return alg, block_cipher(kind, key, iv, data, False)


# --------------------------------------------------------------------------
# Reading a finished file back: the walker that fills expected.json
# --------------------------------------------------------------------------

STRING_TAGS = {0x1E: "BMPString", 0x0C: "UTF8String", 0x13: "PrintableString",
               0x16: "IA5String", 0x04: "OCTET STRING", 0x03: "BIT STRING", 0x06: "OBJECT"}


def attr_value(n: Node) -> dict:
    t = STRING_TAGS.get(n.tag, f"tag 0x{n.tag:02X}")
    v = n.octets() if (n.children is None or n.tag in (0x24, 0x3E, 0x2C)) else encode(n)
    if n.tag == 0x1E:
        return {"type": t, "value": v.decode("utf-16-be", errors="surrogatepass")}
    if n.tag == 0x0C:
        return {"type": t, "value": v.decode("utf-8", errors="replace")}
    if n.tag == 0x06:
        return {"type": t, "value": oid_dec(v)}
    return {"type": t, "hex": v.hex().upper()}


def key_facts(pk8: bytes) -> dict:
    k = serialization.load_der_private_key(pk8, None)
    spki = k.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    info = parse_all(pk8)
    if isinstance(k, rsa.RSAPrivateKey):
        alg, bits = "rsa", k.key_size
    elif isinstance(k, ec.EllipticCurvePrivateKey):
        alg, bits = "ec", k.curve.key_size
    else:
        raise ValueError("unexpected key type " + type(k).__name__)
    pk8_attrs = [c for c in info.children[3:] if c.tag == 0xA0]
    return {"algorithm": alg, "bits": bits,
            "spki_sha256": hashlib.sha256(spki).hexdigest().upper(),
            "pkcs8_version": int_dec(info[0].value),
            "pkcs8_attributes": [oid_dec(a[0].value) for a in pk8_attrs[0].children]
            if pk8_attrs else []}


def cert_spki_sha256(der: bytes) -> str:
    c = x509.load_der_x509_certificate(der)
    spki = c.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest().upper()


def walk_safe_contents(sc: bytes, pw: str | None, container: int, bags: list,
                       depth: int = 0) -> None:
    root = parse_all(sc)
    for bag in root.children:
        bag_oid = node_oid(bag[0])
        btype = BAG_NAMES.get(bag_oid, bag_oid)
        value = bag[1][0]  # [0] EXPLICIT
        rec: dict = {"type": btype, "container": container, "nesting": depth,
                     "friendly_name": None, "local_key_id": None, "attributes": []}
        if len(bag) > 2:
            for a in bag[2].children:
                aoid = node_oid(a[0])
                vals = [attr_value(v) for v in a[1].children]
                rec["attributes"].append({"oid": aoid, "name": ATTR_NAMES.get(aoid),
                                          "values": vals})
                if aoid == OID_FRIENDLY_NAME and vals:
                    rec["friendly_name"] = vals[0].get("value")
                    if vals[0]["type"] != "BMPString":
                        rec["friendly_name_type"] = vals[0]["type"]
                elif aoid == OID_LOCAL_KEY_ID and vals:
                    rec["local_key_id"] = vals[0].get("hex")
        if btype == "certBag":
            rec["cert_type"] = node_oid(value[0])
            der = value[1][0].octets()
            rec["cert_der"] = der
        elif btype == "keyBag":
            rec["pkcs8"] = encode(value)
        elif btype == "pkcs8ShroudedKeyBag":
            desc, pt = describe_and_decrypt(value[0], value[1].octets(), pw)
            rec["encryption"] = desc
            rec["pkcs8"] = pt
        elif btype == "safeContentsBag":
            bags.append(rec)
            walk_safe_contents(encode(value), pw, container, bags, depth + 1)
            continue
        bags.append(rec)


def analyze(data: bytes, pw: str | None) -> dict:
    """Walk a PFX: MAC, containers, bags, in file order."""
    pfx = parse_all(data)
    out: dict = {"ber_features": sorted(ber_features(pfx))}
    out["version"] = int_dec(pfx[0].value)
    auth_ci = pfx[1]
    if node_oid(auth_ci[0]) != OID_DATA:
        raise ValueError("authSafe is not id-data (public-key integrity mode not handled)")
    auth = auth_ci[1][0].octets()
    mac = None
    if len(pfx) > 2:
        md = pfx[2]
        digest = DIGESTS[node_oid(md[0][0][0])]
        alg_params = [c for c in md[0][0].children[1:]]
        value = md[0][1].octets()
        salt = md[1].octets()
        iters = int_dec(md[2].value) if len(md) > 2 else 1
        mac = {"digest": json_digest(digest), "iterations": iters, "salt_len": len(salt),
               "iterations_encoded": len(md) > 2,
               "digest_params": "NULL" if alg_params and alg_params[0].tag == 0x05
               else ("absent" if not alg_params else "other"),
               "mac_len": len(value), "password_bytes": None}
        for label, pwb in pbes1_candidates(pw):
            if hmac.compare_digest(mac_key_and_value(digest, pwb, salt, iters, auth), value):
                mac["password_bytes"] = label
                break
    out["mac"] = mac
    authsafe = parse_all(auth)
    containers, bags = [], []
    for i, ci in enumerate(authsafe.children):
        t = node_oid(ci[0])
        if t == OID_DATA:
            containers.append({"type": "data", "encryption": None})
            walk_safe_contents(ci[1][0].octets(), pw, i, bags)
        elif t == OID_ENCRYPTED_DATA:
            ed = ci[1][0]
            eci = ed[1]
            enc_content = eci[2]
            desc, pt = describe_and_decrypt(eci[1], enc_content.octets(), pw)
            containers.append({"type": "encryptedData", "encryption": desc,
                               "encrypted_content_constructed": enc_content.children is not None})
            if pt is None:
                raise ValueError("could not decrypt encryptedData " + json.dumps(desc))
            walk_safe_contents(pt, pw, i, bags)
        else:
            containers.append({"type": t, "encryption": "unsupported"})
    out["containers"] = containers
    out["bags"] = bags
    return out


def summarize(an: dict, thumb) -> dict:
    """Turn analyze() output into the expected.json fields.  `thumb(der)` gives
    the openssl SHA-1 fingerprint of a certificate."""
    bags = an["bags"]
    certs = [b for b in bags if b["type"] == "certBag"]
    keys = [b for b in bags if b["type"] in ("keyBag", "pkcs8ShroudedKeyBag")]
    cert_info = []
    for b in certs:
        cert_info.append({"sha1": thumb(b["cert_der"]),
                          "spki_sha256": cert_spki_sha256(b["cert_der"])})
    key_list = []
    for b in keys:
        if b.get("pkcs8") is None:
            key_list.append({"decrypted": False})
            continue
        kf = key_facts(b["pkcs8"])
        match = [c["sha1"] for c in cert_info if c["spki_sha256"] == kf["spki_sha256"]]
        kf["leaf_sha1"] = match[0] if match else None
        key_list.append(kf)
    first = key_list[0] if key_list else None

    def container_enc(idx: int):
        c = an["containers"][idx]
        return {"scheme": "none", "iterations": None} if c["encryption"] is None \
            else strip_enc(c["encryption"])

    def strip_enc(d: dict) -> dict:
        return {k: v for k, v in d.items() if k not in ("oid",)}

    cert_enc = None
    if certs:
        encs = []
        for b in certs:
            e = container_enc(b["container"])
            if e not in encs:
                encs.append(e)
        cert_enc = encs[0] if len(encs) == 1 else encs
    key_enc = None
    if keys:
        b = keys[0]
        if b["type"] == "pkcs8ShroudedKeyBag":
            key_enc = strip_enc(b["encryption"])
        else:
            key_enc = container_enc(b["container"])
            if key_enc["scheme"] != "none":
                key_enc = {**key_enc, "note": "plain keyBag inside an encryptedData container"}
            else:
                key_enc = {"scheme": "none", "iterations": None}
    bag_list = []
    for b in bags:
        e = {"type": b["type"], "container": b["container"]}
        if b["nesting"]:
            e["nesting"] = b["nesting"]
        if b["type"] == "certBag":
            e["cert_sha1"] = thumb(b["cert_der"])
        elif b["type"] in ("keyBag", "pkcs8ShroudedKeyBag") and b.get("pkcs8"):
            e["key_spki_sha256"] = key_facts(b["pkcs8"])["spki_sha256"]
        e["friendly_name"] = b["friendly_name"]
        if "friendly_name_type" in b:
            e["friendly_name_type"] = b["friendly_name_type"]
        e["local_key_id"] = b["local_key_id"]
        e["attributes"] = b["attributes"]
        bag_list.append(e)
    return {
        "leaf_sha1": first["leaf_sha1"] if first else None,
        "all_cert_sha1": [c["sha1"] for c in cert_info],
        "has_key": bool(keys),
        "key_algorithm": first["algorithm"] if first else None,
        "key_bits": first["bits"] if first else None,
        "key_spki_sha256": first["spki_sha256"] if first else None,
        "keys": [{k: v for k, v in kf.items()} for kf in key_list],
        "friendly_names": [b["friendly_name"] for b in bags if b["type"] != "safeContentsBag"],
        "local_key_ids": [b["local_key_id"] for b in bags if b["type"] != "safeContentsBag"],
        "mac": an["mac"],
        "cert_encryption": cert_enc,
        "key_encryption": key_enc,
        "containers": [{"type": c["type"],
                        "encryption": (c["encryption"] or {}).get("scheme", "none"),
                        **({"encrypted_content_constructed": True}
                           if c.get("encrypted_content_constructed") else {})}
                       for c in an["containers"]],
        "bags": bag_list,
        "version": an["version"],
        "encoding": "BER" if an["ber_features"] else "DER",
        "ber_features": an["ber_features"],
    }


# --------------------------------------------------------------------------
# The certificate hierarchy (Python cryptography)
# --------------------------------------------------------------------------

def contoso(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Contoso"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def new_key(spec: tuple):
    if spec[0] == "rsa":
        return rsa.generate_private_key(65537, spec[1])
    return ec.generate_private_key({"secp256r1": ec.SECP256R1(),
                                    "secp384r1": ec.SECP384R1()}[spec[1]])


def make_cert(subject: x509.Name, key, issuer_name: x509.Name, issuer_key, serial: int,
              ca: bool, pathlen: int | None = None):
    pub = key.public_key()
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(pub).serial_number(serial)
         .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             issuer_key.public_key()), critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                          False, False), critical=True)
    else:
        is_rsa = isinstance(key, rsa.RSAPrivateKey)
        # digitalSignature (+ keyEncipherment for RSA; an EC key cannot encipher)
        b = b.add_extension(x509.KeyUsage(True, False, is_rsa, False, False, False, False,
                                          False, False), critical=True)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                   ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False)
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(n) for n in LEAF_SANS]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Hierarchy:
    """Root, intermediate and leaves.  Certs go to HERE; keys stay in tmp."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.keys: dict = {}
        self.certs: dict = {}
        root_key = new_key(("rsa", 2048))
        root = make_cert(contoso(ROOT_SUBJECT), root_key, contoso(ROOT_SUBJECT), root_key,
                         SERIALS["root-ca"], True)
        inter_key = new_key(("rsa", 2048))
        inter = make_cert(contoso(INTER_SUBJECT), inter_key, contoso(ROOT_SUBJECT), root_key,
                          SERIALS["intermediate-ca"], True, 0)
        self.keys["root-ca"], self.certs["root-ca"] = root_key, root
        self.keys["intermediate-ca"], self.certs["intermediate-ca"] = inter_key, inter
        for name, spec in LEAVES.items():
            k = new_key(spec)
            self.keys[name] = k
            self.certs[name] = make_cert(contoso(LEAF_CN), k, contoso(INTER_SUBJECT), inter_key,
                                         SERIALS[name], False)
        for name, c in self.certs.items():
            (HERE / f"{name}.crt.pem").write_bytes(pem(c))
            (tmp / f"{name}.crt.pem").write_bytes(pem(c))
        for name in LEAVES:
            (tmp / f"{name}.key.pem").write_bytes(key_pem(self.keys[name]))
        (tmp / "ca-chain.pem").write_bytes(pem(inter) + pem(root))

    def der(self, name: str) -> bytes:
        return self.certs[name].public_bytes(serialization.Encoding.DER)

    def pk8(self, name: str) -> bytes:
        return self.keys[name].private_bytes(serialization.Encoding.DER,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())


# --------------------------------------------------------------------------
# Running tools
# --------------------------------------------------------------------------

def run(args: list[str], input: bytes | None = None, check: bool = True,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(args, input=input, capture_output=True, cwd=cwd)
    if check and r.returncode != 0:
        raise RuntimeError(f"{shlex.join(args)} failed ({r.returncode}):\n"
                           + r.stderr.decode(errors="replace"))
    return r


def shown(args: list[str], tmp: Path) -> str:
    """The command as recorded in expected.json: temp paths shown as $TMP/,
    output paths relative to tests/data/pfx."""
    s = shlex.join(args)
    s = s.replace(str(tmp) + "/", "$TMP/").replace(str(HERE) + "/", "")
    return s


_THUMBS: dict[bytes, str] = {}


def thumb(der: bytes) -> str:
    """`openssl x509 -fingerprint -sha1`, cross-checked with hashlib."""
    if der not in _THUMBS:
        out = run(["openssl", "x509", "-inform", "DER", "-noout", "-fingerprint", "-sha1"],
                  input=der).stdout.decode()
        fp = out.strip().split("=", 1)[1].replace(":", "").upper()
        assert fp == hashlib.sha1(der).hexdigest().upper()
        _THUMBS[der] = fp
    return _THUMBS[der]


def pem_blocks(text: bytes, label: str) -> list[bytes]:
    pat = re.compile(rb"-----BEGIN " + label.encode() + rb"-----(.*?)-----END "
                     + label.encode() + rb"-----", re.S)
    import base64
    return [base64.b64decode(b"".join(m.group(1).split())) for m in pat.finditer(text)]
