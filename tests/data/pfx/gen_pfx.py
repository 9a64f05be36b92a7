#!/usr/bin/env python3
"""Generate the PKCS#12 (PFX) test fixtures for certslot and record what each must yield.

Usage (from the repository root):

    python3 tests/data/pfx/gen_pfx.py           # add missing `openssl pkcs12` files only
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

Without --force no existing file is rewritten: when expected.json exists the
script makes only the files of OPENSSL_SPECS that are missing (added to the
list after the last full run), with the leaf's key taken back out of an
existing file made from the same leaf (so the new files hold the same key and
certificate as the old ones), records them in expected.json next to the
existing entries and rewrites README.md.

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
import warnings
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
    "name-unicode-pwd.p12": "password",
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
    "2.16.840.1.101.3.4.2.7": "sha3_224",
    "2.16.840.1.101.3.4.2.8": "sha3_256",
    "2.16.840.1.101.3.4.2.9": "sha3_384",
    "2.16.840.1.101.3.4.2.10": "sha3_512",
    "1.3.6.1.4.1.1722.12.2.1.16": "blake2b512",   # RFC 7693 4, id-blake2b512
    "1.3.6.1.4.1.1722.12.2.2.8": "blake2s256",    # RFC 7693 4, id-blake2s256
    "1.2.840.113549.2.5": "md5",
}
DIGEST_OIDS = {v: k for k, v in DIGESTS.items()}
# hashlib's names where they differ from OpenSSL's (which expected.json uses)
HASHLIB_NAMES = {"blake2b512": "blake2b", "blake2s256": "blake2s"}


def hashlib_name(name: str) -> str:
    """The hashlib name of a DIGESTS value.  hashlib's blake2b/blake2s default to the
    64/32-octet outputs and report OpenSSL's block sizes (128/64); its SHA-3 block sizes
    are the rates (144, 136, 104, 72), which OpenSSL's PKCS12_key_gen also takes as v."""
    return HASHLIB_NAMES.get(name, name)
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
    hash_name = hashlib_name(hash_name)
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


EMPTY_BMP = "BMPString 00 00 (empty password)"
NULL_PW = "empty (NULL password, no bytes)"


def pbes1_candidates(pw: str | None) -> list[tuple[str, bytes]]:
    """Formatted-password candidates tried when reading, most likely first.
    The label that works is recorded in expected.json."""
    if pw is None:
        return [(NULL_PW, b""), (EMPTY_BMP, b"\x00\x00")]
    if pw == "":
        return [(EMPTY_BMP, b"\x00\x00"), (NULL_PW, b"")]
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
    elif kind == "3des":  # a 16-byte (two-key) key means K3 = K1
        alg, bs = TripleDES(key if len(key) == 24 else key + key[:8]), 8
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
    digest = hashlib_name(digest)
    u = hashlib.new(digest).digest_size
    key = p12_kdf(digest, pwb, salt, 3, iters, u)
    return hmac.new(key, data, digest).digest()


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


# --------------------------------------------------------------------------
# Producers.  Each adds a record {file, password, made_with, what, notes...}.
# --------------------------------------------------------------------------

LEGACY_PROVIDER = ["-provider", "legacy", "-provider", "default"]

