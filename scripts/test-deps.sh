#!/usr/bin/env bash
# Installs what certslot's tests need beside Rust and is missing: the OpenSSL CLI and Python 3 with
# the `cryptography` package (the interop tests check certslot's output with both) and PyJWT (which
# verifies tokens against certslot's JWKS); for the fleet crate (fleet/, certslot-etcd), etcd
# (Debian's etcd-server: the fleet tests start their own) and protoc (Debian's protobuf-compiler:
# etcd-client compiles etcd's protobuf API with it); and, with --build, the OpenSSL headers the
# `bench-peers` feature compiles against. Needs root (apt-get) only when something is missing. The
# library alone (certslot) needs none of these to build.
set -euo pipefail
# curl: the key server's tests read its answers (headers, 304s, TLS) with it. prometheus: the
# metrics tests start a real Prometheus and run promtool (the alerting rules' unit tests,
# `check metrics`). chromium: headless, it renders the key server's status page in a test and
# keeps a screenshot (target/tmp/status-page.png).
# wrk: a load test of the key server, and with nginx-light the figures example's comparison
# (`figures serve`). pebble: Let's Encrypt's test ACME CA and its challenge server
# (pebble-challtestsrv), which the ACME issuer's tests start. bind9: the DNS server of the dns-01
# tests (a zone that takes TSIG-signed RFC 2136 updates; tsig-keygen makes their key).
packages=(openssl python3 curl prometheus chromium wrk nginx-light pebble bind9)
[ "${1:-}" = "--build" ] && packages+=(libssl-dev pkg-config)
need=()
for pkg in "${packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# Programs that may come from elsewhere than Debian's package: only their absence counts.
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    # etcd-server's, prometheus's and bind9's packages would start them as services where an
    # init system runs one; the tests start their own on free ports, so keep services from starting while
    # installing.
    policy=/usr/sbin/policy-rc.d
    added_policy=false
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && added_policy=true
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" || status=$?
    [ "$added_policy" = true ] && rm -f "$policy"
    [ "$status" -eq 0 ] || exit "$status"
fi
# The tests use cryptography 42 or later (not_valid_before_utc, load_pkcs12); pip has it,
# Debian 12's python3-cryptography is older.
if ! python3 -c "import cryptography, sys; sys.exit(int(cryptography.__version__.split('.')[0]) < 42)" >/dev/null 2>&1; then
    python3 -m pip install --quiet --upgrade 'cryptography>=42' 2>/dev/null \
        || python3 -m pip install --quiet --upgrade --break-system-packages 'cryptography>=42'
fi
# PyJWT 2.8 or later with its `cryptography` backend (RS256, ES256, ES384; PyJWKSet): the token
# tests of tests/publish.rs.
if ! python3 -c "import jwt, sys; sys.exit(tuple(map(int, jwt.__version__.split('.')[:2])) < (2, 8))" >/dev/null 2>&1; then
    python3 -m pip install --quiet --upgrade 'pyjwt[crypto]>=2.8' 2>/dev/null \
        || python3 -m pip install --quiet --upgrade --break-system-packages 'pyjwt[crypto]>=2.8'
fi
python3 -c "import cryptography; print('python cryptography', cryptography.__version__)"
python3 -c "import jwt; print('pyjwt', jwt.__version__)"
openssl version
# sed reads all of it (head would stop early, and etcd die of SIGPIPE under pipefail)
etcd --version | sed -n 1p
protoc --version
promtool --version | sed -n 1p
chromium --version
nginx -v 2>&1
wrk --version 2>&1 | sed -n 1p || true
dpkg-query -W -f='pebble ${Version}\n' pebble
named -v
