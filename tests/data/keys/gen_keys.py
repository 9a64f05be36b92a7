#!/usr/bin/env python3
"""Generate the private key fixtures for certslot and record what each must yield.

Usage (from the repository root):

    python3 tests/data/keys/gen_keys.py           # add missing files only
    python3 tests/data/keys/gen_keys.py --force   # regenerate every fixture

Requirements: Python 3.11+, the `cryptography` package (written against 48.x) and the
`openssl` command line tool (written against OpenSSL 3.0).

Every file is a private key as OpenSSL or Python `cryptography` writes it: PKCS #8 in the
clear and encrypted (PBES2 with AES or 3DES, PKCS #12 PBE), PKCS #1 (`RSA PRIVATE KEY`), SEC1
(`EC PRIVATE KEY`), OpenSSL's traditional encrypted PEM, in PEM and DER. Everything that goes
into the files (passwords, iteration counts, ciphers) is fixed in this script; the keys are
random on each run. Files of one GROUP hold the same key.

Without --force no existing file is rewritten: a missing file is made from the key of an
existing file of its group (read back with its password), so siblings keep holding one key.
expected.json and README.md are always rewritten from the files as they are.

The values in expected.json are read back from each finished file by the tools, never by
certslot: `openssl pkey -pubout -outform DER` (its SHA-256: `public_key_sha256`), `openssl pkey
-check`, Python `cryptography` (algorithm, curve, size, RSA modulus; its SubjectPublicKeyInfo
must equal OpenSSL's), and the EncryptedPrivateKeyInfo parameters from the DER by the small
walker below (cross-checked against `openssl asn1parse`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

HERE = Path(__file__).resolve().parent

PASSWORD = "P@ssw0rd"          # the example password in Microsoft's Lync docs
PW_NONASCII = "pässwörd🔑"     # 2-byte UTF-8 and a character outside the BMP
ITER = 2048                    # OpenSSL's default, keeps the tests fast
ITER_HIGH = 600000             # NIST's / OWASP's PBKDF2-HMAC-SHA256 recommendation

# How each group's key is first made (openssl arguments; the key is written to {out}).
GROUPS = {
    "rsa2048": ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rsa3072": ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
    "rsa4096": None,     # made encrypted in one step by genpkey -aes256
    "ec-p256": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "ec-p384": None,     # made encrypted in one step by genpkey -aes256
    "ec-p384-ecparam": None,  # made by ecparam -genkey
    "ec-p521": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    "ed25519": ["genpkey", "-algorithm", "ED25519"],
    "rsa-pss": ["genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"],
}


def topk8(*extra: str) -> list[str]:
    return ["pkcs8", "-topk8", "-in", "{base}", "-out", "{out}", *extra]


def pbes2(cipher: str, prf: str, iterations: int, password: str) -> list[str]:
    return topk8("-v2", cipher, "-v2prf", prf, "-iter", str(iterations), "-passout", f"pass:{password}")


# name -> (group, password or None, how: openssl arguments, or "python:<form>")
SPECS: dict[str, tuple[str, str | None, list[str] | str]] = {
    "openssl-rsa2048-pkcs8.pem": ("rsa2048", None, ["pkey", "-in", "{base}", "-out", "{out}"]),
    # (`openssl pkey -outform DER` writes PKCS #1 for RSA keys; pkcs8 -nocrypt writes PKCS #8.)
    "openssl-rsa2048-pkcs8.der": ("rsa2048", None, topk8("-nocrypt", "-outform", "DER")),
    "openssl-rsa2048-pkcs1.pem": ("rsa2048", None, ["rsa", "-in", "{base}", "-traditional", "-out", "{out}"]),
    "openssl-rsa2048-pkcs1.der": ("rsa2048", None, ["rsa", "-in", "{base}", "-traditional", "-outform", "DER", "-out", "{out}"]),
    "openssl-rsa2048-aes256.pem": ("rsa2048", PASSWORD, pbes2("aes-256-cbc", "hmacWithSHA256", ITER, PASSWORD)),
    "openssl-rsa2048-aes256.der": ("rsa2048", PASSWORD, pbes2("aes-256-cbc", "hmacWithSHA256", ITER, PASSWORD) + ["-outform", "DER"]),
    "openssl-rsa2048-nonascii.pem": ("rsa2048", PW_NONASCII, pbes2("aes-256-cbc", "hmacWithSHA256", ITER, PW_NONASCII)),
    "openssl-rsa2048-aes128-sha1.pem": ("rsa2048", PASSWORD, pbes2("aes-128-cbc", "hmacWithSHA1", ITER, PASSWORD)),
    "openssl-rsa2048-des3-pbes2.pem": ("rsa2048", PASSWORD, pbes2("des3", "hmacWithSHA256", ITER, PASSWORD)),
    "openssl-rsa2048-pbe-sha1-3des.pem": ("rsa2048", PASSWORD, topk8("-v1", "PBE-SHA1-3DES", "-iter", str(ITER), "-passout", f"pass:{PASSWORD}")),
    "openssl-rsa2048-legacy-des3.pem": ("rsa2048", PASSWORD, ["rsa", "-in", "{base}", "-traditional", "-des3", "-passout", f"pass:{PASSWORD}", "-out", "{out}"]),
    "python-rsa2048-best.pem": ("rsa2048", PASSWORD, "python:pem"),
    "openssl-rsa3072-iter-600000.pem": ("rsa3072", PASSWORD, pbes2("aes-256-cbc", "hmacWithSHA256", ITER_HIGH, PASSWORD)),
    "openssl-rsa4096-genpkey-aes256.pem": ("rsa4096", PASSWORD, ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096", "-aes256", "-pass", f"pass:{PASSWORD}", "-out", "{out}"]),
    "openssl-ec-p256-pkcs8.pem": ("ec-p256", None, ["pkey", "-in", "{base}", "-out", "{out}"]),
    "openssl-ec-p256-sec1.pem": ("ec-p256", None, ["ec", "-in", "{base}", "-out", "{out}"]),
    "openssl-ec-p256-sec1.der": ("ec-p256", None, ["ec", "-in", "{base}", "-outform", "DER", "-out", "{out}"]),
    "openssl-ec-p256-aes256.der": ("ec-p256", PASSWORD, pbes2("aes-256-cbc", "hmacWithSHA256", ITER, PASSWORD) + ["-outform", "DER"]),
    "python-ec-p256-best.der": ("ec-p256", PASSWORD, "python:der"),
    "python-ec-p256-traditional.pem": ("ec-p256", None, "python:traditional"),
    "openssl-ec-p384-genpkey-aes256.pem": ("ec-p384", PASSWORD, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-aes256", "-pass", f"pass:{PASSWORD}", "-out", "{out}"]),
    "python-ec-p384-best.pem": ("ec-p384", PASSWORD, "python:pem"),
    "openssl-ec-p384-ecparam.pem": ("ec-p384-ecparam", None, ["ecparam", "-name", "secp384r1", "-genkey", "-out", "{out}"]),
    "openssl-ec-p521-pkcs8.pem": ("ec-p521", None, ["pkey", "-in", "{base}", "-out", "{out}"]),
    "openssl-ed25519-pkcs8.pem": ("ed25519", None, ["pkey", "-in", "{base}", "-out", "{out}"]),
    "openssl-rsa-pss-pkcs8.pem": ("rsa-pss", None, ["pkey", "-in", "{base}", "-out", "{out}"]),
}

NOTES = {
    "openssl-rsa2048-legacy-des3.pem": "OpenSSL traditional encryption (Proc-Type/DEK-Info): certslot refuses it",
    "openssl-ec-p384-ecparam.pem": "an EC PARAMETERS block before the EC PRIVATE KEY block",
    "openssl-ed25519-pkcs8.pem": "PKCS #8 v1 without the public key",
    "openssl-rsa-pss-pkcs8.pem": "id-RSASSA-PSS key: read, but certslot does not sign with it",
    "openssl-ec-p521-pkcs8.pem": "P-521: read, but certslot does not sign with it",
}

OID_NAMES = {
    "1.2.840.113549.1.5.13": "PBES2",
    "1.2.840.113549.1.5.12": "PBKDF2",
    "1.2.840.113549.2.7": "hmacWithSHA1",
    "1.2.840.113549.2.9": "hmacWithSHA256",
    "2.16.840.1.101.3.4.1.2": "aes-128-cbc",
    "2.16.840.1.101.3.4.1.42": "aes-256-cbc",
    "1.2.840.113549.3.7": "des-ede3-cbc",
    "1.2.840.113549.1.12.1.3": "pbeWithSHAAnd3-KeyTripleDES-CBC",
}


def run(args: list[str], input: bytes | None = None) -> bytes:
    r = subprocess.run(args, input=input, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{r.stderr.decode(errors='replace')}")
    return r.stdout


# --------------------------------------------------------------------------
# A small DER walker for the EncryptedPrivateKeyInfo parameters
# --------------------------------------------------------------------------

def tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, content, end) of the item at pos (definite lengths only)."""
    tag = data[pos]
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        count = n & 0x7F
        n = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, data[pos:pos + n], pos + n