# (file stem, what it tests, options).  Options: leaf, pw, name (None = no -name),
# args (extra openssl args), certfile, nokeys, nocerts, pw_note, note
OPENSSL_SPECS: list[tuple[str, str, dict]] = [
    ("openssl3-default", "OpenSSL 3 defaults: PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC for both, "
     "2048 iterations, HMAC-SHA256 MAC", {}),
    ("openssl3-legacy", "-legacy: certs pbeWithSHAAnd40BitRC2-CBC, key "
     "pbeWithSHAAnd3-KeyTripleDES-CBC, HMAC-SHA1 MAC (the OpenSSL 1.x defaults)",
     {"args": ["-legacy"]}),
    ("openssl3-3des", "PKCS#12 PBE SHA1/3DES for certs and key, SHA-1 MAC, default provider only",
     {"args": ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"]}),
    ("openssl3-2des", "PKCS#12 PBE SHA1/2-key 3DES (16-byte key, K3 = K1) for both",
     {"args": ["-keypbe", "PBE-SHA1-2DES", "-certpbe", "PBE-SHA1-2DES"] + LEGACY_PROVIDER}),
    ("openssl3-rc2-128", "PKCS#12 PBE SHA1/RC2-128-CBC for both (key too, to test RC2 on the "
     "shrouded key bag)",
     {"args": ["-keypbe", "PBE-SHA1-RC2-128", "-certpbe", "PBE-SHA1-RC2-128"] + LEGACY_PROVIDER}),
    ("openssl3-rc2-40", "PKCS#12 PBE SHA1/RC2-40-CBC for both (effective key bits 40)",
     {"args": ["-keypbe", "PBE-SHA1-RC2-40", "-certpbe", "PBE-SHA1-RC2-40"] + LEGACY_PROVIDER}),
    ("openssl3-rc4-128", "PKCS#12 PBE SHA1/RC4-128 (stream cipher, no IV, no padding) for both",
     {"args": ["-keypbe", "PBE-SHA1-RC4-128", "-certpbe", "PBE-SHA1-RC4-128"] + LEGACY_PROVIDER}),
    ("openssl3-rc4-40", "PKCS#12 PBE SHA1/RC4-40 for both",
     {"args": ["-keypbe", "PBE-SHA1-RC4-40", "-certpbe", "PBE-SHA1-RC4-40"] + LEGACY_PROVIDER}),
    ("openssl3-aes128", "PBES2/PBKDF2-HMAC-SHA256/AES-128-CBC for both",
     {"args": ["-keypbe", "AES-128-CBC", "-certpbe", "AES-128-CBC"]}),
    ("openssl3-aes192", "PBES2/PBKDF2-HMAC-SHA256/AES-192-CBC for both",
     {"args": ["-keypbe", "AES-192-CBC", "-certpbe", "AES-192-CBC"]}),
    ("openssl3-des3-pbes2", "PBES2/PBKDF2-HMAC-SHA256/DES-EDE3-CBC for both (PBES2, not the "
     "PKCS#12 PBE)", {"args": ["-keypbe", "DES-EDE3-CBC", "-certpbe", "DES-EDE3-CBC"]}),
    ("openssl3-descert", "-descert: certs PKCS#12 PBE SHA1/3DES, key PBES2/AES-256 (PBES1 and "
     "PBES2 mixed in one file)", {"args": ["-descert"]}),
    ("openssl3-mac-sha1", "HMAC-SHA1 MAC with otherwise default (PBES2/AES) encryption",
     {"args": ["-macalg", "sha1"]}),
    ("openssl3-mac-sha224", "HMAC-SHA224 MAC (KDF v = 64, u = 28)", {"args": ["-macalg", "sha224"]}),
    ("openssl3-mac-sha384", "HMAC-SHA384 MAC (KDF v = 128)", {"args": ["-macalg", "sha384"]}),
    ("openssl3-mac-sha512", "HMAC-SHA512 MAC (KDF v = 128)", {"args": ["-macalg", "sha512"]}),
    ("openssl3-mac-sha512-224", "HMAC-SHA512/224 MAC (KDF v = 128, u = 28)",
     {"args": ["-macalg", "sha512-224"]}),
    ("openssl3-mac-sha512-256", "HMAC-SHA512/256 MAC (KDF v = 128, u = 32)",
     {"args": ["-macalg", "sha512-256"]}),
    ("openssl3-mac-sha3-224", "HMAC-SHA3-224 MAC (KDF v = 144, the SHA3-224 rate; u = 28)",
     {"args": ["-macalg", "sha3-224"]}),
    ("openssl3-mac-sha3-256", "HMAC-SHA3-256 MAC (KDF v = 136, the SHA3-256 rate; u = 32)",
     {"args": ["-macalg", "sha3-256"]}),
    ("openssl3-mac-sha3-384", "HMAC-SHA3-384 MAC (KDF v = 104, the SHA3-384 rate; u = 48)",
     {"args": ["-macalg", "sha3-384"]}),
    ("openssl3-mac-sha3-512", "HMAC-SHA3-512 MAC (KDF v = 72, the SHA3-512 rate; u = 64)",
     {"args": ["-macalg", "sha3-512"]}),
    ("openssl3-mac-blake2b512", "HMAC-BLAKE2b-512 MAC (KDF v = 128, u = 64; OID "
     "1.3.6.1.4.1.1722.12.2.1.16)", {"args": ["-macalg", "blake2b512"]}),
    ("openssl3-mac-blake2s256", "HMAC-BLAKE2s-256 MAC (KDF v = 64, u = 32; OID "
     "1.3.6.1.4.1.1722.12.2.2.8)", {"args": ["-macalg", "blake2s256"]}),
    ("openssl3-nomac", "no MacData at all (-nomac)", {"args": ["-nomac"],
     "note": "OpenSSL 3.0 -nomac alone also leaves the certificates UNENCRYPTED (plain id-data "
             "container); only the key is shrouded. See openssl3-nomac-encrypted."}),
    ("openssl3-nomac-encrypted", "no MacData, certificates still encrypted (-nomac -certpbe "
     "AES-256-CBC): the password can only be checked by decrypting",
     {"args": ["-nomac", "-certpbe", "AES-256-CBC"]}),
    ("openssl3-unencrypted", "no encryption (-keypbe NONE -certpbe NONE): plain keyBag and certBag "
     "in id-data containers, SHA-256 MAC", {"args": ["-keypbe", "NONE", "-certpbe", "NONE"]}),
    ("openssl3-unencrypted-nomac", "no encryption and no MAC: no part of the file depends on a "
     "password", {"args": ["-keypbe", "NONE", "-certpbe", "NONE", "-nomac"], "pw": "",
                  "record_pw": None,
                  "pw_note": "Made with -passout pass: but nothing in the file uses a password: "
                             "any password, empty or none must open it."}),
    ("openssl3-noiter", "-noiter -nomaciter: iteration count 1 for encryption and MAC",
     {"args": ["-noiter", "-nomaciter"]}),
    ("openssl3-iter-600000", "-iter 600000 for encryption and MAC",
     {"args": ["-iter", str(ITER_HIGH)]}),
    ("openssl3-empty-password", "empty password with PBES2: PBKDF2 gets zero bytes, the MAC KDF "
     "gets the BMPString terminator 00 00", {"pw": "",
     "pw_note": "Empty string, not NULL. OpenSSL encodes \"\" as BMPString 00 00 for the MAC "
                "KDF; PBKDF2 gets no bytes. OpenSSL's reader tries NULL (no bytes) first, then "
                "00 00, so both readings open it there."}),
    ("openssl3-legacy-empty-password", "empty password with PBES1 (-legacy): the 00 00 "
     "terminator also goes into the RC2/3DES key derivation", {"pw": "", "args": ["-legacy"],
     "pw_note": "Empty string: every KDF (MAC, RC2, 3DES) took BMPString 00 00."}),
    ("openssl3-nonascii", "non-ASCII password (UTF-8 argv): PBKDF2 takes the UTF-8 bytes, the "
     "MAC KDF the BMPString", {"pw": PW_NONASCII}),
    ("openssl3-nonbmp", "password with a character outside the BMP: UTF-8 for PBKDF2, UTF-16 "
     "surrogate pair in the MAC KDF's BMPString", {"pw": PW_NONBMP}),
    ("openssl3-legacy-nonascii", "non-ASCII password with PBES1 (-legacy): every KDF takes the "
     "BMPString", {"pw": PW_NONASCII, "args": ["-legacy"]}),
    ("openssl3-legacy-nonbmp", "non-BMP password with PBES1 (-legacy): surrogate pair in every "
     "KDF", {"pw": PW_NONBMP, "args": ["-legacy"]}),
    ("openssl3-chain", "leaf + key + intermediate + root (-certfile): leaf first, CA certs "
     "without attributes", {"certfile": "ca-chain.pem"}),
    ("openssl3-chain-canames", "chain with -caname for the CA certs: CA cert bags carry a "
     "friendlyName but no localKeyId",
     {"certfile": "ca-chain.pem", "args": ["-caname", INTER_SUBJECT, "-caname", ROOT_SUBJECT]}),
    ("openssl3-certs-only", "-nokeys: leaf + chain certificates, no key (an importer must "
     "report 'no private key')", {"certfile": "ca-chain.pem", "nokeys": True}),
    ("openssl3-key-only", "-nocerts: only the shrouded key bag, no certificate",
     {"nocerts": True}),
    ("openssl3-ec-p256", "EC P-256 leaf and key", {"leaf": "ec-p256"}),
    ("openssl3-ec-p384", "EC P-384 leaf and key", {"leaf": "ec-p384"}),
    ("openssl3-rsa1024", "RSA 1024 leaf and key (too small for Lync's rule, reads fine)",
     {"leaf": "rsa1024"}),
    ("openssl3-rsa4096", "RSA 4096 leaf and key", {"leaf": "rsa4096"}),
    ("openssl3-rsa2048-next", "the 'next' certificate of a roll demo: same subject and SANs "
     "as rsa2048, different key", {"leaf": "rsa2048-next", "name": FRIENDLY + " next"}),
    ("openssl3-with-localkeyid-only", "no -name: key and leaf bags carry only localKeyId",
     {"name": None}),
    ("openssl3-no-friendly-name", "no -name, with chain: key and leaf carry only localKeyId, "
     "CA certs no attributes at all", {"name": None, "certfile": "ca-chain.pem"}),
    ("openssl3-unicode-name", "friendlyName with non-ASCII BMP characters (BMPString)",
     {"name": FRIENDLY_UNICODE}),
    ("openssl3-csp-lmk", "-CSP and -LMK: Microsoft bag attributes on the key bag (msCSPName "
     "1.3.6.1.4.1.311.17.1 as BMPString, msLocalMachineKeyset 1.3.6.1.4.1.311.17.2 with an EMPTY "
     "value SET)", {"args": ["-CSP", CSP_NAME, "-LMK"]}),
]


class Gen:
    def __init__(self, tmp: Path, h: Hierarchy):
        self.tmp = tmp
        self.h = h
        self.recs: dict[str, dict] = {}
        self.not_made: list[dict] = []

    def add(self, file: str, password, made_with: str, what: str, **extra) -> None:
        self.recs[file] = {"password": password, "made_with": made_with, "what": what, **extra}
        print(f"  made {file}")

    # ---- OpenSSL ---------------------------------------------------------

    def openssl_all(self) -> None:
        for stem, what, o in OPENSSL_SPECS:
            self.openssl_one(stem, what, o)
        self.openssl_refusals()

    def openssl_one(self, stem: str, what: str, o: dict, made_prefix: str = "",
                    note: str | None = None) -> None:
        """One `openssl pkcs12 -export` of OPENSSL_SPECS, from $TMP/<leaf>.crt.pem and
        .key.pem (and $TMP/ca-chain.pem)."""
        leaf = o.get("leaf", "rsa2048")
        pw = o.get("pw", PASSWORD)
        name = o.get("name", FRIENDLY)
        args = ["openssl", "pkcs12", "-export"]
        if not o.get("nocerts"):
            args += ["-in", str(self.tmp / f"{leaf}.crt.pem")]
        if not o.get("nokeys"):
            args += ["-inkey", str(self.tmp / f"{leaf}.key.pem")]
        if o.get("nokeys"):
            args += ["-nokeys"]
        if o.get("nocerts"):
            args += ["-nocerts"]
        if o.get("certfile"):
            args += ["-certfile", str(self.tmp / o["certfile"])]
        if name is not None:
            args += ["-name", name]
        args += o.get("args", [])
        args += ["-passout", "pass:" + pw, "-out", str(HERE / f"{stem}.pfx")]
        run(args)
        extra = {}
        if "pw_note" in o:
            extra["password_note"] = o["pw_note"]
        notes = [n for n in (o.get("note"), note) if n]
        if notes:
            extra["notes"] = " ".join(notes)
        if pw == "" and "-nomac" not in o.get("args", []):
            extra["expect_mac_pw"] = EMPTY_BMP
        self.add(f"{stem}.pfx", o.get("record_pw", pw), made_prefix + shown(args, self.tmp),
                 what, **extra)

    def openssl_refusals(self) -> None:
        # what openssl refuses, recorded for the report
        r = run(["openssl", "pkcs12", "-export", "-in", str(self.tmp / "rsa2048.crt.pem"),
                 "-inkey", str(self.tmp / "rsa2048.key.pem"), "-name", FRIENDLY_NONBMP,
                 "-passout", "pass:" + PASSWORD, "-out", str(self.tmp / "nonbmp-name.pfx")],
                check=False)
        if r.returncode != 0:
            self.not_made.append({"file": "openssl3-nonbmp-name.pfx", "why":
                                  "openssl pkcs12 -name with a character outside the BMP fails: "
                                  + first_error(r)})
        self.not_made.append({"file": "openssl3-pbkdf2-sha512.pfx", "why":
                              "OpenSSL 3.0's `pkcs12` has no option for the PBKDF2 PRF (always "
                              "hmacWithSHA256 for PBES2); made by this script instead as "
                              "custom-pbkdf2-sha512.pfx"})

    # ---- Java ------------------------------------------------------------

    def keytool(self, args: list[str], props: list[str] = ()) -> str:
        full = ["keytool", "-J-Duser.timezone=UTC", "-J-Duser.language=en",
                *[f"-J-D{p}" for p in props], *args]
        run(full)
        return shown(full, self.tmp)

    def java_all(self) -> None:
        src = HERE / "openssl3-default.pfx"
        nxt = HERE / "openssl3-rsa2048-next.pfx"
        for stem, props, what in [
            ("keytool-default", [], "keytool -importkeystore of openssl3-default.pfx: JDK 17 "
             "defaults (PBES2/PBKDF2-HMAC-SHA256/AES-256 with explicit keyLength, 10000 "
             "iterations, 20-byte salts, HMAC-SHA256 MAC)"),
            ("keytool-legacy", ["keystore.pkcs12.legacy"], "keytool -importkeystore with "
             "-Dkeystore.pkcs12.legacy: RC2-40 certs, 3DES key, HMAC-SHA1 MAC (JDK 8 style)"),
        ]:
            out = HERE / f"{stem}.pfx"
            out.unlink(missing_ok=True)
            cmd = self.keytool(["-importkeystore", "-noprompt", "-srckeystore", str(src),
                                "-srcstoretype", "PKCS12", "-srcstorepass", PASSWORD,
                                "-destkeystore", str(out), "-deststoretype", "PKCS12",
                                "-deststorepass", PASSWORD], props)
            self.add(out.name, PASSWORD, cmd, what)

        out = HERE / "keytool-two-entries.pfx"
        out.unlink(missing_ok=True)
        cmds = []
        for s, alias in [(src, "contoso-oauth"), (nxt, "contoso-oauth-next")]:
            srcalias = FRIENDLY if s == src else FRIENDLY + " next"
            cmds.append(self.keytool(["-importkeystore", "-noprompt", "-srckeystore", str(s),
                                      "-srcstoretype", "PKCS12", "-srcstorepass", PASSWORD,
                                      "-srcalias", srcalias, "-destalias", alias,
                                      "-destkeystore", str(out), "-deststoretype", "PKCS12",
                                      "-deststorepass", PASSWORD]))
        self.add(out.name, PASSWORD, " && ".join(cmds), "two key entries (the current and the "
                 "'next' certificate of a roll) in one keystore; top-level key fields describe "
                 "the first key bag, `keys` lists both",
                 notes="An importer that expects one key must say which it took (or refuse).")

        out = HERE / "keytool-genkeypair.pfx"
        out.unlink(missing_ok=True)
        cmd = self.keytool(["-genkeypair", "-alias", KEYTOOL_ALIAS, "-keyalg", "RSA",
                            "-keysize", "2048", "-sigalg", "SHA256withRSA",
                            "-storetype", "PKCS12", "-keystore", str(out),
                            "-storepass", PASSWORD, "-dname", "CN=sip.contoso.com, O=Contoso, C=US",
                            "-ext", "san=dns:sip.contoso.com", "-startdate", KEYTOOL_STARTDATE,
                            "-validity", str(VALIDITY_DAYS)])
        pem_out = HERE / "keytool-genkeypair.crt.pem"
        cmd2 = self.keytool(["-exportcert", "-rfc", "-alias", KEYTOOL_ALIAS, "-keystore",
                             str(out), "-storetype", "PKCS12", "-storepass", PASSWORD,
                             "-file", str(pem_out)])
        self.add(out.name, PASSWORD, cmd, "a key pair generated by keytool itself: self-signed "
                 "cert (random serial), PBES2/AES-256 key", exported_cert=pem_out.name,
                 notes=f"Certificate exported with: {cmd2}")

        out = HERE / "keytool-truststore.pfx"
        out.unlink(missing_ok=True)
        cmd = self.keytool(["-importcert", "-noprompt", "-trustcacerts", "-alias", "contoso-root",
                            "-file", str(HERE / "root-ca.crt.pem"), "-storetype", "PKCS12",
                            "-keystore", str(out), "-storepass", PASSWORD])
        self.add(out.name, PASSWORD, cmd, "a trusted-certificate entry only (no key): cert bag "
                 "with Oracle's trustedKeyUsage attribute 2.16.840.1.113894.746875.1.1")

        out = HERE / "keytool-truststore-nomac.pfx"
        out.unlink(missing_ok=True)
        cmd = self.keytool(["-importcert", "-noprompt", "-trustcacerts", "-alias", "contoso-root",
                            "-file", str(HERE / "root-ca.crt.pem"), "-storetype", "PKCS12",
                            "-keystore", str(out), "-storepass", PASSWORD],
                           ["keystore.pkcs12.certProtectionAlgorithm=NONE",
                            "keystore.pkcs12.macAlgorithm=NONE"])
        self.add(out.name, None, cmd, "truststore with certProtectionAlgorithm=NONE and "
                 "macAlgorithm=NONE: no MAC, certs in plain id-data (the JDK's password-less "
                 "truststore form)",
                 password_note="keytool was given -storepass P@ssw0rd but nothing in the file "
                               "uses it: any password, empty or none must open it.")

        # Java API: empty vs null store password (keytool refuses passwords < 6 chars)
        (self.tmp / "rsa2048.key.der").write_bytes(self.h.pk8("rsa2048"))
        java = self.tmp / "MakeP12.java"
        java.write_text(JAVA_SRC)
        for stem, mode in [("java-empty-password", "empty"), ("java-null-password", "null")]:
            out = HERE / f"{stem}.pfx"
            out.unlink(missing_ok=True)
            args = ["java", "-Duser.language=en", str(java), mode,
                    str(self.tmp / "rsa2048.key.der"), str(self.tmp / "rsa2048.crt.pem"),
                    str(self.tmp / "intermediate-ca.crt.pem"), str(out)]
            run(args)
            if mode == "empty":
                self.add(out.name, "", shown(args, self.tmp) + "  (KeyStore.store(out, new "
                         "char[0]); setKeyEntry with new char[0])", "Java KeyStore API with an "
                         "empty char[] password: key entry + chain",
                         password_note="Empty char[]. Java's PKCS#12 KDF appends the 00 00 "
                                       "terminator, so the MAC key comes from 00 00; PBKDF2 "
                                       "gets no bytes.",
                         expect_mac_pw=EMPTY_BMP)
            else:
                self.add(out.name, None, shown(args, self.tmp) + "  (KeyStore.store(out, null) "
                         "with one trusted-certificate entry)", "Java KeyStore API with a NULL "
                         "store password: still MACed and encrypted",
                         password_note="NULL char[] at store(): the JDK still writes a MAC and "
                                       "encrypts the certs, deriving both from the EMPTY "
                                       "password (MAC KDF input 00 00), so a reader given "
                                       "'no password' must also try 00 00.",
                         expect_mac_pw=EMPTY_BMP)

    # ---- Python cryptography ---------------------------------------------

    def python_all(self) -> None:
        h = self.h
        key, cert = h.keys["rsa2048"], h.certs["rsa2048"]
        cas = [h.certs["intermediate-ca"], h.certs["root-ca"]]
        P = serialization.PrivateFormat.PKCS12
        from cryptography.hazmat.primitives.serialization.pkcs12 import PBES
        specs = [
            ("python-windows-3des", None,
             P.encryption_builder().kdf_rounds(KDF_ROUNDS_WINDOWS)
             .key_cert_algorithm(PBES.PBESv1SHA1And3KeyTripleDESCBC)
             .hmac_hash(hashes.SHA1()).build(PASSWORD.encode()),
             "PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2000).key_cert_algorithm("
             "PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1()).build(b'P@ssw0rd')",
             "what Windows (CryptoAPI PFXExportCertStoreEx) writes: SHA1/3DES PBES1 for certs "
             "and key, 2000 iterations, HMAC-SHA1 MAC", PASSWORD),
            ("python-aes256", None,
             P.encryption_builder().key_cert_algorithm(PBES.PBESv2SHA256AndAES256CBC)
             .hmac_hash(hashes.SHA256()).build(PASSWORD.encode()),
             "PrivateFormat.PKCS12.encryption_builder().key_cert_algorithm("
             "PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256()).build(b'P@ssw0rd')",
             "Python cryptography PBES2/AES-256 with its default kdf_rounds", PASSWORD),
            ("python-chain", cas,
             P.encryption_builder().key_cert_algorithm(PBES.PBESv2SHA256AndAES256CBC)
             .hmac_hash(hashes.SHA256()).build(PASSWORD.encode()),
             "same as python-aes256 with cas=[intermediate, root]",
             "bag order and attributes Python writes for a chain", PASSWORD),
            ("python-no-password", None, serialization.NoEncryption(), "NoEncryption()",
             "NoEncryption(): plain bags, and still a MAC", None),
        ]
        for stem, c, enc, enc_txt, what, pw in specs:
            data = pkcs12.serialize_key_and_certificates(FRIENDLY.encode(), key, cert, c, enc)
            (HERE / f"{stem}.pfx").write_bytes(data)
            extra = {}
            if pw is None:
                extra["password_note"] = ("Made with NoEncryption(). cryptography still writes "
                                          "a MAC; its key came from the EMPTY password "
                                          "(BMPString 00 00), not from zero bytes. Its "
                                          "load_pkcs12 accepts password=None and b''.")
                extra["expect_mac_pw"] = EMPTY_BMP
            self.add(f"{stem}.pfx", pw, "cryptography " + cryptography_version() +
                     ": pkcs12.serialize_key_and_certificates(b'Contoso OAuth', key, cert, "
                     + ("[intermediate, root]" if c else "None") + ", " + enc_txt + ")",
                     what, **extra)
        data = pkcs12.serialize_java_truststore(
            [pkcs12.PKCS12Certificate(h.certs["root-ca"], b"contoso-root")],
            serialization.NoEncryption())
        (HERE / "python-java-truststore.pfx").write_bytes(data)
        self.add("python-java-truststore.pfx", None, "cryptography " + cryptography_version() +
                 ": pkcs12.serialize_java_truststore([PKCS12Certificate(root, b'contoso-root')], "
                 "NoEncryption())", "Python's Java-truststore writer: a cert bag with Oracle's "
                 "trustedKeyUsage attribute, no key",
                 password_note="NoEncryption(): like python-no-password, the MAC key came from "
                               "the EMPTY password (BMPString 00 00).", expect_mac_pw=EMPTY_BMP)

    # ---- BER re-encodings and hand-built files ---------------------------

    def ber_all(self) -> None:
        legacy = (HERE / "openssl3-legacy.pfx").read_bytes()

        pfx = parse_all(legacy)
        ber_outer(pfx)
        data = encode(pfx)
        (HERE / "ber-indefinite.pfx").write_bytes(data)
        self.add("ber-indefinite.pfx", PASSWORD, "gen_pfx.py ber_outer() on openssl3-legacy.pfx",
                 "BER outside the MACed content: every constructed item of the PFX (PFX, "
                 "ContentInfo, [0], MacData and its parts) has an indefinite length and the "
                 "authSafe OCTET STRING is a constructed OCTET STRING of 1000-byte segments "
                 "(Bouncy Castle's BEROctetString size); the MAC is the original one, because it "
                 "covers the concatenated content octets, which did not change")

        pfx = parse_all(legacy)
        auth = parse_all(pfx[1][1][0].octets())
        for ci in auth.children:
            if node_oid(ci[0]) == OID_DATA:
                sc = parse_all(ci[1][0].octets())
                all_indefinite(sc)
                ci[1].children[0] = chunked(0x24, encode(sc), 1000)
        all_indefinite(auth)
        new_auth = encode(auth)
        ber_outer(pfx, new_auth)
        remac(pfx, new_auth, PASSWORD)
        (HERE / "ber-indefinite-authsafe.pfx").write_bytes(encode(pfx))
        self.add("ber-indefinite-authsafe.pfx", PASSWORD, "gen_pfx.py: ber-indefinite plus "
                 "all_indefinite() on the AuthenticatedSafe and on the SafeContents of the id-data "
                 "container (its OCTET STRING also split into 1000-byte segments); MAC recomputed "
                 "(RFC 7292 B.2 KDF + HMAC-SHA1, same salt and iterations) over the new BER "
                 "octets", "BER inside the MACed content as streaming encoders write it: the MAC "
                 "covers the BER bytes as they are in the file, so a reader must not re-encode "
                 "them to DER before checking it")

        pfx = parse_all(legacy)
        auth = parse_all(pfx[1][1][0].octets())
        for ci in auth.children:
            if node_oid(ci[0]) == OID_ENCRYPTED_DATA:
                eci = ci[1][0][1]
                eci.children[2] = chunked(0xA0, eci[2].octets(), 512)
        new_auth = encode(auth)
        ber_outer(pfx, new_auth)
        remac(pfx, new_auth, PASSWORD)
        (HERE / "ber-constructed-encrypted.pfx").write_bytes(encode(pfx))
        self.add("ber-constructed-encrypted.pfx", PASSWORD, "gen_pfx.py: ber-indefinite plus the "
                 "EncryptedData's encryptedContent [0] IMPLICIT OCTET STRING rewritten as a "
                 "constructed [0] (A0 80 ... 00 00) of 512-byte OCTET STRING segments; MAC "
                 "recomputed in Python (RFC 7292 B.2 KDF + HMAC-SHA1, same salt and iterations)",
                 "constructed [0] IMPLICIT OCTET STRING holding the ciphertext: the reader must "
                 "concatenate the segments before decrypting")

        noiter = (HERE / "openssl3-noiter.pfx").read_bytes()
        pfx = parse_all(noiter)
        md = pfx[2]
        if len(md) == 2:
            md.children.append(Node(0x02, value=b"\x01"))
        (HERE / "explicit-mac-iter-1.pfx").write_bytes(encode(pfx))
        self.add("explicit-mac-iter-1.pfx", PASSWORD, "gen_pfx.py: openssl3-noiter.pfx with "
                 "`iterations INTEGER 1` appended to MacData (OpenSSL omits it when it is 1, "
                 "its DEFAULT); the MAC is unchanged", "MacData.iterations encoded although it "
                 "equals its DEFAULT (not DER, but accepted by OpenSSL)")

        h = self.h
        leaf, pk8 = h.der("rsa2048"), h.pk8("rsa2048")
        inter, root = h.der("intermediate-ca"), h.der("root-ca")
        lkid = hashlib.sha1(leaf).digest()
        std_attrs = [attr_friendly(FRIENDLY), attr_lkid(lkid)]

        def pb2(prf, cipher="aes256-CBC", **kw):
            return lambda pt: encrypt_pbes2(pt, PASSWORD, 2048, os.urandom(8), prf, cipher, **kw)

        def std(encf, mac_iter=2048, explicit_iter=True, key_first=False):
            certs = encdata_ci(safe_contents(bag("certBag", cert_bag_value(leaf), std_attrs)),
                               encf)
            keys = data_ci(safe_contents(bag("pkcs8ShroudedKeyBag", shrouded_value(pk8, encf),
                                             std_attrs)))
            cis = [keys, certs] if key_first else [certs, keys]
            return build_pfx(cis, PASSWORD, "sha256", mac_iter, explicit_iter)

        custom = [
            ("custom-pbkdf2-sha1", std(pb2("sha1")), "PBES2/PBKDF2 with the prf field absent "
             "(DEFAULT hmacWithSHA1), AES-256-CBC; the layout of openssl3-default"),
            ("custom-pbkdf2-sha512", std(pb2("sha512")), "PBES2/PBKDF2-hmacWithSHA512/AES-256-CBC "
             "(OpenSSL 3.0's CLI cannot choose the PRF)"),
            ("explicit-prf-sha1", std(pb2("sha1", explicit_prf=True, key_length_field=True)),
             "PBKDF2-params with prf hmacWithSHA1 (+ NULL parameters) written although it is the "
             "DEFAULT, and keyLength 32 written (as Java does)"),
            ("explicit-defaults", std(pb2("sha1", explicit_prf=True), mac_iter=1,
                                      explicit_iter=True),
             "both DEFAULTs written: PBKDF2 prf hmacWithSHA1 and MacData iterations INTEGER 1"),
            ("custom-key-first", std(pb2("sha256"), key_first=True), "the id-data container with "
             "the shrouded key comes before the encryptedData with the certificate"),
        ]
        for stem, data, what in custom:
            (HERE / f"{stem}.pfx").write_bytes(data)
            self.add(f"{stem}.pfx", PASSWORD, "gen_pfx.py build_pfx() (hand-built DER: "
                     "PBES2 via cryptography's PBKDF2HMAC + AES-CBC, MAC via the RFC 7292 B.2 KDF "
                     "+ HMAC-SHA256, 2048 iterations unless noted)", what)

        encf = pb2("sha256")
        # chain root, intermediate, leaf; key last; no attributes anywhere
        certs = encdata_ci(safe_contents(bag("certBag", cert_bag_value(root), []),
                                         bag("certBag", cert_bag_value(inter), []),
                                         bag("certBag", cert_bag_value(leaf), [])), encf)
        keys = data_ci(safe_contents(bag("pkcs8ShroudedKeyBag", shrouded_value(pk8, encf), [])))
        more = [
            ("custom-no-attributes-leaf-last", build_pfx([certs, keys], PASSWORD),
             "no friendlyName or localKeyId on any bag, and the leaf is the LAST of three certs "
             "(root, intermediate, leaf): the leaf can only be found by matching the key"),
            ("custom-key-in-encrypted-data",
             build_pfx([encdata_ci(safe_contents(
                 bag("keyBag", pk8, std_attrs),
                 bag("certBag", cert_bag_value(leaf), std_attrs),
                 bag("certBag", cert_bag_value(inter), [])), encf)], PASSWORD),
             "one encryptedData container holding a plain keyBag (unencrypted PKCS#8) and the "
             "cert bags: the key is protected only by the container encryption"),
            ("custom-nested-safecontents",
             build_pfx([encdata_ci(safe_contents(
                 bag("safeContentsBag", safe_contents(
                     bag("certBag", cert_bag_value(leaf), std_attrs),
                     bag("certBag", cert_bag_value(inter), [])), [])), encf),
                 data_ci(safe_contents(bag("pkcs8ShroudedKeyBag", shrouded_value(pk8, encf),
                                           std_attrs)))], PASSWORD),
             "the cert bags sit inside a safeContentsBag (nested SafeContents) in the "
             "encryptedData"),
        ]
        for stem, data, what in more:
            (HERE / f"{stem}.pfx").write_bytes(data)
            self.add(f"{stem}.pfx", PASSWORD, "gen_pfx.py build_pfx() (hand-built DER: "
                     "PBES2/PBKDF2-hmacWithSHA256/AES-256-CBC, HMAC-SHA256 MAC, 2048 iterations)",
                     what)

    # ---- pyca vectors ------------------------------------------------------

    def vectors(self) -> None:
        vdir = HERE / "vectors"
        vdir.mkdir(exist_ok=True)
        src = Path("/tmp/cv/cryptography_vectors/pkcs12")
        if not all((src / f).exists() for f in VECTOR_FILES):
            dl = self.tmp / "wheel"
            run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dl),
                 f"cryptography-vectors=={VECTORS_VERSION}"])
            whl = next(dl.glob("*.whl"))
            with zipfile.ZipFile(whl) as z:
                for f in VECTOR_FILES:
                    (self.tmp / f).write_bytes(z.read(f"cryptography_vectors/pkcs12/{f}"))
            src = self.tmp
        for f in VECTOR_FILES:
            data = (src / f).read_bytes()
            got = hashlib.sha256(data).hexdigest()
            if got != VECTOR_SHA256[f]:
                raise RuntimeError(f"{f}: sha256 {got} is not the pinned {VECTOR_SHA256[f]}")
            (vdir / f).write_bytes(data)
            pw = VECTOR_PASSWORDS[f]
            self.add(f"vectors/{f}", pw, f"copied from cryptography-vectors {VECTORS_VERSION} "
                     f"(PyPI wheel), cryptography_vectors/pkcs12/{f}; sha256 {got}",
                     VECTOR_WHAT[f], origin=f"pyca/cryptography cryptography-vectors "
                     f"{VECTORS_VERSION}, pkcs12/{f} (BSD-3-Clause or Apache-2.0)")


