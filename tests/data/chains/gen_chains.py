#!/usr/bin/env python3
"""Generate the signature, bundle and chain fixtures for certslot and record what each must yield.

Usage (from the repository root):

    python3 tests/data/chains/gen_chains.py           # add the missing bundle files only
    python3 tests/data/chains/gen_chains.py --force   # regenerate every fixture

Requirements: Python 3.11+, the `cryptography` package (written against 48.x) and the
`openssl` command line tool (written against OpenSSL 3.0).  The DER helpers and the
`openssl ca` driver are imported from ../gen_certs.py.

What is made:

* certificates (NAME.der, and NAME.pem for those the bundles use): an RSA root,
  intermediate and leaves signed with PKCS #1 v1.5 (SHA-1, SHA-256, SHA-384, SHA-512) and
  RSA-PSS (SHA-256 salt 32, SHA-512 salt 20, SHA-1 with the default parameters), an
  RSA-PSS CA whose key carries PSS parameters, ECDSA P-256 and P-384 roots and leaves
  (SHA-1, SHA-256, SHA-384, SHA-512), leaves whose signature bits are flipped, a leaf whose
  outer signatureAlgorithm differs from its TBSCertificate's, a re-keyed intermediate with
  the same name as the intermediate, and two CAs cross-signed into a loop;
* an issuing CA renewed with a new key under the same name, as AD CS renews a CA: a root,
  the old and the renewed issuing CA, a leaf of each, and a leaf of the renewed CA without an
  authority key identifier (these six have fresh keys of their own, so the script adds them
  without --force when none of them exists yet);
* bundles of the RSA leaf, intermediate and root as a CA returns them: a PEM chain, a
  shuffled PEM chain, PKCS #7 certs-only files from `openssl crl2pkcs7` (DER and PEM) and
  from Python's `pkcs7.serialize_certificates` (DER and PEM), BER re-encodings with
  indefinite lengths (and a constructed eContent), the PKCS #7 in a CERTIFICATE PEM block;
  bundles for chain ordering (a broken intermediate signature, a cross-signed loop, a
  re-keyed intermediate beside the real one, the old CA before the renewed one); a .p7b of
  certificates `x509-cert` refuses;
  and PKCS #7 files that hold no certificate or are not signedData.

Everything that goes into the certificates is fixed here (names, serials, dates,
extensions, salt lengths) except the keys, which are freshly random on each full run
and exist only in a temporary directory, so thumbprints change whenever the fixtures are
regenerated.  `expected.json` records, from the tools: each certificate's SHA-1 and SHA-256
(`openssl x509 -fingerprint`), its subject and authority key identifiers (cryptography),
its signature algorithm (cryptography) and RSA-PSS
parameters (`openssl x509 -text`), its key (`openssl x509 -text`), which fixture's key
signed it and whether `openssl verify` and cryptography's `verify_directly_issued_by`
accept that signature; each bundle's certificates in file order (walked by this script
and checked against `openssl pkcs7 -print_certs` / `openssl storeutl` and cryptography's
PKCS #7 and PEM loaders), and the chain certslot must recover from it.

Without --force no file is rewritten: when expected.json exists the script makes only the
certificate groups of FRESH none of whose files exist (from fresh keys) and the bundle files
of BUNDLES that are missing and need no private key (they are made from the certificates
already here), records them in expected.json (with the key identifiers of entries recorded
before they were), and rewrites README.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.dont_write_bytecode = True  # no __pycache__ beside the fixtures

from cryptography import x509  # noqa: E402
from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs7  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID  # noqa: E402

from gen_certs import (  # noqa: E402
    NOT_AFTER, NOT_BEFORE, OpenSSLCA, contoso, der_children, der_content, der_oid_str,
    der_to_pem, fingerprint, key_pem, ku_ext, ossl, san_ext, split_cert, tbs_fields, tlv,
)

# --------------------------------------------------------------------------
# Fixed inputs
# --------------------------------------------------------------------------

VERIFY_AT = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)  # `openssl verify -attime`
LEAF_SUBJ = "/C=US/O=Contoso/CN=sip.contoso.com"
LEAF_NAME = contoso("sip.contoso.com")
RSA_ROOT = contoso("Contoso Chain Test Root CA")
RSA_INTER = contoso("Contoso Chain Test Issuing CA")
PSS_ROOT_SUBJ = "/C=US/O=Contoso/CN=Contoso Chain Test RSA-PSS CA"
EC256_ROOT = contoso("Contoso Chain Test ECC P-256 CA")
EC384_ROOT = contoso("Contoso Chain Test ECC P-384 CA")
CROSS_A = contoso("Contoso Cross CA A")
CROSS_B = contoso("Contoso Cross CA B")
RENEWAL_ROOT = contoso("Contoso Renewal Test Root CA")
RENEWAL_CA = contoso("Contoso Renewal Test Issuing CA")
# The renewed CA's certificate starts later than the old one's, as after an AD CS renewal; both
# are valid at VERIFY_AT.
RENEWED_NOT_BEFORE = dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc)
RENEWED_NOT_AFTER = dt.datetime(2036, 7, 1, tzinfo=dt.timezone.utc)
ECONTENT = b"certslot"  # the eContent of ber-constructed.p7b, in 3-octet chunks
CMS_MESSAGE = b"certslot test message\n"
LONG_CHAIN_CAS = 17  # CAs in long-chain.pem; with the leaf, 18 certificates

LEAF_EXT = """\
basicConstraints = critical, CA:false
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:sip.contoso.com, DNS:contoso.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""
CA_EXT = """\
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_DATA = "1.2.840.113549.1.7.1"
SHA384_WITH_RSA = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d01010c")) + b"\x05\x00")

CRYPTO = "python cryptography x509.CertificateBuilder"

# --------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------


def build(subject: x509.Name, pub, serial: int, issuer_name: x509.Name, issuer_key, *,
          ca: bool, issuer_pub=None, path_len: int | None = None, hash_alg=None,
          pss: padding.PSS | None = None, not_before: dt.datetime = NOT_BEFORE,
          not_after: dt.datetime = NOT_AFTER) -> bytes:
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(pub).serial_number(serial)
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True))
    if ca:
        b = b.add_extension(ku_ext(["keyCertSign", "cRLSign"]), critical=True)
    else:
        rsa_leaf = isinstance(pub, rsa.RSAPublicKey)
        b = b.add_extension(ku_ext(["digitalSignature"] + (["keyEncipherment"] if rsa_leaf else [])),
                            critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                   ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False)
        b = b.add_extension(san_ext(["sip.contoso.com", "contoso.com"]), critical=False)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
    if issuer_pub is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_pub),
                            critical=False)
    cert = b.sign(issuer_key, hash_alg or hashes.SHA256(), rsa_padding=pss)
    return cert.public_bytes(serialization.Encoding.DER)


def flip_signature_bit(cert_der: bytes, at: str) -> bytes:
    """The certificate with one bit of its signature flipped: the low bit of the middle octet
    (`at="middle"`, an RSA signature) or of the last octet (`at="last"`, the last octet of
    ECDSA's s, which keeps the Ecdsa-Sig-Value valid DER)."""
    tbs, sigalg, sig = split_cert(cert_der)
    bits = bytearray(der_content(sig))
    assert bits[0] == 0, "unused bits"
    i = len(bits) // 2 if at == "middle" else len(bits) - 1
    bits[i] ^= 0x01
    return tlv(0x30, tbs + sigalg + tlv(0x03, bytes(bits)))


def replace_outer_algorithm(cert_der: bytes, sigalg: bytes) -> bytes:
    tbs, _, sig = split_cert(cert_der)
    return tlv(0x30, tbs + sigalg + sig)


class Hierarchy:
    """Makes every certificate; keys stay in `tmp`."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.ca = OpenSSLCA(tmp)
        self.certs: dict[str, bytes] = {}
        self.meta: dict[str, dict] = {}
        self.keys: dict[str, object] = {}

    def add(self, name: str, der: bytes, issuer: str, verdict: str, made_with: str,
            notes: str) -> None:
        assert name not in self.certs, name
        self.certs[name] = der
        self.meta[name] = {"issuer_fixture": issuer, "verdict": verdict,
                           "made_with": made_with, "notes": notes}
        (self.tmp / f"{name}.pem").write_text(der_to_pem(der))

    def key_file(self, name: str, key) -> Path:
        self.keys[name] = key
        p = self.tmp / f"{name}.key"
        p.write_bytes(key_pem(key))
        return p

    def openssl_leaf(self, name: str, issuer: str, serial: int, key, md: str,
                     sigopts: list[str] = (), notes: str = "", verdict: str = "ok") -> None:
        kp = self.key_file(name, key)
        der, how = self.ca.sign(self.ca.csr(kp, LEAF_SUBJ), serial, NOT_BEFORE, NOT_AFTER,
                                LEAF_EXT, md=md, ca_cert=self.tmp / f"{issuer}.pem",
                                ca_key=self.tmp / f"{issuer}.key", sigopts=sigopts)
        self.add(name, der, issuer, verdict, f"openssl req -new; {how}".replace(
            "-cert intermediate-ca", f"-cert {issuer}"), notes)

    def make(self) -> None:
        rsa_root = rsa.generate_private_key(65537, 3072)
        self.key_file("rsa-root", rsa_root)
        self.add("rsa-root", build(RSA_ROOT, rsa_root.public_key(), 0x0C01, RSA_ROOT, rsa_root,
                                   ca=True),
                 "rsa-root", "ok", f"{CRYPTO}, RSA 3072, self-signed, sha256WithRSAEncryption",
                 "Root CA of the RSA chain.")
        inter = rsa.generate_private_key(65537, 2048)
        self.key_file("rsa-intermediate", inter)
        inter_der = build(RSA_INTER, inter.public_key(), 0x0C02, RSA_ROOT, rsa_root, ca=True,
                          issuer_pub=rsa_root.public_key(), path_len=0)
        self.add("rsa-intermediate", inter_der, "rsa-root", "ok",
                 f"{CRYPTO}, RSA 2048, signed by rsa-root, sha256WithRSAEncryption",
                 "Issuing CA under rsa-root (pathlen 0).")

        def rsa_leaf(name, serial, notes, hash_alg=None, pss=None, how="sha256WithRSAEncryption"):
            key = rsa.generate_private_key(65537, 2048)
            self.key_file(name, key)
            der = build(LEAF_NAME, key.public_key(), serial, RSA_INTER, inter, ca=False,
                        issuer_pub=inter.public_key(), hash_alg=hash_alg, pss=pss)
            self.add(name, der, "rsa-intermediate", "ok",
                     f"{CRYPTO}, RSA 2048, signed by rsa-intermediate, {how}", notes)
            return der

        leaf_der = rsa_leaf("rsa-leaf", 0x0C10, "The leaf of the RSA chain (PKCS #1 v1.5, SHA-256).")
        rsa_leaf("rsa-leaf-sha384", 0x0C11, "PKCS #1 v1.5 with SHA-384.", hashes.SHA384(),
                 how="sha384WithRSAEncryption")
        rsa_leaf("rsa-leaf-sha512", 0x0C12, "PKCS #1 v1.5 with SHA-512.", hashes.SHA512(),
                 how="sha512WithRSAEncryption")
        self.openssl_leaf("rsa-leaf-sha1", "rsa-intermediate", 0x0C13,
                          rsa.generate_private_key(65537, 2048), "sha1",
                          notes="PKCS #1 v1.5 with SHA-1 (cryptography refuses SHA-1 signatures).")
        rsa_leaf("rsa-leaf-pss", 0x0C14, "RSASSA-PSS: SHA-256, MGF1 with SHA-256, salt 32.",
                 hashes.SHA256(), padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                 how="RSASSA-PSS padding.PSS(MGF1(SHA256), salt_length=32)")
        self.openssl_leaf("rsa-leaf-pss-sha512", "rsa-intermediate", 0x0C15,
                          rsa.generate_private_key(65537, 2048), "sha512",
                          ["rsa_padding_mode:pss", "rsa_pss_saltlen:20"],
                          notes="RSASSA-PSS: SHA-512, MGF1 with SHA-512, salt 20 (shorter than "
                                "the hash).")
        self.openssl_leaf("rsa-leaf-pss-sha1", "rsa-intermediate", 0x0C16,
                          rsa.generate_private_key(65537, 2048), "sha1",
                          ["rsa_padding_mode:pss", "rsa_pss_saltlen:20"],
                          notes="RSASSA-PSS with every parameter at its RFC 4055 default (SHA-1, "
                                "MGF1 with SHA-1, salt 20, trailer 1): the parameters are an "
                                "empty SEQUENCE.")

        # RSA-PSS CA whose key carries RSASSA-PSS-params (RFC 4055 3.1 restrictions)
        kp = self.tmp / "pss-root.key"
        ossl("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048",
             "-pkeyopt", "rsa_pss_keygen_md:sha256", "-pkeyopt", "rsa_pss_keygen_mgf1_md:sha256",
             "-pkeyopt", "rsa_pss_keygen_saltlen:32", "-out", str(kp))
        der, how = self.ca.sign(self.ca.csr(kp, PSS_ROOT_SUBJ), 0x0C20, NOT_BEFORE, NOT_AFTER,
                                CA_EXT, selfsign_key=kp, sigopts=["rsa_pss_saltlen:32"])
        self.keys["pss-root"] = kp
        self.add("pss-root", der, "pss-root", "ok",
                 "openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -pkeyopt "
                 "rsa_pss_keygen_md:sha256 -pkeyopt rsa_pss_keygen_mgf1_md:sha256 -pkeyopt "
                 "rsa_pss_keygen_saltlen:32; openssl req -new; " + how,
                 "Self-signed CA with an id-RSASSA-PSS key whose parameters allow only SHA-256, "
                 "MGF1 with SHA-256 and salts of 32 octets or more.")
        self.openssl_leaf("pss-leaf", "pss-root", 0x0C21, rsa.generate_private_key(65537, 2048),
                          "sha256", ["rsa_pss_saltlen:32"],
                          notes="RSA leaf signed by pss-root within its key's PSS parameters.")

        # ECDSA
        for bits, curve, root_name, hash_alg, serial in (
                (256, ec.SECP256R1(), EC256_ROOT, hashes.SHA256(), 0x0C30),
                (384, ec.SECP384R1(), EC384_ROOT, hashes.SHA384(), 0x0C40)):
            root = ec.generate_private_key(curve)
            n = f"ec-p{bits}-root"
            self.key_file(n, root)
            self.add(n, build(root_name, root.public_key(), serial, root_name, root, ca=True,
                              hash_alg=hash_alg),
                     n, "ok", f"{CRYPTO}, EC P-{bits}, self-signed, ecdsa-with-{hash_alg.name.upper()}",
                     f"Self-signed ECDSA P-{bits} CA.")
            leaves = [("", hash_alg)] + ([("-sha512", hashes.SHA512())] if bits == 256
                                         else [("-sha256", hashes.SHA256())])
            for i, (suffix, h) in enumerate(leaves):
                key = ec.generate_private_key(curve)
                ln = f"ec-p{bits}-leaf{suffix}"
                self.key_file(ln, key)
                self.add(ln, build(LEAF_NAME, key.public_key(), serial + 1 + i, root_name, root,
                                   ca=False, issuer_pub=root.public_key(), hash_alg=h),
                         n, "ok", f"{CRYPTO}, EC P-{bits}, signed by {n}, "
                                  f"ecdsa-with-{h.name.upper()}",
                         f"ECDSA P-{bits} leaf signed with {h.name.upper()}"
                         + ("" if h.digest_size * 8 == bits else
                            f" (a hash {'longer' if h.digest_size * 8 > bits else 'shorter'} "
                            "than the curve)") + ".")
        self.openssl_leaf("ec-p256-leaf-sha1", "ec-p256-root", 0x0C35,
                          ec.generate_private_key(ec.SECP256R1()), "sha1",
                          notes="ecdsa-with-SHA1 (cryptography refuses SHA-1 signatures).")

        # broken and mismatched signatures
        self.add("rsa-leaf-bad-signature", flip_signature_bit(leaf_der, "middle"),
                 "rsa-intermediate", "bad-signature",
                 "gen_chains.py flip_signature_bit(rsa-leaf, 'middle')",
                 "rsa-leaf with the low bit of the middle signature octet flipped.")
        self.add("ec-p256-leaf-bad-signature",
                 flip_signature_bit(self.certs["ec-p256-leaf"], "last"), "ec-p256-root",
                 "bad-signature", "gen_chains.py flip_signature_bit(ec-p256-leaf, 'last')",
                 "ec-p256-leaf with the low bit of s flipped (still a valid DER Ecdsa-Sig-Value).")
        self.add("rsa-leaf-algorithm-mismatch", replace_outer_algorithm(leaf_der, SHA384_WITH_RSA),
                 "rsa-intermediate", "algorithm-mismatch",
                 "gen_chains.py replace_outer_algorithm(rsa-leaf, sha384WithRSAEncryption)",
                 "rsa-leaf whose outer signatureAlgorithm says sha384WithRSAEncryption while "
                 "TBSCertificate.signature says sha256WithRSAEncryption (RFC 5280 4.1.1.2).")
        self.add("rsa-intermediate-bad-signature", flip_signature_bit(inter_der, "middle"),
                 "rsa-root", "bad-signature",
                 "gen_chains.py flip_signature_bit(rsa-intermediate, 'middle')",
                 "rsa-intermediate with a signature bit flipped; its key still signs rsa-leaf.")
        rekeyed = rsa.generate_private_key(65537, 2048)
        self.add("rsa-intermediate-rekeyed",
                 build(RSA_INTER, rekeyed.public_key(), 0x0C03, RSA_ROOT, rsa_root, ca=True,
                       issuer_pub=rsa_root.public_key(), path_len=0),
                 "rsa-root", "ok", f"{CRYPTO}, RSA 2048 (another key), signed by rsa-root",
                 "Same subject as rsa-intermediate with another key: its name matches rsa-leaf's "
                 "issuer but its key did not sign it.")

        # cross-signed loop: A issued by B, B issued by A, a leaf issued by A
        a, b = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
        self.add("cross-a", build(CROSS_A, a.public_key(), 0x0C50, CROSS_B, b, ca=True,
                                  issuer_pub=b.public_key()),
                 "cross-b", "ok", f"{CRYPTO}, RSA 2048 key A, issuer name B, signed by key B",
                 "Cross CA A, certified by B.")
        self.add("cross-b", build(CROSS_B, b.public_key(), 0x0C51, CROSS_A, a, ca=True,
                                  issuer_pub=a.public_key()),
                 "cross-a", "ok", f"{CRYPTO}, RSA 2048 key B, issuer name A, signed by key A",
                 "Cross CA B, certified by A: with cross-a a loop without a self-signed root.")
        leaf_key = rsa.generate_private_key(65537, 2048)
        self.add("cross-leaf", build(LEAF_NAME, leaf_key.public_key(), 0x0C52, CROSS_A, a,
                                     ca=False, issuer_pub=a.public_key()),
                 "cross-a", "ok", f"{CRYPTO}, RSA 2048, signed by key A",
                 "Leaf issued by Cross CA A.")
        for group in FRESH:
            self.make_fresh(group)

    def make_fresh(self, group: str) -> None:
        """Makes one group of FRESH, from keys of its own."""
        {"renewal": self.make_renewal}[group]()

    def make_renewal(self) -> None:
        """An issuing CA renewed with a new key under the same name (AD CS `certutil -renewCert
        ReuseKeys` not given), the old certificate kept beside the new one."""
        root = rsa.generate_private_key(65537, 2048)
        self.key_file("renewal-root", root)
        self.add("renewal-root", build(RENEWAL_ROOT, root.public_key(), 0x0E01, RENEWAL_ROOT, root,
                                       ca=True),
                 "renewal-root", "ok", f"{CRYPTO}, RSA 2048, self-signed, sha256WithRSAEncryption",
                 "Root CA above the renewed issuing CA.")
        old, new = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
        self.key_file("renewal-ca-old", old)
        self.key_file("renewal-ca", new)
        self.add("renewal-ca-old",
                 build(RENEWAL_CA, old.public_key(), 0x0E02, RENEWAL_ROOT, root, ca=True,
                       issuer_pub=root.public_key(), path_len=0),
                 "renewal-root", "ok", f"{CRYPTO}, RSA 2048 (key 1), signed by renewal-root",
                 "The issuing CA before its renewal (key 1).")
        self.add("renewal-ca",
                 build(RENEWAL_CA, new.public_key(), 0x0E03, RENEWAL_ROOT, root, ca=True,
                       issuer_pub=root.public_key(), path_len=0, not_before=RENEWED_NOT_BEFORE,
                       not_after=RENEWED_NOT_AFTER),
                 "renewal-root", "ok",
                 f"{CRYPTO}, RSA 2048 (key 2), signed by renewal-root, valid 2026-07-01 to "
                 "2036-07-01",
                 "The same issuing CA renewed with a new key (key 2): same subject as "
                 "renewal-ca-old, another subject key identifier.")
        for name, serial, key, issuer, aki, notes in (
                ("renewal-leaf", 0x0E10, new, "renewal-ca", True,
                 "Leaf issued by the renewed CA; its authority key identifier is key 2's."),
                ("renewal-leaf-old", 0x0E11, old, "renewal-ca-old", True,
                 "Leaf issued by the CA before its renewal (key 1)."),
                ("renewal-leaf-no-aki", 0x0E12, new, "renewal-ca", False,
                 "Leaf issued by the renewed CA without an authority key identifier: only its "
                 "signature tells the two CAs apart.")):
            leaf = rsa.generate_private_key(65537, 2048)
            self.add(name, build(LEAF_NAME, leaf.public_key(), serial, RENEWAL_CA, key, ca=False,
                                 issuer_pub=key.public_key() if aki else None),
                     issuer, "ok", f"{CRYPTO}, RSA 2048, signed by {issuer}"
                     + ("" if aki else ", no authorityKeyIdentifier"), notes)


# --------------------------------------------------------------------------
# BER / DER walking (low tag numbers only)
# --------------------------------------------------------------------------

class Node:
    __slots__ = ("tag", "children", "value", "raw", "indefinite", "keep")

    def __init__(self, tag, children, value, raw):
        self.tag, self.children, self.value, self.raw = tag, children, value, raw
        self.indefinite = False
        self.keep = False  # written back as `raw`, untouched


def parse(buf: bytes, pos: int = 0) -> tuple[Node, int]:
    tag = buf[pos]
    assert tag & 0x1F != 0x1F, "high tag number"
    first = buf[pos + 1]
    p = pos + 2
    if first == 0x80:
        kids = []
        while buf[p:p + 2] != b"\x00\x00":
            kid, p = parse(buf, p)
            kids.append(kid)
        n = Node(tag, kids, None, buf[pos:p + 2])
        n.indefinite = True
        return n, p + 2
    if first & 0x80:
        k = first & 0x7F
        length = int.from_bytes(buf[p:p + k], "big")
        p += k
    else:
        length = first
    end = p + length
    assert end <= len(buf), "length past the end"
    if tag & 0x20:
        kids, q = [], p
        while q < end:
            kid, q = parse(buf, q)
            kids.append(kid)
        return Node(tag, kids, None, buf[pos:end]), end
    return Node(tag, None, buf[p:end], buf[pos:end]), end


def parse_all(buf: bytes) -> Node:
    n, end = parse(buf)
    assert end == len(buf), f"{len(buf) - end} trailing bytes"
    return n


def encode(n: Node) -> bytes:
    if n.keep or n.children is None:
        return n.raw if n.keep else tlv(n.tag, n.value)
    content = b"".join(encode(c) for c in n.children)
    if n.indefinite:
        return bytes([n.tag, 0x80]) + content + b"\x00\x00"
    return tlv(n.tag, content)


def signed_data(ci: Node) -> Node:
    assert ci.children[0].tag == 0x06
    return ci.children[1].children[0]


def pkcs7_walk(data: bytes) -> dict:
    """Content type, certificates in file order (DER), CRL and signer counts."""
    ci = parse_all(data)
    ctype = der_oid_str(tlv(0x06, ci.children[0].value))
    if ctype != OID_SIGNED_DATA:
        return {"content_type": ctype, "certificates": [], "crls": 0, "signers": 0}
    sd = signed_data(ci)
    certs = next((c.children for c in sd.children if c.tag == 0xA0), [])
    crls = next((c.children for c in sd.children if c.tag == 0xA1), [])
    return {"content_type": ctype, "certificates": [c.raw for c in certs], "crls": len(crls),
            "signers": len(sd.children[-1].children)}


def all_indefinite(n: Node) -> None:
    if n.children is not None and not n.keep:
        n.indefinite = True
        for c in n.children:
            all_indefinite(c)


def ber_indefinite(p7b: bytes, econtent: bytes | None = None) -> bytes:
    """Every constructed item outside the certificates gets an indefinite length; with
    `econtent`, encapContentInfo also gets an eContent [0] holding a constructed OCTET STRING
    of 3-octet chunks, as streaming CMS encoders write it."""
    ci = parse_all(p7b)
    sd = signed_data(ci)
    for c in sd.children:
        if c.tag == 0xA0:
            for cert in c.children:
                cert.keep = True
    if econtent is not None:
        encap = sd.children[2]
        chunks = [Node(0x04, None, econtent[i:i + 3], b"") for i in range(0, len(econtent), 3)]
        os_ = Node(0x24, chunks, None, b"")
        encap.children.append(Node(0xA0, [os_], None, b""))
    all_indefinite(ci)
    return encode(ci)


# --------------------------------------------------------------------------
# Bundles: (file, needs private keys, maker, leaf, expected chain, notes)
# --------------------------------------------------------------------------


def pem_of(names: list[str], certs: dict) -> bytes:
    return "".join(der_to_pem(certs[n]) for n in names).encode()


def crl2pkcs7(tmp: Path, certs: dict, names: list[str], outform: str) -> tuple[bytes, str]:
    src = tmp / "crl2pkcs7-in.pem"
    src.write_bytes(pem_of(names, certs))
    out = ossl("crl2pkcs7", "-nocrl", "-certfile", str(src), "-outform", outform).stdout
    return out, f"openssl crl2pkcs7 -nocrl -certfile <{', '.join(names)} as PEM> -outform {outform}"


ENCODING_NAMES = {serialization.Encoding.DER: "DER", serialization.Encoding.PEM: "PEM"}


def python_p7(certs: dict, names: list[str], enc) -> tuple[bytes, str]:
    objs = [x509.load_der_x509_certificate(certs[n]) for n in names]
    return (pkcs7.serialize_certificates(objs, enc),
            f"cryptography pkcs7.serialize_certificates([{', '.join(names)}], "
            f"Encoding.{ENCODING_NAMES[enc]})")


CHAIN = ["rsa-leaf", "rsa-intermediate", "rsa-root"]


def make_bundles(tmp: Path, certs: dict, keys: dict | None, only: set[str] | None) -> dict:
    """Makes the bundle files (all, or the names in `only`) into `tmp`/out; returns their
    metadata. `keys` is None when the private keys are gone (no --force)."""
    out = tmp / "out"
    out.mkdir(exist_ok=True)
    made: dict[str, dict] = {}

    def want(f: str) -> bool:
        return only is None or f in only

    def put(f: str, data: bytes, made_with: str, notes: str, **kw) -> None:
        (out / f).write_bytes(data)
        made[f] = {"made_with": made_with, "notes": notes, **kw}

    ok_chain = {"leaf": "rsa-leaf", "chain": CHAIN, "unused": [], "end": "self-signed"}
    if want("chain.pem"):
        put("chain.pem", pem_of(CHAIN, certs), "gen_chains.py: the PEM of rsa-leaf, "
            "rsa-intermediate, rsa-root concatenated", "PEM chain, leaf first.", **ok_chain)
    if want("chain-shuffled.pem"):
        put("chain-shuffled.pem", pem_of(["rsa-root", "rsa-leaf", "rsa-intermediate"], certs),
            "gen_chains.py: the PEM of rsa-root, rsa-leaf, rsa-intermediate concatenated",
            "PEM chain out of order: root, leaf, intermediate.", **ok_chain)
    for f, form in (("openssl.p7b", "DER"), ("openssl-p7b.pem", "PEM")):
        if want(f):
            data, how = crl2pkcs7(tmp, certs, CHAIN, form)
            put(f, data, how, f"PKCS #7 certs-only from OpenSSL ({form}); OpenSSL keeps the "
                "order of -certfile (its certificates are an IMPLICIT SEQUENCE OF inside).",
                **ok_chain)
    for f, enc in (("python.p7b", serialization.Encoding.DER),
                   ("python-p7b.pem", serialization.Encoding.PEM)):
        if want(f):
            data, how = python_p7(certs, list(reversed(CHAIN)), enc)
            put(f, data, how, f"PKCS #7 certs-only from Python cryptography "
                f"({ENCODING_NAMES[enc]}), given root first; its CertificateSet is a DER SET "
                "OF, sorted by encoding, so the file order is not the order given.", **ok_chain)
    if want("ber-indefinite.p7b") or want("ber-constructed.p7b") or want("certificate-label.pem"):
        der, how = crl2pkcs7(tmp, certs, CHAIN, "DER")
        if want("ber-indefinite.p7b"):
            put("ber-indefinite.p7b", ber_indefinite(der),
                f"gen_chains.py ber_indefinite() on `{how}`",
                "BER: ContentInfo, [0], SignedData, its SETs, encapContentInfo and the [0] "
                "certificates have indefinite lengths (the certificates stay DER).", **ok_chain)
        if want("ber-constructed.p7b"):
            put("ber-constructed.p7b", ber_indefinite(der, ECONTENT),
                f"gen_chains.py ber_indefinite(econtent=b'certslot') on `{how}`",
                "BER as streaming encoders write it: indefinite lengths and an eContent "
                "[0] { OCTET STRING (constructed, indefinite) { 'cer', 'tsl', 'ot' } }.",
                **ok_chain)
        if want("certificate-label.pem"):
            put("certificate-label.pem", der_to_pem(der).encode(),
                f"gen_chains.py: `{how}` in a CERTIFICATE PEM block",
                "A PKCS #7 in a PEM block labelled CERTIFICATE, as some CAs send it.",
                **ok_chain)
    if want("chain-bad-intermediate.pem"):
        names = ["rsa-leaf", "rsa-intermediate-bad-signature", "rsa-root"]
        put("chain-bad-intermediate.pem", pem_of(names, certs),
            "gen_chains.py: the PEM of " + ", ".join(names) + " concatenated",
            "The intermediate's signature is broken: ordering fails naming it.",
            leaf="rsa-leaf", error={"kind": "bad-signature",
                                    "certificate": "rsa-intermediate-bad-signature",
                                    "issuer": "rsa-root"})
    if want("cross.pem"):
        names = ["cross-leaf", "cross-a", "cross-b"]
        put("cross.pem", pem_of(names, certs),
            "gen_chains.py: the PEM of " + ", ".join(names) + " concatenated",
            "Two CAs cross-signed into a loop and no root: ordering stops where the path would "
            "come back to cross-a.", leaf="cross-leaf", chain=names, unused=[],
            end={"loop": "cross-a"})
    if want("renewed-intermediate.pem"):
        names = ["rsa-leaf", "rsa-intermediate-rekeyed", "rsa-intermediate", "rsa-root"]
        put("renewed-intermediate.pem", pem_of(names, certs),
            "gen_chains.py: the PEM of " + ", ".join(names) + " concatenated",
            "Two intermediates with rsa-leaf's issuer name; only rsa-intermediate's key signed "
            "it, so the re-keyed one is left out of the path.", leaf="rsa-leaf", chain=CHAIN,
            unused=["rsa-intermediate-rekeyed"], end="self-signed")
    if want("renewed-ca.pem"):
        names = ["renewal-leaf", "renewal-ca-old", "renewal-ca", "renewal-root"]
        put("renewed-ca.pem", pem_of(names, certs),
            "gen_chains.py: the PEM of " + ", ".join(names) + " concatenated",
            "An issuing CA renewed with a new key under the same name, the old certificate "
            "first: the leaf's authority key identifier and signature pick the renewed one.",
            leaf="renewal-leaf", chain=["renewal-leaf", "renewal-ca", "renewal-root"],
            unused=["renewal-ca-old"], end="self-signed")
    if want("lenient.p7b"):
        src = tmp / "lenient-in.pem"
        src.write_bytes((HERE.parent / "strings.pem").read_bytes()
                        + (HERE.parent / "pre1970.pem").read_bytes())
        data = ossl("crl2pkcs7", "-nocrl", "-certfile", str(src), "-outform", "DER").stdout
        put("lenient.p7b", data, "openssl crl2pkcs7 -nocrl -certfile <../strings.pem, "
            "../pre1970.pem> -outform DER",
            "Certificates the x509-cert crate (and so cms) refuses, a UniversalString name and a "
            "pre-1970 UTCTime, which certslot reads.",
            external=["strings", "pre1970"])
    if want("not-signed-data.p7b"):
        msg = tmp / "msg.txt"
        msg.write_bytes(CMS_MESSAGE)
        data = ossl("cms", "-data_create", "-binary", "-in", str(msg), "-outform", "DER").stdout
        put("not-signed-data.p7b", data, "openssl cms -data_create -binary -outform DER",
            "A ContentInfo of type id-data: not a certificate bundle.",
            error={"kind": "not-signed-data", "content_type": OID_DATA})
    if want("empty.p7b"):
        data = ossl("crl2pkcs7", "-nocrl", "-outform", "DER").stdout
        put("empty.p7b", data, "openssl crl2pkcs7 -nocrl -outform DER (no -certfile)",
            "SignedData with no certificates.",
            error={"kind": "no-certificates", "crls": 0, "signers": 0})
    if want("long-chain.pem"):
        # Fresh keys (none of the fixtures'), so this file can be added without --force.
        keys_ = [ec.generate_private_key(ec.SECP256R1()) for _ in range(LONG_CHAIN_CAS + 1)]
        names = [contoso(f"Contoso Long Chain CA {i}") for i in range(LONG_CHAIN_CAS)]
        ders = [build(names[0], keys_[0].public_key(), 0x0D00, names[0], keys_[0], ca=True)]
        for i in range(1, LONG_CHAIN_CAS):
            ders.append(build(names[i], keys_[i].public_key(), 0x0D00 + i, names[i - 1],
                              keys_[i - 1], ca=True, issuer_pub=keys_[i - 1].public_key()))
        ders.append(build(LEAF_NAME, keys_[-1].public_key(), 0x0D00 + LONG_CHAIN_CAS,
                          names[-1], keys_[-2], ca=False, issuer_pub=keys_[-2].public_key()))
        put("long-chain.pem", "".join(der_to_pem(d) for d in reversed(ders)).encode(),
            f"{CRYPTO}, EC P-256, fresh keys: a root 'Contoso Long Chain CA 0', CAs 1 to "
            f"{LONG_CHAIN_CAS - 1} each signed by the one before, a leaf signed by the last; "
            "written leaf first",
            f"A path of {LONG_CHAIN_CAS + 1} certificates, longer than certslot's limit of 16: "
            "ordering stops with an error instead of working on.",
            leaf=sha1(ders[-1]), error={"kind": "too-long", "max": 16})
    if want("crl-only.p7b") or want("cms-signed.p7b"):
        if keys is None:
            raise SystemExit("crl-only.p7b and cms-signed.p7b need the private keys: use --force")
    if want("crl-only.p7b"):
        root = keys["rsa-root"]
        crl = (x509.CertificateRevocationListBuilder().issuer_name(RSA_ROOT)
               .last_update(NOT_BEFORE).next_update(NOT_BEFORE + dt.timedelta(days=30))
               .sign(root, hashes.SHA256()))
        crl_pem = tmp / "root.crl.pem"
        crl_pem.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        data = ossl("crl2pkcs7", "-in", str(crl_pem), "-outform", "DER").stdout
        put("crl-only.p7b", data, "cryptography CertificateRevocationListBuilder (rsa-root); "
            "openssl crl2pkcs7 -in root.crl.pem -outform DER",
            "SignedData with one CRL and no certificates.",
            error={"kind": "no-certificates", "crls": 1, "signers": 0})
    if want("cms-signed.p7b"):
        msg = tmp / "msg.txt"
        msg.write_bytes(CMS_MESSAGE)
        data = ossl("cms", "-sign", "-binary", "-nodetach", "-in", str(msg),
                    "-signer", str(tmp / "rsa-leaf.pem"), "-inkey", str(tmp / "rsa-leaf.key"),
                    "-certfile", str(tmp / "rsa-intermediate.pem"), "-outform", "DER").stdout
        put("cms-signed.p7b", data, "openssl cms -sign -binary -nodetach -signer rsa-leaf "
            "-certfile rsa-intermediate -outform DER",
            "A signed message (one signer) carrying rsa-leaf and rsa-intermediate: the "
            "certificates are read, the signer is not checked.", leaf="rsa-leaf",
            chain=["rsa-leaf", "rsa-intermediate"], unused=[], end="issuer-not-found")
    return made


BUNDLES = ["chain.pem", "chain-shuffled.pem", "openssl.p7b", "openssl-p7b.pem", "python.p7b",
           "python-p7b.pem", "ber-indefinite.p7b", "ber-constructed.p7b",
           "certificate-label.pem", "chain-bad-intermediate.pem", "cross.pem",
           "renewed-intermediate.pem", "lenient.p7b", "not-signed-data.p7b", "empty.p7b",
           "crl-only.p7b", "cms-signed.p7b", "long-chain.pem", "renewed-ca.pem"]
NEEDS_KEYS = {"crl-only.p7b", "cms-signed.p7b"}
# Certificate groups made from fresh keys of their own (Hierarchy.make_fresh): added without
# --force when none of their files exists.
FRESH = {"renewal": ["renewal-root", "renewal-ca-old", "renewal-ca", "renewal-leaf",
                     "renewal-leaf-old", "renewal-leaf-no-aki"]}

# --------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------


def sha1(der: bytes) -> str:
    return hashlib.sha1(der).hexdigest().upper()


def openssl_text(path: Path) -> str:
    return ossl("x509", "-inform", "DER", "-in", str(path), "-noout", "-text").stdout.decode()


def pss_params(text: str) -> dict | None:
    """RSASSA-PSS parameters from the first 'Signature Algorithm: rsassaPss' block."""
    at = text.find("Signature Algorithm: rsassaPss")
    if at < 0:
        return None
    block = "\n".join(text[at:].splitlines()[1:5])
    h = re.search(r"Hash Algorithm: (\w+)", block).group(1)
    mgf = re.search(r"Mask Algorithm: mgf1 with (\w+)", block).group(1)
    salt = int(re.search(r"Salt Length: 0x([0-9A-Fa-f]+)", block).group(1), 16)
    trailer = int(re.search(r"Trailer Field: 0x([0-9A-Fa-f]+)", block).group(1), 16)
    return {"hash": h, "mgf1_hash": mgf, "salt_len": salt, "trailer_field": trailer}


def key_facts(text: str) -> dict:
    bits = int(re.search(r"Public-Key: \((\d+) bit\)", text).group(1))
    alg = re.search(r"Public Key Algorithm: (\S+)", text).group(1)
    curve = re.search(r"NIST CURVE: (\S+)", text)
    return {"key_algorithm": {"rsaEncryption": "rsa", "rsassaPss": "rsa-pss",
                              "id-ecPublicKey": "ec"}[alg],
            "key_bits": bits, "curve": curve.group(1) if curve else None}


def key_identifiers(der: bytes) -> dict:
    """The subjectKeyIdentifier and the keyIdentifier of the authorityKeyIdentifier, in
    uppercase hex (cryptography), null when absent."""
    c = x509.load_der_x509_certificate(der)

    def ext(cls):
        try:
            return c.extensions.get_extension_for_class(cls).value
        except x509.ExtensionNotFound:
            return None
    ski, aki = ext(x509.SubjectKeyIdentifier), ext(x509.AuthorityKeyIdentifier)
    return {"subject_key_identifier": ski.digest.hex().upper() if ski else None,
            "authority_key_identifier": (aki.key_identifier.hex().upper()
                                         if aki and aki.key_identifier else None)}


def openssl_verdict(work: Path, cert: Path, issuer: Path) -> tuple[bool, str]:
    r = ossl("verify", "-attime", str(int(VERIFY_AT.timestamp())), "-auth_level", "0",
             "-partial_chain", "-check_ss_sig", "-CAfile", str(issuer), str(cert), check=False)
    out = (r.stdout + r.stderr).decode(errors="replace").replace(str(work) + "/", "")
    return r.returncode == 0, " ".join(out.split())[:300]


def python_verdict(cert: bytes, issuer: bytes) -> tuple[bool, str]:
    c, i = x509.load_der_x509_certificate(cert), x509.load_der_x509_certificate(issuer)
    try:
        c.verify_directly_issued_by(i)
        return True, "verify_directly_issued_by: ok"
    except InvalidSignature:
        return False, "verify_directly_issued_by: InvalidSignature"
    except Exception as ex:  # noqa: BLE001
        return False, f"verify_directly_issued_by: {type(ex).__name__}: {ex}"


def record_certificate(work: Path, name: str, der: bytes, meta: dict, certs: dict,
                       problems: list[str]) -> dict:
    path = work / f"{name}.der"
    path.write_bytes(der)
    issuer = meta["issuer_fixture"]
    ipath = work / f"{issuer}.der.pem"
    ipath.write_text(der_to_pem(certs[issuer]))
    cpath = work / f"{name}.der.pem"
    cpath.write_text(der_to_pem(der))
    text = openssl_text(path)
    fp1 = fingerprint(ossl("x509", "-inform", "DER", "-in", str(path), "-noout", "-fingerprint",
                           "-sha1").stdout.decode())
    fp256 = fingerprint(ossl("x509", "-inform", "DER", "-in", str(path), "-noout",
                             "-fingerprint", "-sha256").stdout.decode())
    c = x509.load_der_x509_certificate(der)
    tbs_alg = der_oid_str(der_children(der_content(tbs_fields(split_cert(der)[0])["signature"]))[0])
    ok_ossl, msg_ossl = openssl_verdict(work, cpath, ipath)
    ok_py, msg_py = python_verdict(der, certs[issuer])
    verifies = meta["verdict"] == "ok"
    if ok_ossl != verifies:
        problems.append(f"{name}: openssl verify says {ok_ossl} ({msg_ossl}), expected "
                        f"{meta['verdict']}")
    h = c.signature_hash_algorithm
    entry = {
        "der_file": f"{name}.der",
        "pem_file": f"{name}.pem",
        "sha1": fp1,
        "sha256": fp256,
        "subject": c.subject.rfc4514_string(),
        "issuer": c.issuer.rfc4514_string(),
        "issuer_fixture": issuer,
        "self_signed": issuer == name,
        "signature_algorithm": c.signature_algorithm_oid.dotted_string,
        "tbs_signature_algorithm": tbs_alg,
        "signature_hash": h.name if h else None,
        "pss": pss_params(text),
        **key_facts(text),
        **key_identifiers(der),
        "verdict": meta["verdict"],
        "openssl_verifies": ok_ossl,
        "openssl_verify_output": msg_ossl,
        "python_verifies": ok_py,
        "python_verify_output": msg_py,
        "made_with": meta["made_with"],
        "notes": meta["notes"],
    }
    if fp1 != sha1(der):
        problems.append(f"{name}: openssl's SHA-1 {fp1} differs from hashlib's")
    return entry


def tool_orders(path: Path, data: bytes, notes: list[str]
                ) -> tuple[list[str] | None, list[str] | None]:
    """The certificates (SHA-1) OpenSSL and cryptography read from a bundle, in their order."""
    def pems(text: bytes) -> list[str]:
        blocks = re.findall(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text,
                            re.S)
        return [sha1(base64.b64decode(b"".join(b.split()))) for b in blocks]

    is_pem = data.lstrip().startswith(b"-----BEGIN")
    label_pkcs7 = b"BEGIN PKCS7" in data
    ossl_order = None
    py_order = None
    if path.suffix == ".p7b" or label_pkcs7:
        r = ossl("pkcs7", "-inform", "PEM" if is_pem else "DER", "-in", str(path),
                 "-print_certs", check=False)
        ossl_order = pems(r.stdout) if r.returncode == 0 else None
        try:
            load = (pkcs7.load_pem_pkcs7_certificates if is_pem
                    else pkcs7.load_der_pkcs7_certificates)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                py_order = [sha1(c.public_bytes(serialization.Encoding.DER)) for c in load(data)]
            for w in caught:
                notes.append(f"cryptography warns: {str(w.message).split('. Please file')[0]}; "
                             f"{str(w.message).split('Error details: ')[-1]}")
        except Exception as ex:  # noqa: BLE001
            notes.append(f"cryptography refuses it: {type(ex).__name__}: {ex}")
            py_order = None
    else:
        r = ossl("storeutl", "-certs", str(path), check=False)
        ossl_order = pems(r.stdout) if r.returncode == 0 else None
        try:
            py_order = [sha1(c.public_bytes(serialization.Encoding.DER))
                        for c in x509.load_pem_x509_certificates(data)]
        except Exception:  # noqa: BLE001
            py_order = None
    return ossl_order, py_order


def record_bundle(path: Path, meta: dict, by_sha1: dict[str, str], problems: list[str]) -> dict:
    data = path.read_bytes()
    f = path.name
    if data.lstrip().startswith(b"-----BEGIN"):
        m = re.search(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", data, re.S)
        label = m.group(1).decode()
        inner = base64.b64decode(b"".join(m.group(2).split()))
        if label == "CERTIFICATE" and parse_all(inner).children[0].tag == 0x06:
            form, walk = "pkcs7-pem (CERTIFICATE label)", pkcs7_walk(inner)
        elif label == "PKCS7":
            form, walk = "pkcs7-pem", pkcs7_walk(inner)
        else:
            blocks = re.findall(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                                data, re.S)
            certs = [base64.b64decode(b"".join(b.split())) for b in blocks]
            form, walk = "pem", {"certificates": certs, "crls": 0, "signers": 0,
                                 "content_type": None}
    else:
        walk = pkcs7_walk(data)
        form = "pkcs7-ber" if has_indefinite(parse_all(data)) else "pkcs7-der"
    order = [sha1(c) for c in walk["certificates"]]
    tool_notes: list[str] = []
    ossl_order, py_order = tool_orders(path, data, tool_notes)
    if walk["content_type"] in (None, OID_SIGNED_DATA) and order:
        if ossl_order is not None and ossl_order != order:
            problems.append(f"{f}: openssl reads {ossl_order}, the walk {order}")
        if py_order is not None and py_order != order:
            problems.append(f"{f}: cryptography reads {py_order}, the walk {order}")
    entry = {"file": f, "format": form, "content_type": walk["content_type"],
             "certificates": [by_sha1.get(s, s) for s in order], "sha1": order,
             "crls": walk["crls"], "signers": walk["signers"],
             "openssl_reads": ossl_order, "python_reads": py_order,
             **({"tool_notes": tool_notes} if tool_notes else {}),
             "size": len(data), "sha256_of_file": hashlib.sha256(data).hexdigest(), **meta}
    return entry


def has_indefinite(n: Node) -> bool:
    return n.indefinite or any(has_indefinite(c) for c in n.children or [])


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------


def readme(expected: dict) -> str:
    ver = ossl("version").stdout.decode().strip()
    import cryptography
    L = [
        "# Signature, bundle and chain fixtures",
        "",
        "Generated by `gen_chains.py` (this directory); `expected.json` records what each file",
        "must yield. Regenerate everything from the repository root with:",
        "",
        "```sh",
        "python3 tests/data/chains/gen_chains.py --force",
        "```",
        "",
        "Without `--force` the script rewrites no file: it only makes the bundle files that are",
        "missing and need no private key, from the certificates here, and the certificate groups",
        "made from keys of their own (`FRESH`: the renewed CA) none of whose files exists. Keys",
        "are random and exist only in a temporary directory while the script runs, so every full",
        "run changes thumbprints; names, serials, dates (2026-01-01 to 2036-01-01, the renewed CA",
        "2026-07-01 to 2036-07-01), extensions and PSS parameters are fixed in the script.",
        "",
        f"Last generated with {ver} and Python cryptography {cryptography.__version__}.",
        "",
        "## expected.json",
        "",
        "- `certificates.NAME`: `der_file`/`pem_file`, `sha1`/`sha256` (`openssl x509",
        "  -fingerprint`), `subject`/`issuer` (RFC 4514), `issuer_fixture` (whose key signed it),",
        "  `signature_algorithm` and `tbs_signature_algorithm` (OIDs), `signature_hash`",
        "  (cryptography), `pss` (from `openssl x509 -text`), the certificate's own key",
        "  (`key_algorithm`, `key_bits`, `curve`), `subject_key_identifier` and",
        "  `authority_key_identifier` (its keyIdentifier; uppercase hex from cryptography, null",
        "  when absent), `verdict` (`ok`, `bad-signature`,",
        "  `algorithm-mismatch`: what a verifier must say for the pair certificate/issuer),",
        "  `openssl_verifies` (`openssl verify -partial_chain -check_ss_sig -auth_level 0",
        "  -attime 2027-01-01 -CAfile ISSUER`) and `python_verifies`",
        "  (`verify_directly_issued_by`), with their output.",
        "- `bundles.FILE`: `format`, `content_type`, `certificates` (fixture names in file order,",
        "  walked by the script and checked against `openssl pkcs7 -print_certs` /",
        "  `openssl storeutl -certs` and cryptography's loaders: `openssl_reads`,",
        "  `python_reads`, SHA-1s), `crls`, `signers`; for chain ordering `leaf`, `chain`",
        "  (leaf first), `unused` and `end` (`self-signed`, `issuer-not-found`, `{\"loop\":",
        "  NAME}`), or `error` for the files that must fail.",
        "",
        "## Certificates",
        "",
        "| fixture | issuer | verdict | openssl | python | what | made with |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, e in expected["certificates"].items():
        L.append(f"| `{n}` | `{e['issuer_fixture']}` | {e['verdict']} | "
                 f"{'ok' if e['openssl_verifies'] else 'fails'} | "
                 f"{'ok' if e['python_verifies'] else 'fails'} | {e['notes']} | "
                 f"{e['made_with']} |")
    L += ["", "## Bundles", "", "| file | format | certificates (file order) | what | made with |",
          "|---|---|---|---|---|"]
    for f, e in expected["bundles"].items():
        certs = ", ".join(e["certificates"]) or "none"
        L.append(f"| `{f}` | {e['format']} | {certs} | {e['notes']} | {e['made_with']} |")
    return "\n".join(L) + "\n"


# --------------------------------------------------------------------------


def by_sha1_table(certs: dict) -> dict[str, str]:
    table = {sha1(der): n for n, der in certs.items()}
    outer = json.loads((HERE.parent / "expected.json").read_text())
    for n, e in outer.items():
        if "der_file" in e:
            table.setdefault(e["sha1"], n)
    return table


def write_out(stage: Path, expected: dict) -> None:
    (stage / "expected.json").write_text(json.dumps(expected, indent=2, ensure_ascii=False)
                                         + "\n")
    (stage / "README.md").write_text(readme(expected))
    # expected.json last, so that a partial run is detectable
    for f in sorted(stage.iterdir(), key=lambda p: p.name == "expected.json"):
        shutil.move(str(f), HERE / f.name)


def full_run() -> int:
    with tempfile.TemporaryDirectory(prefix="certslot-chains-") as t:
        tmp = Path(t)
        print("certificates (keys in the temp dir only)")
        h = Hierarchy(tmp)
        h.make()
        problems: list[str] = []
        work = tmp / "work"
        work.mkdir()
        certs = {n: record_certificate(work, n, der, h.meta[n], h.certs, problems)
                 for n, der in h.certs.items()}
        print("bundles")
        made = make_bundles(tmp, h.certs, h.keys, None)
        stage = tmp / "out"
        for n, der in h.certs.items():
            (stage / f"{n}.der").write_bytes(der)
            (stage / f"{n}.pem").write_text(der_to_pem(der))
        table = by_sha1_table(h.certs)
        bundles = {f: record_bundle(stage / f, made[f], table, problems) for f in BUNDLES}
        for p in [*HERE.glob("*.der"), *HERE.glob("*.pem"), *HERE.glob("*.p7b")]:
            p.unlink()
        write_out(stage, {"certificates": certs, "bundles": bundles})
    print(f"wrote {len(certs)} certificates and {len(bundles)} bundles to {HERE}")
    for p in problems:
        print("  CROSS-CHECK FAILED: " + p, file=sys.stderr)
    return 1 if problems else 0


def add_missing(exp: Path) -> int:
    expected = json.loads(exp.read_text())
    missing = [f for f in BUNDLES if not (HERE / f).exists() and f not in expected["bundles"]]
    half = [f for f in BUNDLES if (HERE / f).exists() != (f in expected["bundles"])]

    def present(n: str) -> bool:
        return (HERE / f"{n}.der").exists() or n in expected["certificates"]
    fresh = [g for g, names in FRESH.items() if not any(present(n) for n in names)]
    half += [g for g, names in FRESH.items() if g not in fresh and not all(
        (HERE / f"{n}.der").exists() and n in expected["certificates"] for n in names)]
    if half:
        print(f"{', '.join(half)}: file or expected.json entry exists without the other; "
              "use --force", file=sys.stderr)
        return 1
    certs = {n: (HERE / e["der_file"]).read_bytes() for n, e in expected["certificates"].items()}
    stale = [n for n, e in expected["certificates"].items() if "subject_key_identifier" not in e]
    if not missing and not fresh and not stale:
        print("every fixture exists: nothing to do (--force regenerates them all)")
        return 0
    keyed = [f for f in missing if f in NEEDS_KEYS]
    if keyed:
        print(f"{', '.join(keyed)} need the private keys, which are not kept: use --force",
              file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="certslot-chains-") as t:
        tmp = Path(t)
        problems: list[str] = []
        stage = tmp / "out"
        stage.mkdir()
        # Entries recorded before key identifiers were: add them, from the files here.
        for n in stale:
            expected["certificates"][n].update(key_identifiers(certs[n]))
        entries = dict(expected["certificates"])
        if fresh:
            h = Hierarchy(tmp)
            for g in fresh:
                h.make_fresh(g)
            work = tmp / "work"
            work.mkdir()
            for n, der in h.certs.items():
                entries[n] = record_certificate(work, n, der, h.meta[n], h.certs, problems)
                (stage / f"{n}.der").write_bytes(der)
                (stage / f"{n}.pem").write_text(der_to_pem(der))
            certs.update(h.certs)
        made = make_bundles(tmp, certs, None, set(missing))
        table = by_sha1_table(certs)
        new = {f: record_bundle(stage / f, made[f], table, problems) for f in missing}
        bundles = {f: new[f] if f in new else expected["bundles"][f] for f in BUNDLES
                   if f in new or f in expected["bundles"]}
        write_out(stage, {"certificates": entries, "bundles": bundles})
    added = [n for g in fresh for n in FRESH[g]] + missing
    print(f"added {', '.join(added) or 'nothing'}"
          + (f"; key identifiers recorded for {len(stale)} certificates" if stale else ""))
    for p in problems:
        print("  CROSS-CHECK FAILED: " + p, file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--force", action="store_true", help="regenerate every fixture")
    args = ap.parse_args()
    exp = HERE / "expected.json"
    if exp.exists() and not args.force:
        return add_missing(exp)
    if not args.force and any(HERE.glob("*.der")):
        print("fixture files exist but expected.json does not; use --force", file=sys.stderr)
        return 1
    return full_run()


if __name__ == "__main__":
    sys.exit(main())
