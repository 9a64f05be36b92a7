#!/usr/bin/env python3
"""Generate the X.509 test fixtures for certslot and record what each must yield.

Usage (from the repository root):

    python3 tests/data/gen_certs.py           # add the missing fixtures of ADDED only
    python3 tests/data/gen_certs.py --force   # regenerate every fixture

Requirements: Python 3.11+, the `cryptography` package (written against 48.x)
and the `openssl` command line tool (written against OpenSSL 3.0).

Everything that goes into the certificates is fixed in this file (names,
serial numbers, dates, extensions) except the keys, which are freshly random
on each run, so fingerprints change whenever the fixtures are regenerated.
`expected.json` is always rewritten together with the certificates.

The values in expected.json are *recorded from tools*, not worked out by hand:
fingerprints, serial (hex), subject_openssl, key bits and the DER time types
come from the `openssl` CLI; names, dates, extensions and OIDs come from
Python `cryptography`.  Where a tool cannot produce a value the fallback used
is named in that fixture's `sources` object.

Without --force the script never rewrites a fixture: when expected.json
exists it makes only the fixtures of ADDED (self-signed, so they need no CA
key, which is not kept) whose files are missing, records them into
expected.json next to the existing entries and rewrites README.md.

Some fixtures cannot be made by `cryptography` directly (negative, zero and
21-octet serial numbers).  For those a certificate is built normally, then the
TBSCertificate is patched with the small DER reader/writer below and re-signed
with the issuer key.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

HERE = Path(__file__).resolve().parent
UTC = dt.timezone.utc

# --------------------------------------------------------------------------
# Fixed inputs
# --------------------------------------------------------------------------

NOT_BEFORE = dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
NOT_AFTER = dt.datetime(2036, 1, 1, 0, 0, 0, tzinfo=UTC)


def d(*a: int) -> dt.datetime:
    return dt.datetime(*a, tzinfo=UTC)


def asn1_date(t: dt.datetime) -> str:
    """GeneralizedTime-form string accepted by `openssl ca -startdate/-enddate`.

    OpenSSL converts it to UTCTime when the year is 1950..2049 (RFC 5280)."""
    return t.strftime("%Y%m%d%H%M%SZ")


def name(*attrs: tuple) -> x509.Name:
    """Build a Name from (oid, value[, asn1type]) tuples, one RDN each, in
    *encoding* order (RFC 4514 strings print them in reverse)."""
    rdns = []
    for a in attrs:
        if isinstance(a, x509.RelativeDistinguishedName):
            rdns.append(a)
        else:
            rdns.append(x509.RelativeDistinguishedName([attr(*a)]))
    return x509.Name(rdns)


def attr(oid, value, typ=None) -> x509.NameAttribute:
    if typ is None:
        return x509.NameAttribute(oid, value)
    return x509.NameAttribute(oid, value, _type=typ)


def contoso(cn: str) -> x509.Name:
    # RFC 4514: CN=<cn>,O=Contoso,C=US
    return name((NameOID.COUNTRY_NAME, "US"), (NameOID.ORGANIZATION_NAME, "Contoso"),
                (NameOID.COMMON_NAME, cn))


ROOT_NAME = contoso("Contoso Test Root CA")
INTER_NAME = contoso("Contoso Test Issuing CA 01")

SERVER_CLIENT = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
KU_SIG_ENC = ["digitalSignature", "keyEncipherment"]
KU_SIG = ["digitalSignature"]
SIP_SANS = ["sip.contoso.com", "contoso.com"]

KU_FIELDS = [  # (openssl / RFC 5280 name, cryptography attribute)
    ("digitalSignature", "digital_signature"),
    ("nonRepudiation", "content_commitment"),
    ("keyEncipherment", "key_encipherment"),
    ("dataEncipherment", "data_encipherment"),
    ("keyAgreement", "key_agreement"),
    ("keyCertSign", "key_cert_sign"),
    ("cRLSign", "crl_sign"),
    ("encipherOnly", "encipher_only"),
    ("decipherOnly", "decipher_only"),
]

KEY_ALG_BY_OID = {
    "1.2.840.113549.1.1.1": "rsa",
    "1.2.840.113549.1.1.10": "rsa-pss",
    "1.2.840.10045.2.1": "ec",
    "1.3.101.112": "ed25519",
    "1.3.101.113": "ed448",
    "1.2.840.10040.4.1": "dsa",
}

# --------------------------------------------------------------------------
# Tiny DER reader / writer (definite lengths, single-byte tags: enough for
# the certificates made here)
# --------------------------------------------------------------------------


def der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + der_len(len(content)) + content


def der_int(n: int) -> bytes:
    """Minimal two's complement DER INTEGER."""
    nbits = n.bit_length() if n >= 0 else (~n).bit_length()
    return tlv(0x02, n.to_bytes(nbits // 8 + 1, "big", signed=True))


def der_read(buf: bytes, off: int = 0) -> tuple[int, int, int]:
    """Return (tag, content_start, end) of the TLV at `off`."""
    tag = buf[off]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags not supported")
    ln = buf[off + 1]
    pos = off + 2
    if ln & 0x80:
        k = ln & 0x7F
        if k == 0:
            raise ValueError("indefinite length not supported")
        ln = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    end = pos + ln
    if end > len(buf):
        raise ValueError("TLV runs past end of buffer")
    return tag, pos, end


def der_children(content: bytes) -> list[bytes]:
    """Split the content of a constructed value into raw child TLVs."""
    out, off = [], 0
    while off < len(content):
        _, _, end = der_read(content, off)
        out.append(content[off:end])
        off = end
    return out


def der_content(raw: bytes) -> bytes:
    _, start, end = der_read(raw)
    return raw[start:end]


def der_oid_str(raw: bytes) -> str:
    c = der_content(raw)
    first = c[0]
    arcs = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    v = 0
    for b in c[1:]:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(v)
            v = 0
    return ".".join(map(str, arcs))


def split_cert(cert_der: bytes) -> tuple[bytes, bytes, bytes]:
    tbs, sigalg, sig = der_children(der_content(cert_der))
    return tbs, sigalg, sig


def tbs_fields(tbs: bytes) -> dict[str, bytes]:
    """Map the TBSCertificate children to names (version/extensions optional)."""
    kids = der_children(der_content(tbs))
    out: dict[str, bytes] = {}
    i = 0
    if kids[0][0] == 0xA0:
        out["version"] = kids[0]
        i = 1
    for key in ("serial", "signature", "issuer", "validity", "subject", "spki"):
        out[key] = kids[i]
        i += 1
    for k in kids[i:]:
        if k[0] == 0xA3:
            out["extensions"] = k
    return out


def der_extensions(cert_der: bytes) -> list[dict]:
    """[{oid, critical}] read straight from the DER (fallback only)."""
    f = tbs_fields(split_cert(cert_der)[0])
    if "extensions" not in f:
        return []
    seq = der_children(der_content(f["extensions"]))[0]
    out = []
    for ext in der_children(der_content(seq)):
        parts = der_children(der_content(ext))
        crit = len(parts) == 3 and der_content(parts[1]) == b"\xff"
        out.append({"oid": der_oid_str(parts[0]), "critical": crit})
    return out


def resign_rsa_sha256(cert_der: bytes, patch, issuer_key) -> bytes:
    """Patch the TBSCertificate children with `patch(list_of_child_tlvs)`,
    re-sign with the issuer's RSA key (sha256WithRSAEncryption, same as the
    original) and reassemble Certificate ::= SEQUENCE { tbs, sigAlg, sig }."""
    tbs, sigalg, _sig = split_cert(cert_der)
    assert der_oid_str(der_children(der_content(sigalg))[0]) == "1.2.840.113549.1.1.11"
    kids = patch(der_children(der_content(tbs)))
    new_tbs = tlv(0x30, b"".join(kids))
    sig = issuer_key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA256())
    return tlv(0x30, new_tbs + sigalg + tlv(0x03, b"\x00" + sig))


def replace_serial(new_serial_tlv: bytes):
    def patch(kids: list[bytes]) -> list[bytes]:
        i = 1 if kids[0][0] == 0xA0 else 0
        assert kids[i][0] == 0x02
        kids[i] = new_serial_tlv
        return kids
    return patch


# --------------------------------------------------------------------------
# Helpers around openssl
# --------------------------------------------------------------------------


def run(args: list[str], input: bytes | None = None, check: bool = True,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run(args, input=input, capture_output=True, cwd=cwd)
    if check and p.returncode != 0:
        raise RuntimeError(f"command failed: {' '.join(map(str, args))}\n"
                           f"{p.stderr.decode(errors='replace')}")
    return p


def ossl(*args: str, input: bytes | None = None, check: bool = True, cwd=None):
    return run(["openssl", *args], input=input, check=check, cwd=cwd)


def pem_to_der(pem: bytes, label: str = "CERTIFICATE") -> bytes:
    m = re.search(rb"-----BEGIN " + label.encode() + rb"-----(.*?)-----END "
                  + label.encode() + rb"-----", pem, re.S)
    assert m, f"no {label} block"
    return base64.b64decode(b"".join(m.group(1).split()))


def der_to_pem(der: bytes, label: str = "CERTIFICATE", width: int = 64,
               eol: str = "\n") -> str:
    b = base64.b64encode(der).decode()
    lines = [b[i:i + width] for i in range(0, len(b), width)]
    return eol.join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + eol


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


REQ_CNF = "[req]\ndistinguished_name = dn\n[dn]\n"

CA_CNF = """\
[ca]
default_ca = fixture_ca
[fixture_ca]
dir = .
database = ./index.txt
serial = ./serial
new_certs_dir = .
default_md = {md}
policy = policy_any
unique_subject = no
email_in_dn = yes
copy_extensions = none
[policy_any]
countryName = optional
organizationName = optional
commonName = optional
[ext]
{ext}
"""


class OpenSSLCA:
    """Drives `openssl ca`, which (unlike `openssl x509`/`req` in 3.0) takes
    explicit -startdate/-enddate, so openssl-made fixtures have fixed dates."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.n = 0
        (tmp / "req.cnf").write_text(REQ_CNF)

    def csr(self, key_path: Path, subj: str) -> Path:
        self.n += 1
        out = self.tmp / f"req{self.n}.csr"
        ossl("req", "-new", "-config", str(self.tmp / "req.cnf"), "-key", str(key_path),
             "-subj", subj, "-out", str(out))
        return out

    def sign(self, csr: Path, serial: int, start: dt.datetime, end: dt.datetime,
             ext: str | None, md: str = "sha256", ca_cert: Path | None = None,
             ca_key: Path | None = None, selfsign_key: Path | None = None,
             sigopts: list[str] = ()) -> tuple[bytes, str]:
        self.n += 1
        wd = self.tmp / f"ca{self.n}"
        wd.mkdir()
        (wd / "index.txt").write_text("")
        h = f"{serial:X}"
        (wd / "serial").write_text(("0" * (len(h) % 2)) + h + "\n")
        (wd / "ca.cnf").write_text(CA_CNF.format(md=md, ext=ext or ""))
        args = ["ca", "-batch", "-config", "ca.cnf", "-in", str(csr), "-out", "out.pem",
                "-notext", "-preserveDN", "-startdate", asn1_date(start),
                "-enddate", asn1_date(end)]
        shown = ["openssl ca", "-preserveDN", "-startdate", asn1_date(start),
                 "-enddate", asn1_date(end), "-md", md]
        if ext:
            args += ["-extensions", "ext"]
            shown += ["-extensions <section>"]
        if selfsign_key:
            args += ["-selfsign", "-keyfile", str(selfsign_key)]
            shown += ["-selfsign"]
        else:
            args += ["-cert", str(ca_cert), "-keyfile", str(ca_key)]
            shown += ["-cert intermediate-ca"]
        for so in sigopts:
            args += ["-sigopt", so]
            shown += ["-sigopt", so]
        ossl(*args, cwd=wd)
        return pem_to_der((wd / "out.pem").read_bytes()), " ".join(shown)


# --------------------------------------------------------------------------
# Building certificates with cryptography
# --------------------------------------------------------------------------


def ku_ext(names: list[str]) -> x509.KeyUsage:
    s = set(names)
    kw = {attr_: (n in s) for n, attr_ in KU_FIELDS}
    return x509.KeyUsage(**kw)


def san_ext(dns=(), ips=(), emails=(), uris=()) -> x509.SubjectAlternativeName:
    g: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
    g += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    g += [x509.RFC822Name(e) for e in emails]
    g += [x509.UniformResourceIdentifier(u) for u in uris]
    return x509.SubjectAlternativeName(g)


def raw_san_ext(*items: tuple[int, bytes]) -> x509.UnrecognizedExtension:
    """A SubjectAltName from (context tag, content octets) pairs, written as given.

    cryptography's x509.DNSName/RFC822Name refuse non-ASCII text (they want A-labels), so
    names holding raw UTF-8 or ISO 8859-1 octets are built here as DER: GeneralNames ::=
    SEQUENCE OF GeneralName, [1] rfc822Name, [2] dNSName, [6] URI (RFC 5280 4.2.1.6)."""
    return x509.UnrecognizedExtension(ObjectIdentifier("2.5.29.17"),
                                      tlv(0x30, b"".join(tlv(t, v) for t, v in items)))


DEFAULT = object()


def build(subject: x509.Name, public_key, serial: int, issuer_name: x509.Name,
          issuer_key, issuer_pub=None, not_before=NOT_BEFORE, not_after=NOT_AFTER,
          ca: bool = False, path_len: int | None = None,
          ku=DEFAULT, ku_critical: bool = False, eku=DEFAULT, sans=DEFAULT,
          bc: bool = True, extra=(), hash_alg=DEFAULT) -> bytes:
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(public_key).serial_number(serial)
         .not_valid_before(not_before).not_valid_after(not_after))
    if bc:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
    if ku is DEFAULT:
        ku = ["keyCertSign", "cRLSign"] if ca else KU_SIG_ENC
        ku_critical = True if ca else ku_critical
    if ku is not None:
        b = b.add_extension(ku_ext(ku), critical=ku_critical)
    if eku is DEFAULT:
        eku = None if ca else SERVER_CLIENT
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if sans is DEFAULT:
        sans = None if ca else san_ext(SIP_SANS)
    if sans is not None:
        b = b.add_extension(sans, critical=False)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if issuer_pub is not None and issuer_pub is not public_key:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_pub), critical=False)
    for ext, crit in extra:
        b = b.add_extension(ext, critical=crit)
    if hash_alg is DEFAULT:
        hash_alg = hashes.SHA256()
    cert = b.sign(issuer_key, hash_alg)
    return cert.public_bytes(serialization.Encoding.DER)


# --------------------------------------------------------------------------
# Recording expected values
# --------------------------------------------------------------------------

FIELD_ORDER = [
    "der_file", "pem_file", "sha1", "sha256", "version", "serial", "serial_int",
    "subject", "issuer", "subject_openssl", "issuer_openssl", "subject_rdns",
    "common_names", "not_before", "not_after", "not_before_unix", "not_after_unix",
    "not_before_asn1", "not_after_asn1", "key_algorithm", "key_algorithm_oid",
    "key_bits", "curve", "signature_algorithm", "dns_names", "ip_addresses", "emails",
    "uris", "key_usage", "key_usage_critical", "extended_key_usage", "basic_constraints",
    "extensions", "malformed_extensions", "self_signed", "issuer_fixture",
    "openssl_parses", "python_parses", "sources", "made_with", "notes",
]


def fmt_time(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def openssl_time_to_rfc3339(s: str) -> str:
    # "Jan  1 00:00:00 2026 GMT"
    t = dt.datetime.strptime(" ".join(s.split()), "%b %d %H:%M:%S %Y GMT")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def after_eq(out: str, prefix: str) -> str:
    for line in out.splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    raise ValueError(f"{prefix!r} not in openssl output")


def fingerprint(out: str) -> str:
    """'sha1 Fingerprint=AB:CD:..' (OpenSSL 3 spelling; 1.x wrote SHA1) -> 'ABCD..'"""
    m = re.search(r"^\w+ Fingerprint=([0-9A-Fa-f:]+)\s*$", out, re.M)
    if not m:
        raise ValueError(f"no fingerprint in openssl output: {out!r}")
    return m.group(1).replace(":", "").upper()


OSSL_KU = {
    "Digital Signature": "digitalSignature", "Non Repudiation": "nonRepudiation",
    "Key Encipherment": "keyEncipherment", "Data Encipherment": "dataEncipherment",
    "Key Agreement": "keyAgreement", "Certificate Sign": "keyCertSign",
    "CRL Sign": "cRLSign", "Encipher Only": "encipherOnly", "Decipher Only": "decipherOnly",
}
OSSL_EKU = {
    "TLS Web Server Authentication": "1.3.6.1.5.5.7.3.1",
    "TLS Web Client Authentication": "1.3.6.1.5.5.7.3.2",
}


def openssl_ext_blocks(text: str) -> dict[str, tuple[bool, list[str]]]:
    """Parse the 'X509v3 extensions:' section of `openssl x509 -text`."""
    blocks: dict[str, tuple[bool, list[str]]] = {}
    lines = text.splitlines()
    try:
        i = next(k for k, l in enumerate(lines) if l.strip() == "X509v3 extensions:")
    except StopIteration:
        return blocks
    cur = None
    for l in lines[i + 1:]:
        if l.startswith("    Signature Algorithm") or not l.startswith("            "):
            break
        if not l.startswith("                "):
            head = l.strip()
            crit = head.endswith("critical")
            nm = head.rsplit(":", 1)[0] if crit else head.rstrip(":").rstrip()
            cur = nm
            blocks[cur] = (crit, [])
        elif cur:
            blocks[cur][1].append(l.strip())
    return blocks


def record(name: str, der: bytes, path_der: Path, meta: dict, by_name: dict) -> dict:
    e: dict = {"der_file": f"{name}.der", "pem_file": f"{name}.pem"}
    src: dict[str, str] = {}
    p = str(path_der)

    # ---- openssl -------------------------------------------------------
    def o(*a):
        return ossl("x509", "-in", p, "-inform", "DER", "-noout", *a).stdout.decode()

    text_p = ossl("x509", "-in", p, "-inform", "DER", "-noout", "-text", check=False)
    e["openssl_parses"] = text_p.returncode == 0
    text = text_p.stdout.decode(errors="replace")
    e["sha1"] = fingerprint(o("-fingerprint", "-sha1"))
    e["sha256"] = fingerprint(o("-fingerprint", "-sha256"))
    e["serial"] = after_eq(o("-serial"), "serial=")
    e["subject_openssl"] = after_eq(o("-subject", "-nameopt", "RFC2253,-esc_msb"), "subject=")
    e["issuer_openssl"] = after_eq(o("-issuer", "-nameopt", "RFC2253,-esc_msb"), "issuer=")
    m = re.search(r"Public-Key: \((\d+) bit\)", text)
    if m:
        e["key_bits"] = int(m.group(1))
    m = re.search(r"NIST CURVE: (\S+)", text)
    e["curve"] = m.group(1) if m else None
    asn1 = ossl("asn1parse", "-inform", "DER", "-in", p).stdout.decode()
    times = re.findall(r"prim: (UTCTIME|GENERALIZEDTIME)\s*:(\S+)", asn1)
    tmap = {"UTCTIME": "UTCTime", "GENERALIZEDTIME": "GeneralizedTime"}
    e["not_before_asn1"], e["not_after_asn1"] = tmap[times[0][0]], tmap[times[1][0]]

    # ---- cryptography --------------------------------------------------
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cert = None
        try:
            cert = x509.load_der_x509_certificate(der)
            e["python_parses"] = True
        except Exception as ex:  # noqa: BLE001
            e["python_parses"] = False
            src["python_load_error"] = str(ex)

        def py(field, fn, fallback=None, fb_src=None):
            if cert is not None:
                try:
                    e[field] = fn(cert)
                    return
                except Exception as ex:  # noqa: BLE001
                    src[field + "_python_error"] = str(ex)
            if fb_src is not None:
                e[field] = fallback() if callable(fallback) else fallback
                src[field] = fb_src

        py("version", lambda c: {x509.Version.v1: 1, x509.Version.v3: 3}[c.version],
           lambda: int(re.search(r"Version: (\d+)", text).group(1)), "openssl -text")
        py("serial_int", lambda c: str(c.serial_number), None, "none (python could not parse)")
        py("subject", lambda c: c.subject.rfc4514_string(),
           e["subject_openssl"], "openssl RFC2253")
        py("issuer", lambda c: c.issuer.rfc4514_string(), e["issuer_openssl"], "openssl RFC2253")
        py("subject_rdns", lambda c: [[{"oid": a.oid.dotted_string, "asn1_type": a._type.name,
                                         "value": a.value} for a in rdn]
                                       for rdn in c.subject.rdns], None, "none")
        py("common_names", lambda c: [a.value for a in
                                      c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)],
           None, "none")
        py("not_before", lambda c: fmt_time(c.not_valid_before_utc),
           lambda: openssl_time_to_rfc3339(after_eq(o("-startdate"), "notBefore=")),
           "openssl -startdate")
        py("not_after", lambda c: fmt_time(c.not_valid_after_utc),
           lambda: openssl_time_to_rfc3339(after_eq(o("-enddate"), "notAfter=")),
           "openssl -enddate")
        py("key_algorithm_oid", lambda c: c.public_key_algorithm_oid.dotted_string,
           lambda: der_oid_str(der_children(der_content(der_children(der_content(
               tbs_fields(split_cert(der)[0])["spki"]))[0]))[0]), "der walker")
        py("signature_algorithm", lambda c: c.signature_algorithm_oid.dotted_string,
           lambda: der_oid_str(der_children(der_content(split_cert(der)[1]))[0]),
           "der walker")

        # extensions
        exts = None
        if cert is not None:
            try:
                exts = cert.extensions
            except Exception as ex:  # noqa: BLE001
                src["extensions_python_error"] = str(ex)
        if exts is not None:
            e["extensions"] = [{"oid": x.oid.dotted_string, "critical": x.critical} for x in exts]

            def get(cls):
                try:
                    return exts.get_extension_for_class(cls)
                except x509.ExtensionNotFound:
                    return None

            san = get(x509.SubjectAlternativeName)
            if san:
                v = san.value
                e["dns_names"] = v.get_values_for_type(x509.DNSName)
                e["ip_addresses"] = [str(i) for i in v.get_values_for_type(x509.IPAddress)]
                e["emails"] = v.get_values_for_type(x509.RFC822Name)
                e["uris"] = v.get_values_for_type(x509.UniformResourceIdentifier)
            else:
                e["dns_names"], e["ip_addresses"], e["emails"], e["uris"] = [], [], [], []
            ku = get(x509.KeyUsage)
            if ku:
                v = ku.value
                names = []
                for n, a in KU_FIELDS:
                    try:
                        if getattr(v, a):
                            names.append(n)
                    except ValueError:  # encipher/decipher_only without keyAgreement
                        pass
                e["key_usage"], e["key_usage_critical"] = names, ku.critical
            else:
                e["key_usage"], e["key_usage_critical"] = None, None
            eku = get(x509.ExtendedKeyUsage)
            e["extended_key_usage"] = [u.dotted_string for u in eku.value] if eku else None
            bc = get(x509.BasicConstraints)
            e["basic_constraints"] = ({"ca": bc.value.ca, "path_len": bc.value.path_length}
                                      if bc else None)
        else:
            # cryptography parses all extensions at once and refuses the lot if
            # one is malformed: fall back to openssl -text for the good ones and
            # to the DER walker for the list of extensions.
            e["extensions"] = der_extensions(der)
            src["extensions"] = "der walker"
            blocks = openssl_ext_blocks(text)
            malformed = set(meta.get("malformed", []))
            present = {x["oid"] for x in e["extensions"]}
            if "2.5.29.17" in malformed:
                e["dns_names"] = e["ip_addresses"] = e["emails"] = e["uris"] = None
                src["dns_names"] = "null: SAN present but undecodable"
            else:
                san_blocks, how = blocks, "openssl -text"
                if meta.get("san_octets_latin1"):
                    # openssl -text prints IA5String octets as they are; these names hold
                    # ISO 8859-1 octets, so its output is read as ISO 8859-1.
                    san_blocks = openssl_ext_blocks(text_p.stdout.decode("latin-1"))
                    how = "openssl -text, its output read as ISO 8859-1"
                vals = ", ".join(san_blocks.get("X509v3 Subject Alternative Name", (0, []))[1])
                items = [s.strip() for s in vals.split(",") if s.strip()]
                e["dns_names"] = [s[4:] for s in items if s.startswith("DNS:")]
                e["ip_addresses"] = [s[11:] for s in items if s.startswith("IP Address:")]
                e["emails"] = [s[6:] for s in items if s.startswith("email:")]
                e["uris"] = [s[4:] for s in items if s.startswith("URI:")]
                src["dns_names"] = src["ip_addresses"] = src["emails"] = src["uris"] = how
            if "2.5.29.15" in malformed:
                e["key_usage"] = None
                e["key_usage_critical"] = next(x["critical"] for x in e["extensions"]
                                               if x["oid"] == "2.5.29.15")
                src["key_usage"] = "null: KeyUsage present but undecodable"
                src["key_usage_critical"] = "der walker"
            elif "2.5.29.15" in present:
                crit, vals = blocks["X509v3 Key Usage"]
                e["key_usage"] = [OSSL_KU[s.strip()] for s in ", ".join(vals).split(",")]
                e["key_usage_critical"] = crit
                src["key_usage"] = src["key_usage_critical"] = "openssl -text"
            else:
                e["key_usage"] = e["key_usage_critical"] = None
            if "2.5.29.37" in present:
                e["extended_key_usage"] = [OSSL_EKU[s.strip()] for s in ", ".join(
                    blocks["X509v3 Extended Key Usage"][1]).split(",")]
                src["extended_key_usage"] = "openssl -text"
            else:
                e["extended_key_usage"] = None
            if "2.5.29.19" in present:
                v = ", ".join(blocks["X509v3 Basic Constraints"][1])
                pl = re.search(r"pathlen:(\d+)", v)
                e["basic_constraints"] = {"ca": "CA:TRUE" in v,
                                          "path_len": int(pl.group(1)) if pl else None}
                src["basic_constraints"] = "openssl -text"
            else:
                e["basic_constraints"] = None
        e["malformed_extensions"] = list(meta.get("malformed", []))

        if caught:
            src["python_warnings"] = "; ".join(dict.fromkeys(str(w.message) for w in caught))

    e["key_algorithm"] = KEY_ALG_BY_OID[e["key_algorithm_oid"]]
    if "key_bits" not in e:
        conv = {"ed25519": 256, "ed448": 456}
        e["key_bits"] = conv[e["key_algorithm"]]
        src["key_bits"] = ("convention (openssl -text prints no bit count for EdDSA keys; "
                           "256/456 are what OpenSSL's EVP_PKEY_get_bits reports)")
    if e["key_algorithm"] != "ec":
        e["curve"] = None

    e["not_before_unix"] = int(dt.datetime.strptime(e["not_before"], "%Y-%m-%dT%H:%M:%SZ")
                               .replace(tzinfo=UTC).timestamp())
    e["not_after_unix"] = int(dt.datetime.strptime(e["not_after"], "%Y-%m-%dT%H:%M:%SZ")
                              .replace(tzinfo=UTC).timestamp())
    e["self_signed"] = meta["issuer"] == name
    e["issuer_fixture"] = meta["issuer"]
    e["sources"] = src
    e["made_with"] = meta["made_with"]
    e["notes"] = meta["notes"]
    return {k: e[k] for k in FIELD_ORDER}


# --------------------------------------------------------------------------
# Fixtures added after the first generation: self-signed, so that a run without
# --force can make them without the CA keys (which are not kept) and without
# touching the fixtures already committed.  Each maker returns
# (DER, made_with, notes, extra meta).
# --------------------------------------------------------------------------

SELF_SIGNED = "python cryptography x509.CertificateBuilder, RSA 2048, self-signed, sha256"


def make_san_utf8() -> tuple[bytes, str, str, dict]:
    key = rsa.generate_private_key(65537, 2048)
    subject = contoso("Contoso raw UTF-8 SAN")
    der = build(subject, key.public_key(), 0x5006, subject, key, sans=raw_san_ext(
        (0x82, "bücher.example".encode("utf-8")),
        (0x82, b"sip.contoso.com"),
        (0x81, "jürgen@bücher.example".encode("utf-8")),
        (0x86, "https://bücher.example/ä".encode("utf-8"))))
    return (der, SELF_SIGNED + "; SAN written as raw DER (x509.UnrecognizedExtension "
            "2.5.29.17) because x509.DNSName refuses non-ASCII",
            "SAN IA5String names holding raw UTF-8 octets, as real certificates carry them "
            "(RFC 5280 wants A-labels): dNSName 'bücher.example' (62 C3 BC 63 ...), dNSName "
            "'sip.contoso.com' (ASCII), rfc822Name 'jürgen@bücher.example', URI "
            "'https://bücher.example/ä'. cryptography reads them as UTF-8. Subject CN is not "
            "a host name, so a SIP-domain match can only come from the SAN.", {})


def make_san_latin1() -> tuple[bytes, str, str, dict]:
    key = rsa.generate_private_key(65537, 2048)
    subject = contoso("Contoso ISO 8859-1 SAN")
    der = build(subject, key.public_key(), 0x5007, subject, key, sans=raw_san_ext(
        (0x82, "straße.example".encode("latin-1")),
        (0x82, b"sip.contoso.com"),
        (0x81, "jürgen@contoso.com".encode("latin-1"))))
    return (der, SELF_SIGNED + "; SAN written as raw DER (x509.UnrecognizedExtension "
            "2.5.29.17)",
            "SAN IA5String names holding octets that are not UTF-8: dNSName 'straße.example' "
            "in ISO 8859-1 (73 74 72 61 DF 65 ...), dNSName 'sip.contoso.com' (ASCII), "
            "rfc822Name 'jürgen@contoso.com' in ISO 8859-1 (FC). cryptography refuses the "
            "extensions (it reads IA5String as UTF-8 only); the SAN values are openssl -text's "
            "octets read as ISO 8859-1.", {"san_octets_latin1": True})


ADDED = [
    ("san-utf8", make_san_utf8),
    ("san-latin1", make_san_latin1),
]


# --------------------------------------------------------------------------
# The fixtures
# --------------------------------------------------------------------------


def generate(out: Path, tmp: Path) -> tuple[dict, list[str]]:
    certs: dict[str, bytes] = {}
    meta: dict[str, dict] = {}
    ca = OpenSSLCA(tmp)
    CRYPTO = "python cryptography x509.CertificateBuilder"

    def add(n, der, issuer, made_with, notes, **kw):
        assert n not in certs, n
        certs[n] = der
        meta[n] = {"issuer": issuer, "made_with": made_with, "notes": notes, **kw}

    # ---- CA hierarchy --------------------------------------------------
    root_key = rsa.generate_private_key(65537, 2048)
    root_der = build(ROOT_NAME, root_key.public_key(), 0x01, ROOT_NAME, root_key,
                     ca=True)
    add("root-ca", root_der, "root-ca", f"{CRYPTO}, RSA 2048, self-signed, sha256",
        "Self-signed root CA (RSA 2048, CA:true, no pathlen, KU keyCertSign+cRLSign critical).")
    inter_key = rsa.generate_private_key(65537, 2048)
    inter_der = build(INTER_NAME, inter_key.public_key(), 0x02, ROOT_NAME, root_key,
                      issuer_pub=root_key.public_key(), ca=True, path_len=0)
    add("intermediate-ca", inter_der, "root-ca", f"{CRYPTO}, RSA 2048, signed by root-ca",
        "Issuing CA under root-ca (CA:true, pathlen 0); issuer of most leaves.")
    inter_pub = inter_key.public_key()
    (tmp / "inter.key").write_bytes(key_pem(inter_key))
    (tmp / "inter.pem").write_text(der_to_pem(inter_der))

    def leaf(n, key_or_pub, serial, notes, subject=None, made=None, issuer="intermediate-ca",
             **kw):
        pub = key_or_pub.public_key() if hasattr(key_or_pub, "public_key") else key_or_pub
        der = build(subject or contoso("sip.contoso.com"), pub, serial, INTER_NAME, inter_key,
                    issuer_pub=inter_pub, **kw)
        add(n, der, issuer, made or f"{CRYPTO}, signed by intermediate-ca (sha256WithRSA)",
            notes)
        return der

    # ---- RSA sizes -----------------------------------------------------
    rsa2048_der = leaf(
        "rsa2048", rsa.generate_private_key(65537, 2048), 0x610000002A1B2C3D4E5F60718293A4B5C6D7,
        "Main sample: Lync/SfB pool certificate with DNS, IP, email and URI SANs.",
        subject=contoso("lyncpool01.contoso.com"),
        sans=san_ext(["lyncpool01.contoso.com", "sip.contoso.com", "contoso.com"],
                     ips=["10.0.0.5"], emails=["admin@contoso.com"],
                     uris=["https://contoso.com/oauth"]),
        made=f"{CRYPTO}, RSA 2048, signed by intermediate-ca")
    for i, bits in enumerate((1024, 3072, 4096)):
        leaf(f"rsa{bits}", rsa.generate_private_key(65537, bits), 0x1000 + bits,
             f"RSA {bits}-bit leaf, standard server/client profile.",
             made=f"{CRYPTO}, RSA {bits}, signed by intermediate-ca")
    k512 = tmp / "rsa512.key"
    ossl("genrsa", "-out", str(k512), "512")
    key512 = serialization.load_pem_private_key(k512.read_bytes(), None)
    leaf("rsa512", key512, 0x1200, "Tiny 512-bit RSA key: the crate must still read it.",
         made=f"openssl genrsa 512 (cryptography refuses <1024-bit keygen); {CRYPTO} "
              "signed by intermediate-ca")
    big_bits = 8704
    big = tmp / "rsabig.key"
    ossl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{big_bits}",
         "-out", str(big))
    leaf(f"rsa{big_bits}", serialization.load_pem_private_key(big.read_bytes(), None), 0x1201,
         f"RSA {big_bits}-bit key, above 8192: the crate must read any RSA size.",
         made=f"openssl genpkey RSA rsa_keygen_bits:{big_bits}; {CRYPTO} signed by "
              "intermediate-ca")

    # ---- EC / EdDSA ----------------------------------------------------
    for curve, nm, serial in ((ec.SECP256R1(), "ec-p256", 0x2001),
                              (ec.SECP384R1(), "ec-p384", 0x2002),
                              (ec.SECP521R1(), "ec-p521", 0x2003)):
        leaf(nm, ec.generate_private_key(curve), serial,
             f"EC {curve.name} (named curve) leaf.", ku=KU_SIG,
             made=f"{CRYPTO}, EC {curve.name}, signed by intermediate-ca")
    leaf("ed25519", ed25519.Ed25519PrivateKey.generate(), 0x2004, "Ed25519 public key leaf.",
         ku=KU_SIG, made=f"{CRYPTO}, Ed25519 key, signed by intermediate-ca")
    leaf("ed448", ed448.Ed448PrivateKey.generate(), 0x2005, "Ed448 public key leaf.",
         ku=KU_SIG, made=f"{CRYPTO}, Ed448 key, signed by intermediate-ca")

    # ---- openssl-made self-signed: explicit EC, RSA-PSS, DSA ------------
    selfsigned_ext = ("basicConstraints = critical,CA:false\n"
                      "keyUsage = digitalSignature\n"
                      "extendedKeyUsage = serverAuth, clientAuth\n"
                      "subjectAltName = DNS:sip.contoso.com, DNS:contoso.com\n"
                      "subjectKeyIdentifier = hash\n")
    subj = "/C=US/O=Contoso/CN=sip.contoso.com"

    kx = tmp / "ec-explicit.key"
    ossl("ecparam", "-name", "prime256v1", "-param_enc", "explicit", "-genkey", "-out", str(kx))
    der, how = ca.sign(ca.csr(kx, subj), 0x3001, NOT_BEFORE, NOT_AFTER, selfsigned_ext,
                       selfsign_key=kx)
    add("ec-explicit", der, "ec-explicit",
        "openssl ecparam -name prime256v1 -param_enc explicit -genkey; openssl req -new; "
        + how, "EC P-256 key with explicit (specifiedCurve) parameters in the SPKI, "
               "self-signed ecdsa-with-SHA256.")

    kp = tmp / "rsa-pss.key"
    ossl("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(kp))
    der, how = ca.sign(ca.csr(kp, subj), 0x3002, NOT_BEFORE, NOT_AFTER, selfsigned_ext,
                       selfsign_key=kp, sigopts=["rsa_pss_saltlen:32"])
    add("rsa-pss", der, "rsa-pss",
        "openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048; openssl req -new; "
        + how, "RSA-PSS (id-RSASSA-PSS, no key parameters) public key, self-signed with "
               "RSASSA-PSS SHA-256/MGF1-SHA-256/salt 32.")

    kd = tmp / "dsa.key"
    ossl("genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048",
         "-out", str(tmp / "dsa.param"))
    ossl("genpkey", "-paramfile", str(tmp / "dsa.param"), "-out", str(kd))
    der, how = ca.sign(ca.csr(kd, subj), 0x3003, NOT_BEFORE, NOT_AFTER, selfsigned_ext,
                       selfsign_key=kd)
    add("dsa2048", der, "dsa2048",
        "openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048; "
        "openssl genpkey -paramfile; openssl req -new; " + how,
        "DSA 2048 public key, self-signed dsa_with_SHA256.")

    # ---- validity ------------------------------------------------------
    leaf("expired", rsa.generate_private_key(65537, 2048), 0x4001,
         "Expired: valid 2020-01-01..2021-01-01.", not_before=d(2020, 1, 1),
         not_after=d(2021, 1, 1))
    leaf("not-yet-valid", rsa.generate_private_key(65537, 2048), 0x4002,
         "Not yet valid: valid 2030-01-01..2031-01-01.", not_before=d(2030, 1, 1),
         not_after=d(2031, 1, 1))
    leaf("pre1970", rsa.generate_private_key(65537, 2048), 0x4003,
         "Dates before the Unix epoch: 1950-01-01T00:00:00Z (UTCTime 500101000000Z) to "
         "1969-12-31T23:59:59Z (negative Unix times).",
         not_before=d(1950, 1, 1), not_after=d(1969, 12, 31, 23, 59, 59))
    leaf("post2049", rsa.generate_private_key(65537, 2048), 0x4004,
         "UTCTime/GeneralizedTime switch: not_before 2049-12-31T23:59:59Z (UTCTime "
         "491231235959Z), not_after 2050-01-01T00:00:00Z (GeneralizedTime).",
         not_before=d(2049, 12, 31, 23, 59, 59), not_after=d(2050, 1, 1))
    leaf("year9999", rsa.generate_private_key(65537, 2048), 0x4005,
         "not_after 99991231235959Z, RFC 5280 'no well-defined expiration date'.",
         not_after=d(9999, 12, 31, 23, 59, 59))
    kpre = tmp / "pre1950.key"
    ossl("genrsa", "-out", str(kpre), "2048")
    std_ext = ("basicConstraints = critical,CA:false\n"
               "keyUsage = digitalSignature, keyEncipherment\n"
               "extendedKeyUsage = serverAuth, clientAuth\n"
               "subjectAltName = DNS:sip.contoso.com, DNS:contoso.com\n"
               "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
    der, how = ca.sign(ca.csr(kpre, subj), 0x4006, d(1949, 12, 31), d(1950, 1, 1), std_ext,
                       ca_cert=tmp / "inter.pem", ca_key=tmp / "inter.key")
    add("pre1950", der, "intermediate-ca", "openssl genrsa 2048; openssl req -new; " + how,
        "not_before 1949-12-31T00:00:00Z as GeneralizedTime 19491231000000Z (cryptography "
        "refuses dates before 1950); not_after 1950-01-01T00:00:00Z as UTCTime 500101000000Z.")

    # ---- names / SANs --------------------------------------------------
    leaf("no-san", rsa.generate_private_key(65537, 2048), 0x5001,
         "RSA 2048 with CN sip.contoso.com and no SubjectAltName extension.", sans=None)
    leaf("wildcard", rsa.generate_private_key(65537, 2048), 0x5002,
         "Wildcard CN and SAN *.contoso.com.", subject=contoso("*.contoso.com"),
         sans=san_ext(["*.contoso.com"]))
    a1 = "sip." + "münchen".encode("idna").decode() + ".de"
    a2 = "bücher".encode("idna").decode() + ".example"
    assert (a1, a2) == ("sip.xn--mnchen-3ya.de", "xn--bcher-kva.example")
    leaf("idn", rsa.generate_private_key(65537, 2048), 0x5003,
         "IDN: SAN DNS names in A-label form (sip.xn--mnchen-3ya.de = sip.münchen.de, "
         "xn--bcher-kva.example = bücher.example); subject CN is the U-label "
         "'sip.münchen.de' as UTF8String.",
         subject=contoso("sip.münchen.de"), sans=san_ext([a1, a2]))
    multi = x509.Name([
        x509.RelativeDistinguishedName([attr(NameOID.COUNTRY_NAME, "US")]),
        x509.RelativeDistinguishedName([attr(NameOID.STATE_OR_PROVINCE_NAME,
                                             'Wash"ing\\ton;<WA>=')]),
        x509.RelativeDistinguishedName([attr(NameOID.LOCALITY_NAME, " Redmond ")]),
        x509.RelativeDistinguishedName([attr(NameOID.ORGANIZATION_NAME, "Contoso, Ltd.")]),
        x509.RelativeDistinguishedName([attr(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                             "#1 Lync+Skype")]),
        x509.RelativeDistinguishedName([attr(NameOID.COMMON_NAME, "sip.contoso.com"),
                                        attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "Lync")]),
    ])
    leaf("multi-rdn", rsa.generate_private_key(65537, 2048), 0x5004,
         "Subject with a multi-valued RDN (CN=sip.contoso.com + OU=Lync) and values needing "
         "RFC 4514 escaping: O 'Contoso, Ltd.', OU '#1 Lync+Skype' (leading #, +), "
         "L ' Redmond ' (leading/trailing space), ST with \" \\ ; < > =. DER SET OF "
         "sorting puts OU=Lync before CN inside the multi-valued RDN; cryptography prints "
         "the RDN as OU=Lync+CN=..., openssl -nameopt RFC2253 as CN=...+OU=Lync.",
         subject=multi)
    strings = x509.Name([
        x509.RelativeDistinguishedName([attr(NameOID.COUNTRY_NAME, "US",
                                             _ASN1Type.PrintableString)]),
        x509.RelativeDistinguishedName([attr(NameOID.ORGANIZATION_NAME, "Contoso Teletex",
                                             _ASN1Type.T61String)]),
        x509.RelativeDistinguishedName([attr(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                             "Lync \u03a9 Team", _ASN1Type.BMPString)]),
        x509.RelativeDistinguishedName([attr(NameOID.LOCALITY_NAME, "Z\u00fcrich",
                                             _ASN1Type.UniversalString)]),
        x509.RelativeDistinguishedName([attr(NameOID.COMMON_NAME, "strings.contoso.com",
                                             _ASN1Type.UTF8String)]),
        x509.RelativeDistinguishedName([attr(NameOID.EMAIL_ADDRESS, "admin@contoso.com",
                                             _ASN1Type.IA5String)]),
    ])
    leaf("strings", rsa.generate_private_key(65537, 2048), 0x5005,
         "Subject string types: C PrintableString 'US', O TeletexString 'Contoso Teletex' "
         "(ASCII only: cryptography writes UTF-8 bytes into T61String), OU BMPString "
         "'Lync Ω Team', L UniversalString 'Zürich', CN UTF8String, emailAddress IA5String "
         "(cryptography's RFC 4514 string shows it as 1.2.840.113549.1.9.1=..., openssl's "
         "as emailAddress=...).",
         subject=strings, sans=san_ext(["strings.contoso.com"]))

    # ---- KU / EKU ------------------------------------------------------
    leaf("ku-no-digsig", rsa.generate_private_key(65537, 2048), 0x6001,
         "KeyUsage keyEncipherment only (no digitalSignature).", ku=["keyEncipherment"])
    leaf("eku-client-only", rsa.generate_private_key(65537, 2048), 0x6002,
         "EKU clientAuth only.", eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    leaf("no-ku-eku", rsa.generate_private_key(65537, 2048), 0x6003,
         "Neither KeyUsage nor ExtendedKeyUsage present.", ku=None, eku=None)
    leaf("ku-critical-eku-server", rsa.generate_private_key(65537, 2048), 0x6004,
         "KeyUsage critical digitalSignature only; EKU serverAuth only.", ku=KU_SIG,
         ku_critical=True, eku=[ExtendedKeyUsageOID.SERVER_AUTH])

    # ---- signature / version -------------------------------------------
    ks = tmp / "sha1.key"
    ossl("genrsa", "-out", str(ks), "2048")
    der, how = ca.sign(ca.csr(ks, subj), 0x7001, NOT_BEFORE, NOT_AFTER, std_ext, md="sha1",
                       ca_cert=tmp / "inter.pem", ca_key=tmp / "inter.key")
    add("sha1-signed", der, "intermediate-ca",
        "openssl genrsa 2048; openssl req -new; " + how
        + " (cryptography refuses SHA-1 signatures)",
        "Leaf signed by intermediate-ca with sha1WithRSAEncryption.")
    kv = tmp / "v1.key"
    ossl("genrsa", "-out", str(kv), "2048")
    der, how = ca.sign(ca.csr(kv, subj), 0x7002, NOT_BEFORE, NOT_AFTER, None,
                       ca_cert=tmp / "inter.pem", ca_key=tmp / "inter.key")
    add("v1", der, "intermediate-ca", "openssl genrsa 2048; openssl req -new; " + how
        + " (no extensions section => v1)",
        "X.509 v1 certificate: no version field, no extensions (so no SAN/KU/EKU/BC).")

    # ---- serial numbers (DER patched + re-signed) ----------------------
    def patched_serial(n, serial_tlv, serial_desc, notes):
        base = build(contoso("sip.contoso.com"), rsa.generate_private_key(65537, 2048)
                     .public_key(), 0x7FFF, INTER_NAME, inter_key, issuer_pub=inter_pub)
        der = resign_rsa_sha256(base, replace_serial(serial_tlv), inter_key)
        add(n, der, "intermediate-ca",
            f"{CRYPTO} (serial placeholder 0x7FFF), then serial INTEGER replaced with "
            f"{serial_desc} by gen_certs.py's DER patcher and TBS re-signed with the "
            "intermediate key (PKCS#1 v1.5, SHA-256)", notes)

    patched_serial("serial-negative", der_int(-1234), "DER 02 02 FB 2E (-1234)",
                   "Negative serial -1234 (02 02 FB 2E), forbidden by RFC 5280 but seen in "
                   "the wild.")
    patched_serial("serial-zero", der_int(0), "DER 02 01 00 (0)",
                   "Serial number 0 (02 01 00).")
    long_serial = int("9F" + "0102030405060708090A0B0C0D0E0F10111213", 16)
    assert long_serial.bit_length() == 160
    lt = der_int(long_serial)
    assert len(lt) == 2 + 21 and lt[2] == 0
    patched_serial("serial-long", lt, "a 20-octet value with the top bit set (21 content "
                   "octets with a leading 00)",
                   "20-octet positive serial 0x9F0102...13; first octet has the top bit set "
                   "so DER needs 21 content octets (leading 00), one more than RFC 5280 allows.")

    # ---- extensions ----------------------------------------------------
    leaf("ext-unknown", rsa.generate_private_key(65537, 2048), 0x8001,
         "Unknown extensions: 1.3.6.1.4.1.99999.1 non-critical (UTF8String 'hello') and "
         "1.3.6.1.4.1.99999.2 critical (NULL). A strict validator must reject the critical "
         "one; a parser must still read the certificate.",
         extra=[(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"),
                                            b"\x0c\x05hello"), False),
                (x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.2"),
                                            b"\x05\x00"), True)])
    bad_ku = b"\xff\xff"
    leaf("ext-malformed-ku", rsa.generate_private_key(65537, 2048), 0x8002,
         "KeyUsage (2.5.29.15, non-critical) extnValue is garbage FF FF; SAN "
         "sip.contoso.com, contoso.com and everything else well-formed.",
         ku=None, extra=[(x509.UnrecognizedExtension(ObjectIdentifier("2.5.29.15"), bad_ku),
                          False)],
         made=f"{CRYPTO} with x509.UnrecognizedExtension(2.5.29.15, FF FF), signed by "
              "intermediate-ca")
    meta["ext-malformed-ku"]["malformed"] = ["2.5.29.15"]
    bad_san = b"\x30\x06\x82\x0a\x73\x69\x70\x2e"
    leaf("ext-malformed-san", rsa.generate_private_key(65537, 2048), 0x8003,
         "SubjectAltName (2.5.29.17) extnValue is garbage 30 06 82 0A 73 69 70 2E (a "
         "dNSName whose length runs past its SEQUENCE); KeyUsage digitalSignature+"
         "keyEncipherment and everything else well-formed.",
         sans=None, extra=[(x509.UnrecognizedExtension(ObjectIdentifier("2.5.29.17"),
                                                       bad_san), False)],
         made=f"{CRYPTO} with x509.UnrecognizedExtension(2.5.29.17, 30 06 82 0A 73 69 70 2E), "
              "signed by intermediate-ca")
    meta["ext-malformed-san"]["malformed"] = ["2.5.29.17"]

    # ---- added after the first generation (self-signed) ----------------
    for n, make in ADDED:
        der, made_with, notes, extra = make()
        add(n, der, n, made_with, notes, **extra)

    # ---- write DER + PEM, record ---------------------------------------
    expected: dict = {}
    unparsable: list[str] = []
    for n, der in certs.items():
        (out / f"{n}.der").write_bytes(der)
        (out / f"{n}.pem").write_text(der_to_pem(der))
        expected[n] = record(n, der, out / f"{n}.der", meta[n], certs)
        if not expected[n]["openssl_parses"]:
            unparsable.append(n)

    # signature sanity check for everything issued by our CAs
    root_pem, inter_pem = out / "root-ca.pem", out / "intermediate-ca.pem"
    for n in certs:
        if meta[n]["issuer"] == "intermediate-ca":
            r = ossl("verify", "-no_check_time", "-CAfile", str(root_pem), "-untrusted",
                     str(inter_pem), str(out / f"{n}.pem"), check=False)
            if r.returncode != 0:
                # report, do not fail: some fixtures are deliberately odd
                msg = (r.stdout + r.stderr).decode(errors="replace").replace(str(out) + "/", "")
                expected[n]["sources"]["openssl_verify"] = " ".join(msg.split())

    # ---- PEM bundle fixtures -------------------------------------------
    make_chain(out, certs, expected)
    make_trusted(out, certs, expected)
    make_pem_headers(out, certs, expected)
    return expected, unparsable


def make_chain(out: Path, certs: dict, expected: dict) -> None:
    leaf_der, inter_der, root_der = certs["rsa2048"], certs["intermediate-ca"], certs["root-ca"]
    text = ossl("x509", "-in", str(out / "rsa2048.der"), "-inform", "DER", "-noout",
                "-text").stdout.decode()
    leaf_pub = x509.load_der_x509_certificate(leaf_der).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    e_leaf, e_int, e_root = expected["rsa2048"], expected["intermediate-ca"], expected["root-ca"]
    parts = [
        "Certificate chain exported for lyncpool01.contoso.com\n",
        text,                                    # openssl x509 -text of the leaf
        der_to_pem(leaf_der),
        "\nLeaf public key (not a certificate; readers must skip this block):\n",
        der_to_pem(leaf_pub, "PUBLIC KEY"),
        f" 1 s:{e_int['subject_openssl']}\n   i:{e_int['issuer_openssl']}\n",
        der_to_pem(inter_der, "X509 CERTIFICATE"),  # old label
        f"subject={e_root['subject_openssl']}\nissuer={e_root['issuer_openssl']}\n\n",
        der_to_pem(root_der),
    ]
    s = "".join(parts).replace("\r\n", "\n").replace("\n", "\r\n")
    (out / "chain.pem").write_bytes(s.encode())
    expected["chain.pem"] = {
        "file": "chain.pem",
        "all_sha1": [e_leaf["sha1"], e_int["sha1"], e_root["sha1"]],
        "all_sha256": [e_leaf["sha256"], e_int["sha256"], e_root["sha256"]],
        "fixtures": ["rsa2048", "intermediate-ca", "root-ca"],
        "notes": "PEM bundle leaf, intermediate, root; CRLF line endings; `openssl x509 -text` "
                 "output before the leaf; a PUBLIC KEY block between leaf and intermediate "
                 "(must be skipped); intermediate uses the old label X509 CERTIFICATE; "
                 "s_client-style ' 1 s:/i:' and 'subject=/issuer=' lines between blocks.",
    }


def make_trusted(out: Path, certs: dict, expected: dict) -> None:
    ossl("x509", "-in", str(out / "ec-p256.pem"), "-trustout", "-addtrust", "serverAuth",
         "-addreject", "emailProtection", "-setalias", "Contoso EC trust", "-out",
         str(out / "trusted.pem"))
    pem = (out / "trusted.pem").read_bytes()
    assert b"-----BEGIN TRUSTED CERTIFICATE-----" in pem
    blob = pem_to_der(pem, "TRUSTED CERTIFICATE")
    cert_der = certs["ec-p256"]
    assert blob.startswith(cert_der) and len(blob) > len(cert_der)
    # the sha1 recorded is openssl's fingerprint of the plain certificate DER
    fp = ossl("x509", "-in", str(out / "ec-p256.der"), "-inform", "DER", "-noout",
              "-fingerprint", "-sha1").stdout.decode()
    fp2 = ossl("x509", "-in", str(out / "trusted.pem"), "-noout", "-fingerprint",
               "-sha1").stdout.decode()
    assert fp == fp2
    expected["trusted.pem"] = {
        "file": "trusted.pem",
        "fixture": "ec-p256",
        "sha1": fingerprint(fp),
        "sha256": expected["ec-p256"]["sha256"],
        "cert_der_len": len(cert_der),
        "aux_len": len(blob) - len(cert_der),
        "notes": "ec-p256 as written by `openssl x509 -trustout -addtrust serverAuth "
                 "-addreject emailProtection -setalias 'Contoso EC trust'`: label TRUSTED "
                 "CERTIFICATE, the block is the certificate DER followed by the X509_CERT_AUX "
                 "SEQUENCE. Thumbprints are over the first cert_der_len bytes only.",
    }


def make_pem_headers(out: Path, certs: dict, expected: dict) -> None:
    b = base64.b64encode(certs["rsa2048"]).decode()
    lines = [b[0:76], b[76:152], b[152:228]]
    rest, tail = b[228:-20], b[-20:]
    lines += [rest[i:i + 64] for i in range(0, len(rest), 64)]
    lines.append(tail)
    s = ("-----BEGIN CERTIFICATE-----\n"
         "Comment: exported by certslot fixture generator\n"
         "Subject: CN=lyncpool01.contoso.com\n"
         "\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n")
    (out / "pem-headers.pem").write_text(s)
    expected["pem-headers.pem"] = {
        "file": "pem-headers.pem",
        "fixture": "rsa2048",
        "sha1": expected["rsa2048"]["sha1"],
        "sha256": expected["rsa2048"]["sha256"],
        "line_lengths": [len(l) for l in lines],
        "notes": "rsa2048 in a CERTIFICATE block with RFC 1421-style header lines "
                 "('Comment: ...', 'Subject: ...') and a blank line before the base64; "
                 "base64 rewrapped as three 76-char lines, then 64-char lines, ending with a "
                 "20-char line.",
    }


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------


def write_readme(out: Path, expected: dict, openssl_notes: dict[str, str]) -> None:
    ver = ossl("version").stdout.decode().strip()
    import cryptography
    L = [
        "# X.509 test fixtures",
        "",
        "Generated by `gen_certs.py` (this directory). Regenerate everything with:",
        "",
        "```sh",
        "python3 tests/data/gen_certs.py --force",
        "```",
        "",
        "Without `--force` the script rewrites no fixture: when `expected.json` exists it only",
        "makes the self-signed fixtures listed in its `ADDED` whose files are missing, records",
        "them in `expected.json` and rewrites this README. Keys are random, so every",
        "regeneration changes fingerprints and signatures; all other inputs (names, serials,",
        "dates, extensions) are fixed in the script. No private keys are kept.",
        "",
        f"Last generated with {ver} and Python cryptography {cryptography.__version__}.",
        "",
        "Each certificate fixture `NAME` is written as `NAME.der` and `NAME.pem`. `expected.json`",
        "holds, per fixture, the values a parser must yield, recorded by tools (see the",
        "docstring of `gen_certs.py` and the per-fixture `sources` object for fallbacks).",
        "",
        "## expected.json fields (certificate fixtures)",
        "",
        "| field | meaning / source |",
        "|---|---|",
        "| `der_file`, `pem_file` | file names |",
        "| `sha1`, `sha256` | `openssl x509 -noout -fingerprint -sha1/-sha256`, uppercase hex, no colons |",
        "| `version` | 1 or 3 (cryptography `cert.version`) |",
        "| `serial` | `openssl x509 -noout -serial` (hex, `serial=` stripped) |",
        "| `serial_int` | decimal string of cryptography `cert.serial_number` |",
        "| `subject`, `issuer` | cryptography `Name.rfc4514_string()` |",
        "| `subject_openssl`, `issuer_openssl` | `openssl x509 -noout -subject/-issuer -nameopt RFC2253,-esc_msb` |",
        "| `subject_rdns` | subject RDNs in DER order, each a list of `{oid, asn1_type, value}` (cryptography) |",
        "| `common_names` | subject CN values in DER order |",
        "| `not_before`, `not_after` | RFC 3339 UTC (cryptography `not_valid_*_utc`) |",
        "| `not_before_unix`, `not_after_unix` | the same as Unix seconds (may be negative) |",
        "| `not_before_asn1`, `not_after_asn1` | `UTCTime` or `GeneralizedTime` (`openssl asn1parse`) |",
        "| `key_algorithm` | `rsa`, `rsa-pss`, `ec`, `ed25519`, `ed448`, `dsa` |",
        "| `key_algorithm_oid` | SPKI algorithm OID (cryptography `public_key_algorithm_oid`) |",
        "| `key_bits` | `Public-Key: (N bit)` from `openssl x509 -text` (EdDSA: 256/448→456 by convention) |",
        "| `curve` | `NIST CURVE:` from `openssl x509 -text` (`P-256`...), null otherwise (incl. explicit params) |",
        "| `signature_algorithm` | dotted OID of the certificate signature algorithm |",
        "| `dns_names`, `ip_addresses`, `emails`, `uris` | SAN entries in order; `[]` when no SAN; null when SAN is present but malformed |",
        "| `key_usage`, `key_usage_critical` | KU bit names (RFC 5280/openssl spelling) and criticality; null when absent (or malformed, see `malformed_extensions`) |",
        "| `extended_key_usage` | dotted OIDs, null when absent |",
        "| `basic_constraints` | `{ca, path_len}` or null when absent |",
        "| `extensions` | every extension in DER order as `{oid, critical}` |",
        "| `malformed_extensions` | OIDs of extensions whose extnValue is deliberately garbage |",
        "| `self_signed`, `issuer_fixture` | issuer by fixture name |",
        "| `openssl_parses`, `python_parses` | whether `openssl x509 -text` / cryptography load the DER |",
        "| `sources` | fields that did not come from the default tool, and tool errors/warnings |",
        "| `made_with`, `notes` | how the fixture was made, what it is for |",
        "",
        "PEM bundle entries are keyed by file name (`chain.pem`, `trusted.pem`, `pem-headers.pem`).",
        "",
        "## Fixtures",
        "",
        "| fixture | what it tests | made with |",
        "|---|---|---|",
    ]
    for n, e in expected.items():
        made = e.get("made_with", "gen_certs.py (see notes)")
        fn = n if n.endswith(".pem") else f"`{n}` (.der/.pem)"
        L.append(f"| {fn} | {e['notes']} | {made} |")
    L += ["", "## Parse status", ""]
    bad = [n for n, e in expected.items() if "openssl_parses" in e and not e["openssl_parses"]]
    if bad:
        L.append("`openssl x509 -noout -text` fails on: " + ", ".join(f"`{b}`" for b in bad))
    else:
        L.append("Every certificate fixture parses with `openssl x509 -noout -text`.")
    for n, note in openssl_notes.items():
        L.append(f"- `{n}`: {note}")
    pyfail = [n for n, e in expected.items() if e.get("sources")]
    L += ["", "Fixtures with tool fallbacks, errors or warnings (see `sources` in expected.json):", ""]
    for n in pyfail:
        L.append(f"- `{n}`: " + "; ".join(f"{k}: {v}" for k, v in expected[n]["sources"].items()))
    (out / "README.md").write_text("\n".join(L) + "\n")


def pem_file_checks(out: Path) -> dict[str, str]:
    """How openssl and cryptography cope with the PEM bundle fixtures (for README)."""

    def msg(r) -> str:
        m = (r.stdout + r.stderr).decode(errors="replace").replace(str(out) + "/", "")
        m = re.sub(r"\b[0-9A-F]{8,16}:error:", "error:", m)  # drop OpenSSL's thread id
        return " ".join(m.split())[:400]

    def py(fn) -> str:
        try:
            return "reads it: " + fn()
        except Exception as ex:  # noqa: BLE001
            return f"rejects it: {ex}"

    def body(f):
        return (out / f).read_bytes()

    notes = {}
    r = ossl("crl2pkcs7", "-nocrl", "-certfile", str(out / "chain.pem"), check=False)
    r2 = ossl("pkcs7", "-print_certs", "-noout", input=r.stdout, check=False)
    notes["chain.pem"] = (
        "`openssl crl2pkcs7 -nocrl -certfile chain.pem | openssl pkcs7 -print_certs` finds: "
        + msg(r2) + ". `openssl storeutl -noout chain.pem`: " + msg(
            ossl("storeutl", "-noout", str(out / "chain.pem"), check=False))
        + ". cryptography `load_pem_x509_certificates` "
        + py(lambda: f"{len(x509.load_pem_x509_certificates(body('chain.pem')))} certificates "
                     "(accepts the X509 CERTIFICATE label, skips text and the PUBLIC KEY block)"))
    r = ossl("x509", "-in", str(out / "pem-headers.pem"), "-noout", "-fingerprint", "-sha1",
             check=False)
    lines = body("pem-headers.pem").split(b"\n")
    stripped = b"\n".join([lines[0]] + lines[4:])  # drop the 2 headers + blank line
    r3 = ossl("x509", "-noout", "-fingerprint", "-sha1", input=stripped, check=False)
    notes["pem-headers.pem"] = (
        "`openssl x509` " + ("reads it: " if r.returncode == 0 else "REJECTS it: ") + msg(r)
        + " -- with the two header lines and the blank line removed openssl " + ("reads it (" if r3.returncode == 0
                                                             else "still fails (") + msg(r3)
        + "), so the 76/64/20 line wrapping is fine and the rejection is OpenSSL's PEM reader "
        "refusing header lines other than Proc-Type/DEK-Info. cryptography "
        "`load_pem_x509_certificate` "
        + py(lambda: "serial " + str(x509.load_pem_x509_certificate(
            body("pem-headers.pem")).serial_number)))
    r = ossl("x509", "-in", str(out / "trusted.pem"), "-noout", "-text", check=False)
    aux = [l.strip() for l in r.stdout.decode(errors="replace").splitlines()
           if "Trusted Uses" in l or "Rejected Uses" in l or "Alias" in l]
    tu = r.stdout.decode(errors="replace").split("Trusted Uses:")[-1].split("\n")[1].strip()
    notes["trusted.pem"] = (
        f"`openssl x509 -text` reads it (rc {r.returncode}); aux section: "
        + " / ".join(aux) + f" (trusted: {tu}). cryptography `load_pem_x509_certificate` "
        + py(lambda: str(x509.load_pem_x509_certificate(body("trusted.pem")))))
    return notes


# --------------------------------------------------------------------------


def add_missing(exp: Path) -> int:
    """Make the fixtures of ADDED that are missing; rewrite no existing fixture."""
    expected = json.loads(exp.read_text())
    missing = []
    for n, make in ADDED:
        files = [(HERE / f"{n}.der").exists(), (HERE / f"{n}.pem").exists(), n in expected]
        if all(files):
            continue
        if any(files):
            print(f"{n}: some of {n}.der, {n}.pem and its expected.json entry exist; "
                  "use --force", file=sys.stderr)
            return 1
        missing.append((n, make))
    if not missing:
        print("fixtures exist; use --force")
        return 0
    with tempfile.TemporaryDirectory(prefix="certslot-fixtures-") as t:
        stage = Path(t)
        new: dict = {}
        for n, make in missing:
            der, made_with, notes, extra = make()
            (stage / f"{n}.der").write_bytes(der)
            (stage / f"{n}.pem").write_text(der_to_pem(der))
            meta = {"issuer": n, "made_with": made_with, "notes": notes, **extra}
            new[n] = record(n, der, stage / f"{n}.der", meta, {})
        # certificate entries, then the new ones, then the PEM bundle entries: a full run's order
        certs = {k: v for k, v in expected.items() if "der_file" in v}
        bundles = {k: v for k, v in expected.items() if "der_file" not in v}
        merged = {**certs, **new, **bundles}
        write_readme(stage, merged, pem_file_checks(HERE))
        (stage / "expected.json").write_text(
            json.dumps(merged, indent=2, ensure_ascii=False) + "\n")
        for f in sorted(stage.iterdir(), key=lambda p: p.name == "expected.json"):
            shutil.move(str(f), HERE / f.name)
    print(f"added {', '.join(new)} to {HERE}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--force", action="store_true", help="regenerate all fixtures")
    args = ap.parse_args()
    exp = HERE / "expected.json"
    if exp.exists() and not args.force:
        return add_missing(exp)
    if not args.force and any(HERE.glob("*.der")):
        print("some fixture files exist but expected.json does not; use --force",
              file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="certslot-fixtures-") as t:
        tmp = Path(t)
        stage = tmp / "out"
        stage.mkdir()
        work = tmp / "work"
        work.mkdir()
        expected, _ = generate(stage, work)
        notes = pem_file_checks(stage)
        write_readme(stage, expected, notes)
        (stage / "expected.json").write_text(
            json.dumps(expected, indent=2, ensure_ascii=False) + "\n")
        # move into place; expected.json last so a partial run is detectable
        for f in sorted(stage.iterdir(), key=lambda p: p.name == "expected.json"):
            shutil.move(str(f), HERE / f.name)
    print(f"wrote {len(expected)} fixtures to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