VECTOR_WHAT = {
    "cert-key-aes256cbc.p12": "pyca vector: cert + key, PBES2/AES-256-CBC",
    "cert-rc2-key-3des.p12": "pyca vector: RC2-40 certs, 3DES key (OpenSSL 1.x defaults)",
    "cert-none-key-none.p12": "pyca vector: unencrypted cert and key, with a MAC",
    "no-password.p12": "pyca vector: made without a password",
    "java-truststore.p12": "pyca vector: Java truststore (cert bag with Oracle trustedKeyUsage), "
                           "no key",
    "name-unicode-pwd.p12": "pyca vector: non-ASCII friendlyName",
    "no-cert-key-aes256cbc.p12": "pyca vector: key only, AES-256",
    "cert-aes256cbc-no-key.p12": "pyca vector: cert only, AES-256",
}

JAVA_SRC = r"""
import java.io.*;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.security.spec.PKCS8EncodedKeySpec;

// usage: MakeP12 empty|null KEY.der LEAF.pem INTERMEDIATE.pem OUT
public class MakeP12 {
    public static void main(String[] a) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X509");
        X509Certificate leaf, inter;
        try (InputStream i = new FileInputStream(a[2])) { leaf = (X509Certificate) cf.generateCertificate(i); }
        try (InputStream i = new FileInputStream(a[3])) { inter = (X509Certificate) cf.generateCertificate(i); }
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        char[] pw;
        if (a[0].equals("empty")) {
            PrivateKey k = KeyFactory.getInstance("RSA").generatePrivate(
                new PKCS8EncodedKeySpec(Files.readAllBytes(Paths.get(a[1]))));
            ks.setKeyEntry("contoso-oauth", k, new char[0], new java.security.cert.Certificate[] {leaf, inter});
            pw = new char[0];
        } else {
            ks.setCertificateEntry("contoso-issuing-ca", inter);
            pw = null;
        }
        try (OutputStream o = new FileOutputStream(a[4])) { ks.store(o, pw); }
    }
}
"""