def items(content: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(content):
        tag, value, pos = tlv(content, pos)
        out.append((tag, value))
    return out


def oid(value: bytes) -> str:
    first, arcs, n = value[0], [], 0
    arcs += [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    for b in value[1:]:
        n = n << 7 | (b & 0x7F)
        if not b & 0x80:
            arcs.append(n)
            n = 0
    return ".".join(map(str, arcs))


def encryption(der: bytes) -> dict:
    """The scheme, KDF, PRF, cipher, iterations, salt and IV sizes of an EncryptedPrivateKeyInfo."""
    _, epki, _ = tlv(der)
    (_, alg), (_, _ciphertext) = items(epki)
    (_, scheme_oid), (_, params) = items(alg)
    scheme = OID_NAMES[oid(scheme_oid)]
    if scheme != "PBES2":
        (_, salt), (_, iterations) = items(params)
        return {"scheme": scheme, "iterations": int.from_bytes(iterations, "big"), "salt_len": len(salt)}
    (_, kdf), (_, enc) = items(params)
    (_, kdf_oid), (_, kdf_params) = items(kdf)
    fields = items(kdf_params)
    salt, iterations = fields[0][1], int.from_bytes(fields[1][1], "big")
    prf = "hmacWithSHA1"
    for tag, value in fields[2:]:
        if tag == 0x30:
            prf = OID_NAMES[oid(items(value)[0][1])]
    (_, cipher_oid), (_, iv) = items(enc)
    return {
        "scheme": "PBES2", "kdf": OID_NAMES[oid(kdf_oid)], "prf": prf, "cipher": OID_NAMES[oid(cipher_oid)],
        "iterations": iterations, "salt_len": len(salt), "iv_len": len(iv),
    }


# --------------------------------------------------------------------------
# Making the files
# --------------------------------------------------------------------------

def load(path: Path, password: str | None):
    data = path.read_bytes()
    pw = password.encode() if password else None
    if data.startswith(b"-----") or b"-----BEGIN" in data:
        return serialization.load_pem_private_key(data, pw)
    return serialization.load_der_private_key(data, pw)


def make(name: str, base: Path | None, tmp: Path) -> None:
    group, password, how = SPECS[name]
    out = HERE / name
    if isinstance(how, str):
        key = load(base, None)
        form = how.split(":")[1]
        if form == "traditional":
            data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption())
        else:
            encoding = serialization.Encoding.PEM if form == "pem" else serialization.Encoding.DER
            data = key.private_bytes(encoding, serialization.PrivateFormat.PKCS8,
                                     serialization.BestAvailableEncryption(password.encode()))
        out.write_bytes(data)
    else:
        args = [a.replace("{base}", str(base)).replace("{out}", str(out)) for a in how]
        run(["openssl", *args])
    print(f"made {name}")


def made_with(name: str) -> str:
    _, _, how = SPECS[name]
    if isinstance(how, str):
        form = how.split(":")[1]
        return {
            "pem": "python cryptography private_bytes(PEM, PKCS8, BestAvailableEncryption)",
            "der": "python cryptography private_bytes(DER, PKCS8, BestAvailableEncryption)",
            "traditional": "python cryptography private_bytes(PEM, TraditionalOpenSSL, NoEncryption)",
        }[form]
    return "openssl " + " ".join(a.replace("{base}", "KEY").replace("{out}", name) for a in how)


def uses_base(name: str) -> bool:
    how = SPECS[name][2]
    return isinstance(how, str) or "{base}" in how


def generate(force: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for group, base_args in GROUPS.items():
            names = [n for n, spec in SPECS.items() if spec[0] == group]
            missing = [n for n in names if force or not (HERE / n).exists()]
            if not missing:
                continue
            # Files that make their own key (genpkey -aes256, ecparam -genkey) first.
            for name in [n for n in missing if not uses_base(n)]:
                make(name, None, tmp)
            need_base = [n for n in missing if uses_base(n)]
            if not need_base:
                continue
            base = tmp / f"{group}.pem"
            source = next((n for n in names if n not in need_base and (HERE / n).exists()), None)
            if source is not None:
                # Take the group's key back out of a file so the new files hold it too.
                key = load(HERE / source, SPECS[source][1])
                base.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            elif base_args is not None:
                run(["openssl", *base_args, "-out", str(base)])
            else:
                sys.exit(f"group {group}: no way to make its key")
            for name in need_base:
                make(name, base, tmp)


# --------------------------------------------------------------------------
# Recording what each file must yield
# --------------------------------------------------------------------------

KEY_LABELS = ["ENCRYPTED PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]


def record(name: str) -> dict:
    group, password, _ = SPECS[name]
    path = HERE / name
    data = path.read_bytes()
    pem = name.endswith(".pem")
    inform = [] if pem else ["-inform", "DER"]
    passin = ["-passin", f"pass:{password}"] if password else []
    spki = run(["openssl", "pkey", "-in", str(path), *inform, *passin, "-pubout", "-outform", "DER"])
    check = run(["openssl", "pkey", "-in", str(path), *inform, *passin, "-check", "-noout"]).decode().strip()
    key = load(path, password)
    python_spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    if group == "rsa-pss":
        # cryptography reads an RSA-PSS key as a plain RSA key (rsaEncryption): compare the
        # RSAPublicKey inside the SubjectPublicKeyInfo.
        bits_of = lambda der: items(tlv(der)[1])[1][1]
        assert bits_of(python_spki) == bits_of(spki), f"{name}: OpenSSL and cryptography disagree on the key"
    else:
        assert python_spki == spki, f"{name}: OpenSSL and cryptography disagree on the public key"

    labels = re.findall(rb"-----BEGIN ([A-Z0-9 ]+)-----", data) if pem else []
    label = next((l.decode() for l in labels if l.decode() in KEY_LABELS), None)
    der = data
    if label == "ENCRYPTED PRIVATE KEY":
        der = run(["openssl", "base64", "-d"], re.search(rb"-----BEGIN ENCRYPTED PRIVATE KEY-----(.*?)-----END",
                                                       data, re.S).group(1).strip() + b"\n")
    encrypted = label == "ENCRYPTED PRIVATE KEY" or (not pem and password is not None)
    enc = encryption(der) if encrypted else None
    if enc is not None:
        asn1 = run(["openssl", "asn1parse", "-inform", "DER"], der).decode()
        integers = {int(v, 16) for v in re.findall(r"INTEGER\s+:([0-9A-F]+)", asn1)}
        assert enc["iterations"] in integers, f"{name}: asn1parse shows no INTEGER {enc['iterations']}"
    dek = re.search(rb"DEK-Info: *([^\r\n]+)", data)

    curve = None
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = "rsa-pss" if group == "rsa-pss" else "rsa"
        bits = key.key_size
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = "ec"
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[key.curve.name]
        bits = key.curve.key_size
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm, bits = "ed25519", 256
    else:
        sys.exit(f"{name}: unexpected key type {type(key)}")
    return {
        "file": name,
        "group": group,
        "made_with": made_with(name),
        "form": "pem" if pem else "der",
        "labels": [l.decode() for l in labels],
        "key_label": label,
        "password": password,
        "algorithm": algorithm,
        "curve": curve,
        "bits": bits,
        "public_key_sha256": hashlib.sha256(spki).hexdigest().upper(),
        "rsa_modulus": format(key.public_key().public_numbers().n, "X") if algorithm.startswith("rsa") else None,
        "encryption": enc,
        "legacy_dek_info": dek.group(1).decode().strip() if dek else None,
        "openssl_check": check,
        "can_sign": algorithm == "rsa" or curve in ("P-256", "P-384"),
        "notes": NOTES.get(name, ""),
    }


def readme(entries: list[dict], versions: str) -> str:
    lines = [
        "# Private key fixtures",
        "",
        "Made by `gen_keys.py` (this directory); `python3 tests/data/keys/gen_keys.py --force` remakes",
        "them all, without `--force` only missing files are made (from the key of their group).",
        f"Passwords: `{PASSWORD}`, and `{PW_NONASCII}` for the non-ASCII file. Keys are test keys, random",
        "on each run; `expected.json` records what each file must yield, read back by OpenSSL and",
        "Python `cryptography`.",
        "",
        f"Last generated with {versions}.",
        "",
        "| file | key | form | encryption | made with |",
        "|---|---|---|---|---|",
    ]
    for e in entries:
        key = e["algorithm"] + (f" {e['curve']}" if e["curve"] else f" {e['bits']}")
        form = e["key_label"] or "DER"
        enc = e["encryption"]
        enc_text = ("legacy PEM: " + e["legacy_dek_info"]) if e["legacy_dek_info"] else (
            "none" if enc is None else
            " ".join(str(enc[k]) for k in ("scheme", "prf", "cipher", "iterations") if k in enc))
        lines.append(f"| `{e['file']}` | {key} | {form} | {enc_text} | `{e['made_with']}` |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="regenerate every fixture")
    force = parser.parse_args().force
    generate(force)
    entries = [record(name) for name in SPECS]
    import cryptography
    versions = f"{run(['openssl', 'version']).decode().strip()} and Python cryptography {cryptography.__version__}"
    (HERE / "expected.json").write_text(json.dumps({e["file"]: e for e in entries}, indent=2, ensure_ascii=False) + "\n")
    (HERE / "README.md").write_text(readme(entries, versions))
    print(f"recorded {len(entries)} fixtures in expected.json")


if __name__ == "__main__":
    main()