def cryptography_version() -> str:
    import cryptography
    return cryptography.__version__


def first_error(r: subprocess.CompletedProcess) -> str:
    lines = [l for l in r.stderr.decode(errors="replace").splitlines() if l.strip()]
    err = [l for l in lines if "error:" in l]
    line = (err[0] if err else (lines[0] if lines else f"exit {r.returncode}")).strip()
    return re.sub(r"^[0-9A-F]+:error:[0-9A-F]+:", "", line)  # drop the thread id and code


# ---- BER helpers --------------------------------------------------------

def all_indefinite(n: Node) -> None:
    """Every constructed node gets the indefinite length form (primitives,
    and therefore OCTET STRING contents, are left alone)."""
    if n.children is not None:
        n.indefinite = True
        for c in n.children:
            all_indefinite(c)


def ber_outer(pfx: Node, auth_octets: bytes | None = None, size: int = 1000) -> None:
    """Indefinite lengths on the PFX, its ContentInfo, [0] and MacData; the
    authSafe content becomes a constructed OCTET STRING of `size` segments."""
    ci = pfx[1]
    content = ci[1][0].octets() if auth_octets is None else auth_octets
    ci[1].children[0] = chunked(0x24, content, size)
    pfx.indefinite = ci.indefinite = ci[1].indefinite = True
    if len(pfx) > 2:
        all_indefinite(pfx[2])


def remac(pfx: Node, auth_octets: bytes, pw: str) -> None:
    md = pfx[2]
    digest = DIGESTS[node_oid(md[0][0][0])]
    salt = md[1].octets()
    iters = int_dec(md[2].value) if len(md) > 2 else 1
    md[0].children[1] = Node(0x04, value=mac_key_and_value(digest, bmp_password(pw), salt,
                                                           iters, auth_octets))


# ---- hand-built PFX (DER) ------------------------------------------------

def attr_friendly(name: str) -> bytes:
    return seq(oid_enc(OID_FRIENDLY_NAME), set_of(bmpstring(name)))


def attr_lkid(b: bytes) -> bytes:
    return seq(oid_enc(OID_LOCAL_KEY_ID), set_of(octet(b)))


def bag(kind: str, value: bytes, attrs: list[bytes]) -> bytes:
    parts = [oid_enc(BAG_OIDS[kind]), explicit(0, value)]
    if attrs:
        parts.append(set_of(*attrs))
    return seq(*parts)


def safe_contents(*bags: bytes) -> bytes:
    return seq(*bags)


def cert_bag_value(der: bytes) -> bytes:
    return seq(oid_enc(OID_X509_CERT), explicit(0, octet(der)))


def shrouded_value(pk8: bytes, encf) -> bytes:
    alg, ct = encf(pk8)
    return seq(alg, octet(ct))


def data_ci(content: bytes) -> bytes:
    return seq(oid_enc(OID_DATA), explicit(0, octet(content)))


def encdata_ci(content: bytes, encf) -> bytes:
    alg, ct = encf(content)
    return seq(oid_enc(OID_ENCRYPTED_DATA),
               explicit(0, seq(integer(0), seq(oid_enc(OID_DATA), alg, tlv(0x80, ct)))))


def build_pfx(cis: list[bytes], pw: str, digest: str = "sha256", mac_iter: int = 2048,
              explicit_iter: bool = False) -> bytes:
    auth = seq(*cis)
    salt = os.urandom(8)
    mac = mac_key_and_value(digest, bmp_password(pw), salt, mac_iter, auth)
    md = [seq(seq(oid_enc(DIGEST_OIDS[digest]), NULL), octet(mac)), octet(salt)]
    if mac_iter != 1 or explicit_iter:
        md.append(integer(mac_iter))
    return seq(integer(3), data_ci(auth), seq(*md))


# --------------------------------------------------------------------------
# Verification: openssl and Python read every file; cross-checks
# --------------------------------------------------------------------------

def passin(pw: str | None) -> str:
    return "pass:" + ("" if pw is None else pw)


def openssl_read(path: Path, pw: str | None) -> dict:
    errors = []
    for flags in ([], ["-legacy"]):
        args = ["openssl", "pkcs12", "-in", str(path), "-info", "-noout",
                "-passin", passin(pw), *flags]
        r = run(args, check=False)
        if r.returncode == 0:
            return {"ok": True, "flags": flags,
                    "info": [l for l in r.stderr.decode(errors="replace").splitlines() if l]}
        errors.append(("-legacy: " if flags else "") + first_error(r))
    return {"ok": False, "flags": None, "errors": errors}


def info_tokens(lines: list[str]) -> list[tuple]:
    toks = []
    for line in lines:
        it = re.search(r"Iteration (\d+)", line)
        it = int(it.group(1)) if it else None
        if m := re.match(r"MAC: (\S+), Iteration (\d+)", line):
            toks.append(("mac", m.group(1), int(m.group(2))))
        elif m := re.match(r"MAC length: (\d+), salt length: (\d+)", line):
            toks.append(("maclen", int(m.group(1)), int(m.group(2))))
        elif line.startswith("PKCS7 Encrypted data"):
            toks.append(("encrypted", it))
        elif line.startswith("PKCS7 Data"):
            toks.append(("data",))
        elif line.startswith("Shrouded Keybag"):
            toks.append(("shrouded", it))
        elif line.startswith("Key bag"):
            toks.append(("key",))
        elif line.startswith("Certificate bag"):
            toks.append(("cert",))
        elif line.startswith("Safe Contents bag"):
            toks.append(("safe",))
    return toks


def my_tokens(s: dict) -> list[tuple]:
    toks = []
    if s["mac"]:
        toks.append(("mac", s["mac"]["digest"], s["mac"]["iterations"]))
        toks.append(("maclen", s["mac"]["mac_len"], s["mac"]["salt_len"]))
    for i, c in enumerate(s["_containers"]):
        toks.append(("encrypted", c["encryption"]["iterations"]) if c["encryption"]
                    else ("data",))
        for b in s["_bags"]:
            if b["container"] != i:
                continue
            t = b["type"]
            toks.append({"certBag": ("cert",), "keyBag": ("key",),
                         "safeContentsBag": ("safe",)}.get(t)
                        or ("shrouded", b["encryption"]["iterations"]))
    return toks


def openssl_extract(path: Path, pw: str | None, flags: list[str]) -> tuple[list[str], list[str]]:
    base = ["openssl", "pkcs12", "-in", str(path), "-passin", passin(pw), *flags]
    certs = pem_blocks(run(base + ["-nokeys"]).stdout, "CERTIFICATE")
    keys_pem = run(base + ["-nocerts", "-nodes"]).stdout
    spkis = []
    for m in re.finditer(rb"-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----", keys_pem,
                         re.S):
        der = run(["openssl", "pkey", "-pubout", "-outform", "DER"], input=m.group(0)).stdout
        spkis.append(hashlib.sha256(der).hexdigest().upper())
    return [thumb(c) for c in certs], spkis


def python_read(data: bytes, pw: str | None) -> dict:
    def one(p):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                r = pkcs12.load_pkcs12(data, p)
            except Exception as e:  # noqa: BLE001 - recorded
                return {"ok": False, "error": f"{type(e).__name__}: {e}"}
        view: dict = {"ok": True}
        if caught:
            view["warnings"] = sorted({str(w.message).split(". Please file")[0]
                                       + (" [" + str(w.message).split("Error details: ")[1] + "]"
                                          if "Error details: " in str(w.message) else "")
                                       for w in caught})
        if r.key is not None:
            spki = r.key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            view["key_spki_sha256"] = hashlib.sha256(spki).hexdigest().upper()
        else:
            view["key_spki_sha256"] = None

        def cinfo(c):
            der = c.certificate.public_bytes(serialization.Encoding.DER)
            return {"sha1": thumb(der), "friendly_name":
                    c.friendly_name.decode("utf-8", errors="replace")
                    if c.friendly_name is not None else None}
        view["cert"] = cinfo(r.cert) if r.cert else None
        view["additional_certs"] = [cinfo(c) for c in r.additional_certs]
        return view
    res = {"given": one(None if pw is None else pw.encode())}
    if pw in (None, ""):
        res["with_None"] = one(None)
        res["with_empty_bytes"] = one(b"")
    return res


KEY_BAGS = ("keyBag", "pkcs8ShroudedKeyBag")


def auto_notes(s: dict) -> list[str]:
    """Facts read from the file that a reader could trip on."""
    n = []
    bags = [b for b in s["bags"] if b["type"] != "safeContentsBag"]
    types = [b["type"] for b in bags]
    if any(t in KEY_BAGS for t in types) and "certBag" in types:
        if min(i for i, t in enumerate(types) if t in KEY_BAGS) < types.index("certBag"):
            n.append("The key bag comes before the certificate bags.")
    if s["leaf_sha1"] and s["all_cert_sha1"][0] != s["leaf_sha1"]:
        n.append(f"The leaf is certificate {s['all_cert_sha1'].index(s['leaf_sha1']) + 1} of "
                 f"{len(s['all_cert_sha1'])}, not the first.")
    if len(s["keys"]) > 1:
        n.append(f"{len(s['keys'])} private keys.")
    if any(b.get("nesting") for b in s["bags"]):
        n.append("Bags nested in a safeContentsBag.")
    extra_attrs = []
    for b in bags:
        fn = b["friendly_name"]
        if fn and "\x00" in fn:
            n.append(f"The {b['type']}'s friendlyName {fn!r} contains U+0000 (NUL-terminated "
                     "BMPString).")
        if fn and fn != FRIENDLY and fn.lower() == FRIENDLY.lower():
            n.append(f"friendlyName {fn!r}: keytool lowercased the source alias {FRIENDLY!r}.")
        if fn and fn.startswith("CN="):
            n.append(f"A chain certificate's friendlyName is its subject DN ({fn!r}).")
        for a in b["attributes"]:
            if not a["values"]:
                n.append(f"Attribute {a['name'] or a['oid']} on the {b['type']} has an EMPTY "
                         "value SET.")
            if a["name"] not in ("friendlyName", "localKeyId"):
                extra_attrs.append(a["name"] or a["oid"])
    if extra_attrs:
        n.append("Other bag attributes: " + ", ".join(dict.fromkeys(extra_attrs)) + ".")
    encs = [e for e in ([s["cert_encryption"]] if isinstance(s["cert_encryption"], dict)
                        else (s["cert_encryption"] or [])) + [s["key_encryption"]]
            if e and e.get("scheme") != "none"]
    if s["mac"]:
        m = s["mac"]
        its = sorted({e["iterations"] for e in encs})
        if its and m["iterations"] not in its:
            n.append(f"MAC iterations ({m['iterations']}) differ from the encryption "
                     f"iterations ({', '.join(map(str, its))}).")
        if not m["iterations_encoded"]:
            n.append("MacData.iterations is absent (DEFAULT 1).")
        elif m["iterations"] == 1:
            n.append("MacData.iterations INTEGER 1 is encoded although 1 is its DEFAULT.")
    else:
        n.append("No MAC: integrity cannot be checked; a wrong password shows only as a failed "
                 "decryption (or not at all where nothing is encrypted).")
    for e in encs:
        if e.get("key_length_field"):
            n.append(f"PBKDF2-params carries the optional keyLength ({e['key_length_field']}).")
            break
    for e in encs:
        if e.get("prf") == "hmacWithSHA1" and e.get("prf_explicit"):
            n.append("PBKDF2 prf hmacWithSHA1 is encoded although it is the DEFAULT.")
            break
        if e.get("prf") == "hmacWithSHA1":
            n.append("PBKDF2 prf absent: DEFAULT hmacWithSHA1.")
            break
    if s["ber_features"]:
        n.append("BER: " + ", ".join(s["ber_features"]) + ".")
    if any(c.get("encrypted_content_constructed") for c in s["containers"]):
        n.append("encryptedContent is a constructed [0] of OCTET STRING segments.")
    return list(dict.fromkeys(n))


def verify(g: Gen) -> tuple[dict, list[str]]:
    own_pems = {}
    for p in sorted(HERE.glob("*.crt.pem")):
        for der in pem_blocks(p.read_bytes(), "CERTIFICATE"):
            own_pems[thumb(der)] = p.name
    out, problems = {}, []
    for file, rec in g.recs.items():
        path = HERE / file
        data = path.read_bytes()
        pw = rec["password"]
        try:
            an = analyze(data, pw)
            s = summarize(an, thumb)
        except Exception as e:
            raise RuntimeError(f"{file}: {e}") from e
        s["_containers"], s["_bags"] = an["containers"], an["bags"]
        o = openssl_read(path, pw)
        py = python_read(data, pw)
        notes = [rec["notes"]] if rec.get("notes") else []
        # cross-checks
        if o["ok"]:
            mine, theirs = my_tokens(s), info_tokens(o["info"])
            if mine != theirs:
                problems.append(f"{file}: openssl -info {theirs} != walker {mine}")
            certs, spkis = openssl_extract(path, pw, o["flags"])
            if certs != s["all_cert_sha1"]:
                problems.append(f"{file}: openssl cert order {certs} != {s['all_cert_sha1']}")
            if spkis != [k.get("spki_sha256") for k in s["keys"]]:
                problems.append(f"{file}: openssl keys {spkis} != walker keys")
        pg = py["given"]
        if pg["ok"]:
            if pg["key_spki_sha256"] not in [k.get("spki_sha256") for k in s["keys"]] + (
                    [None] if not s["keys"] else []):
                problems.append(f"{file}: python key differs")
            py_certs = ([pg["cert"]["sha1"]] if pg["cert"] else []) + [
                c["sha1"] for c in pg["additional_certs"]]
            if sorted(py_certs) != sorted(s["all_cert_sha1"]):
                problems.append(f"{file}: python certs {py_certs} != {s['all_cert_sha1']}")
        if s["mac"] and s["mac"]["password_bytes"] is None:
            problems.append(f"{file}: MAC verified with no password encoding")
        for b in an["bags"]:
            if b["type"] == "pkcs8ShroudedKeyBag" and b.get("pkcs8") is None:
                problems.append(f"{file}: could not decrypt a key bag")
        if rec.get("expect_mac_pw") and (s["mac"] or {}).get("password_bytes") != \
                rec["expect_mac_pw"]:
            problems.append(f"{file}: MAC took {(s['mac'] or {}).get('password_bytes')}, "
                            f"the notes say {rec['expect_mac_pw']}")
        if file == "keytool-genkeypair.pfx":
            exp = [thumb(d) for d in pem_blocks((HERE / rec["exported_cert"]).read_bytes(),
                                                 "CERTIFICATE")]
            if exp != [s["leaf_sha1"]]:
                problems.append(f"{file}: keytool -exportcert gives {exp}")
            notes.append(f"leaf_sha1 equals the thumbprint of {rec['exported_cert']} "
                         "(keytool -exportcert -rfc).")
        if s["mac"] and (pw in (None, "") or rec.get("password_note")):
            notes.append(f"MAC key derived from: {s['mac']['password_bytes']}.")
        notes += auto_notes(s)
        if not o["ok"]:
            notes.append("openssl pkcs12 refuses it: " + "; ".join(o["errors"]))
        if not pg["ok"]:
            notes.append("cryptography's load_pkcs12 refuses it: " + pg["error"])
        elif pg.get("warnings"):
            notes.append("cryptography's load_pkcs12 reads it with a warning: "
                         + "; ".join(pg["warnings"]))
        entry = {
            "password": pw,
            **({"password_note": rec["password_note"]} if rec.get("password_note") else {}),
            "made_with": rec["made_with"],
            **({"origin": rec["origin"]} if rec.get("origin") else {}),
            "what": rec["what"],
            "leaf_sha1": s["leaf_sha1"],
            "leaf_cert_file": own_pems.get(s["leaf_sha1"]) if s["leaf_sha1"] else None,
            "all_cert_sha1": s["all_cert_sha1"],
            "all_cert_files": [own_pems.get(t) for t in s["all_cert_sha1"]],
            "has_key": s["has_key"],
            "key_algorithm": s["key_algorithm"],
            "key_bits": s["key_bits"],
            "key_spki_sha256": s["key_spki_sha256"],
            "keys": s["keys"],
            "friendly_names": s["friendly_names"],
            "local_key_ids": s["local_key_ids"],
            "mac": s["mac"],
            "cert_encryption": s["cert_encryption"],
            "key_encryption": s["key_encryption"],
            "openssl_reads": o["ok"],
            "openssl_flags": o["flags"],
            **({"openssl_errors": o["errors"]} if not o["ok"] else {}),
            "openssl_info": o.get("info"),
            "python_reads": pg["ok"],
            "python_view": py,
            "containers": s["containers"],
            "bags": s["bags"],
            "version": s["version"],
            "encoding": s["encoding"],
            "ber_features": s["ber_features"],
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "notes": " ".join(notes),
        }
        out[file] = entry
    return out, problems


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------

def readme(results: dict, not_made: list[dict]) -> str:
    L = [
        "# PKCS#12 (PFX) fixtures",
        "",
        "Generated by `gen_pfx.py` (in this directory); `expected.json` records what each file",
        "must yield. Regenerate from the repository root with:",
        "",
        "```sh",
        "python3 tests/data/pfx/gen_pfx.py --force",
        "```",
        "",
        "Without `--force` the script rewrites no file: when `expected.json` exists it only makes",
        "the `openssl pkcs12` files of its `OPENSSL_SPECS` that are missing, from the leaf key",
        "taken back out of an existing file (so they hold the same key and certificate), and",
        "records them. Keys are random, so every full regeneration changes thumbprints, key hashes",
        "and file bytes; passwords, names, dates (2026-01-01T00:00:00Z to 2036-01-01T00:00:00Z),",
        "serials and iteration counts are fixed in the script. No private key is written here (keys",
        "live in a temp dir while the script runs). Needs Python 3.11+ with `cryptography` 48,",
        "OpenSSL 3.0 (with the legacy provider) and a JDK 17 (`keytool`, `java`).",
        "",
        "The default password is `P@ssw0rd` (the example in Microsoft's Lync documentation);",
        "the default friendly name `Contoso OAuth`. The leaf certificate of most files is",
        "`rsa2048.crt.pem`, issued by `intermediate-ca.crt.pem`, issued by `root-ca.crt.pem`.",
        "",
        "## expected.json",
        "",
        "One object per file (key: path relative to this directory). Fields:",
        "",
        "- `password`: string, or `null` for \"no password\"; `password_note` where the tool's",
        "  empty/NULL handling matters.",
        "- `made_with`: the exact command or API call (`$TMP/` = the script's temp dir).",
        "- `origin` (copied files only), `what`: what the file tests.",
        "- `leaf_sha1`: SHA-1 thumbprint (40 uppercase hex) of the certificate whose public key",
        "  matches the first private key; `null` without key or without matching cert.",
        "  `leaf_cert_file`: the `*.crt.pem` here with that thumbprint.",
        "- `all_cert_sha1`: every certificate, in the order its bag appears in the file",
        "  (walked by the script, and equal to the order `openssl pkcs12 -nokeys` prints);",
        "  `all_cert_files` likewise.",
        "- `has_key`, `key_algorithm` (`rsa`/`ec`), `key_bits`, `key_spki_sha256` (SHA-256 of the",
        "  DER SubjectPublicKeyInfo of the first key's public key); `keys` lists every key bag.",
        "- `friendly_names`, `local_key_ids` (uppercase hex): one entry per bag, in bag order",
        "  (key and cert bags alike; `null` where the bag has none). `bags` has the details",
        "  per bag (type, container index, cert thumbprint or key hash, every attribute with",
        "  its ASN.1 string type).",
        "- `mac`: `null` without MacData, else `digest`, `iterations`, `salt_len`, `mac_len`,",
        "  `iterations_encoded` (whether the DEFAULT-1 field is present) and `password_bytes`:",
        "  which formatting of the password the MAC key derivation took (BMPString + 00 00,",
        "  `00 00` alone for an empty password, no bytes for a NULL password).",
        "- `cert_encryption`, `key_encryption`: `scheme` (`pbeWithSHAAnd40BitRC2-CBC`,",
        "  `PBES2/PBKDF2-hmacWithSHA256/aes256-CBC`, `none`), `iterations`, `salt_len`, for",
        "  PBES2 `prf`, `prf_explicit`, `key_length_field`, `cipher`; `null` if the file has no",
        "  certificate / no key.",
        "- `openssl_reads` (`openssl pkcs12 -info -noout -passin pass:...`, with",
        "  `openssl_flags` = `[\"-legacy\"]` when only that works), `openssl_info` (its lines);",
        "  `python_reads` (`cryptography` `load_pkcs12` with the password) and `python_view`",
        "  (what it returned; for null/empty passwords also with `None` and `b\"\"`).",
        "- `containers`, `encoding` (`DER`/`BER`), `ber_features`, `size`, `sha256`, `notes`.",
        "",
        "## Files",
        "",
        "| file | password | tests | openssl | python |",
        "| --- | --- | --- | --- | --- |",
    ]

    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")
    for f, e in results.items():
        pw = "(none)" if e["password"] is None else ("(empty)" if e["password"] == "" else
                                                     f"`{e['password']}`")
        osl = ("yes" + (" (-legacy)" if e["openssl_flags"] else "")) if e["openssl_reads"] else "NO"
        L.append(f"| `{f}` | {cell(pw)} | {cell(e['what'])} | {osl} | "
                 f"{'yes' if e['python_reads'] else 'NO'} |")
    L += ["", "## NULL vs empty passwords", "",
          "RFC 7292 B.1: the PKCS#12 KDF (MAC key, PBES1 keys/IVs) takes the password as a",
          "BMPString with two zero bytes appended, so an empty password is `00 00`, while a",
          "NULL password is no bytes at all. PBES2/PBKDF2 takes the UTF-8 bytes without a",
          "terminator, so NULL and empty are the same there. What the files here took:",
          "",
          "| file | password | MAC KDF input | PBES1 KDF input | openssl `-passin pass:` "
          "| python `None` | python `b\"\"` |",
          "| --- | --- | --- | --- | --- | --- | --- |"]
    for f, e in results.items():
        if e["password"] not in (None, ""):
            continue
        pbes1 = sorted({x["password_bytes"] for x in [e["cert_encryption"], e["key_encryption"]]
                        if isinstance(x, dict) and x.get("scheme", "").startswith("pbeWith")})
        pv = e["python_view"]
        L.append(f"| `{f}` | {'(none)' if e['password'] is None else '(empty)'} | "
                 f"{e['mac']['password_bytes'] if e['mac'] else 'no MAC'} | "
                 f"{', '.join(pbes1) or '-'} | {'yes' if e['openssl_reads'] else 'NO'} | "
                 f"{'yes' if pv['with_None']['ok'] else 'NO'} | "
                 f"{'yes' if pv['with_empty_bytes']['ok'] else 'NO'} |")
    L += ["", "## How each file was made", ""]
    for f, e in results.items():
        L.append(f"- `{f}`: `{e['made_with']}`" + (f" — origin: {e['origin']}"
                                                    if e.get("origin") else ""))
    L += ["", "## Not made", ""]
    for n in not_made:
        L.append(f"- `{n['file']}`: {n['why']}")
    L += ["", "## Other files", "",
          "- `root-ca.crt.pem`, `intermediate-ca.crt.pem`: the CA certificates (RSA 2048).",
          "- `rsa2048.crt.pem`, `rsa2048-next.crt.pem`, `rsa1024.crt.pem`, `rsa4096.crt.pem`,",
          "  `ec-p256.crt.pem`, `ec-p384.crt.pem`: the leaves (CN=sip.contoso.com, O=Contoso,",
          "  C=US; SAN sip.contoso.com, contoso.com; EKU serverAuth, clientAuth).",
          "- `keytool-genkeypair.crt.pem`: the self-signed cert keytool generated.",
          "- `vectors/`: files copied unchanged from pyca's cryptography-vectors "
          f"{VECTORS_VERSION} (BSD-3-Clause or Apache-2.0, like pyca/cryptography).",
          ""]
    return "\n".join(L)


# --------------------------------------------------------------------------

def readme_not_made() -> list[dict]:
    """The "Not made" list of the README a full run wrote (only a full run tries those)."""
    text = (HERE / "README.md").read_text()
    section = text.split("## Not made\n\n", 1)[1].split("\n\n## ", 1)[0]
    return [{"file": m.group(1), "why": m.group(2)}
            for m in re.finditer(r"^- `([^`]+)`: (.*)$", section, re.M)]


def key_source(leaf: str, expected: dict) -> tuple[str, str, list[str]] | None:
    """An existing `openssl pkcs12` file holding `leaf`'s key and certificate, its password and
    the flags `openssl pkcs12` needs to read it."""
    for stem, _, o in OPENSSL_SPECS:
        f = f"{stem}.pfx"
        if (o.get("leaf", "rsa2048") == leaf and not o.get("nokeys") and not o.get("nocerts")
                and f in expected and (HERE / f).exists() and expected[f]["password"]):
            return f, expected[f]["password"], expected[f]["openssl_flags"] or []
    return None


def add_missing(exp: Path) -> int:
    """Make the files of OPENSSL_SPECS that are missing; rewrite no existing file."""
    expected = json.loads(exp.read_text())
    missing = []
    for stem, what, o in OPENSSL_SPECS:
        f = f"{stem}.pfx"
        if (HERE / f).exists() and f in expected:
            continue
        if (HERE / f).exists() or f in expected:
            print(f"{f} or its expected.json entry exists without the other: use --force",
                  file=sys.stderr)
            return 1
        missing.append((stem, what, o))
    if not missing:
        print(f"{exp.relative_to(HERE.parent.parent.parent)} lists every file: nothing to do "
              "(run with --force to regenerate every fixture)")
        return 0
    with tempfile.TemporaryDirectory(prefix="certslot-pfx-") as t:
        tmp = Path(t)
        chain = b"".join((HERE / f"{n}.crt.pem").read_bytes()
                         for n in ("intermediate-ca", "root-ca"))
        (tmp / "ca-chain.pem").write_bytes(chain)
        g = Gen(tmp, None)
        sources: dict[str, tuple[str, str]] = {}
        for leaf in sorted({o.get("leaf", "rsa2048") for _, _, o in missing}):
            found = key_source(leaf, expected)
            if found is None:
                print(f"no existing file holds the {leaf} key: use --force", file=sys.stderr)
                return 1
            src, pw, flags = found
            extract = ["openssl", "pkcs12", "-in", str(HERE / src), "-nocerts", "-nodes",
                       "-passin", "pass:" + pw, *flags]
            key = run(["openssl", "pkey"], input=run(extract).stdout).stdout
            (tmp / f"{leaf}.key.pem").write_bytes(key)
            shutil.copy(HERE / f"{leaf}.crt.pem", tmp / f"{leaf}.crt.pem")
            spki = run(["openssl", "pkey", "-pubout", "-outform", "DER"], input=key).stdout
            cert_spki = run(["openssl", "x509", "-in", str(tmp / f"{leaf}.crt.pem"), "-noout",
                             "-pubkey"]).stdout
            cert_spki = run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                            input=cert_spki).stdout
            if spki != cert_spki or hashlib.sha256(spki).hexdigest().upper() != \
                    expected[src]["key_spki_sha256"]:
                print(f"the key in {src} does not match {leaf}.crt.pem", file=sys.stderr)
                return 1
            sources[leaf] = (src, shown(extract, tmp) + f" | openssl pkey -out "
                                                         f"$TMP/{leaf}.key.pem; ")
        print("openssl pkcs12 -export (missing files only)")
        for stem, what, o in missing:
            leaf = o.get("leaf", "rsa2048")
            src, prefix = sources[leaf]
            g.openssl_one(stem, what, o, made_prefix=prefix, note=(
                f"Made after the last full run, from the {leaf} key taken back out of {src} "
                f"and {leaf}.crt.pem: the same key and certificate as {src}."))
        print("verifying the new files with openssl, Python and the walker")
        results, problems = verify(g)
    # each new file goes after the file of the spec before it, as a full run orders them
    order = list(expected)
    stems = [stem for stem, _, _ in OPENSSL_SPECS]
    for i, stem in enumerate(stems):
        f = f"{stem}.pfx"
        if f in results:
            prev = next((f"{p}.pfx" for p in reversed(stems[:i]) if f"{p}.pfx" in order), None)
            order.insert(order.index(prev) + 1 if prev else 0, f)
    merged = {f: results[f] if f in results else expected[f] for f in order}
    exp.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n")
    (HERE / "README.md").write_text(readme(merged, readme_not_made()))
    print(f"added {', '.join(results)}")
    for f, e in results.items():
        if not e["openssl_reads"] or not e["python_reads"]:
            print(f"  refused: {f}: openssl={e['openssl_reads']} python={e['python_reads']}")
    for p in problems:
        print("  CROSS-CHECK FAILED: " + p, file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--force", action="store_true", help="regenerate all fixtures")
    args = ap.parse_args()
    exp = HERE / "expected.json"
    if exp.exists() and not args.force:
        return add_missing(exp)
    for tool in ("openssl", "keytool", "java"):
        if not shutil.which(tool):
            print(f"`{tool}` not found", file=sys.stderr)
            return 1
    print(f"generating PKCS#12 fixtures in {HERE}")
    for p in [*HERE.glob("*.pfx"), *HERE.glob("*.crt.pem"), *HERE.glob("vectors/*.p12"), exp]:
        p.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="certslot-pfx-") as t:
        tmp = Path(t)
        print("certificate hierarchy (keys in the temp dir only)")
        h = Hierarchy(tmp)
        g = Gen(tmp, h)
        print("openssl pkcs12 -export")
        g.openssl_all()
        print("Java keytool / KeyStore API")
        g.java_all()
        print("Python cryptography")
        g.python_all()
        print("BER re-encodings and hand-built files")
        g.ber_all()
        print("pyca vectors")
        g.vectors()
        print("verifying every file with openssl, Python and the walker")
        results, problems = verify(g)
    exp.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (HERE / "README.md").write_text(readme(results, g.not_made))
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"wrote {len(results)} PFX files, expected.json and README.md ({total} bytes in all)")
    for f, e in results.items():
        if not e["openssl_reads"] or not e["python_reads"]:
            print(f"  refused: {f}: openssl={e['openssl_reads']} python={e['python_reads']}")
    for n in g.not_made:
        print(f"  not made: {n['file']}: {n['why']}")
    for p in problems:
        print("  CROSS-CHECK FAILED: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
