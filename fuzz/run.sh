#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 900, the issue's 15 minutes) or 10 million
# executions, whichever comes first, with corpora seeded
# from the test fixtures, and prints each target's execution count.
#   fuzz/run.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1 lets it
# use the sanitizer flags it needs.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-900}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(cert_der cert_pem bundle pfx_import key_import thumbprint store_state)
data=../tests/data
seed() {
    local target=$1
    mkdir -p "corpus/$target"
    case $target in
        cert_der) cp "$data"/*.der "corpus/$target/" ;;
        cert_pem) cp "$data"/*.pem "$data"/*.der "corpus/$target/" ;;
        bundle) cp "$data"/chains/*.p7b "$data"/chains/*.pem "$data"/chains/*.der "corpus/$target/" ;;
        pfx_import) cp "$data"/pfx/*.pfx "$data"/pfx/vectors/*.p12 "$data"/pfx/rfc9579/*.p12 "corpus/$target/" ;;
        key_import) cp "$data"/keys/*.pem "$data"/keys/*.der "corpus/$target/" ;;
        thumbprint) printf '3b 7e 05 51 08 4f 21 aa 9c 48 0e 10 73 2b 0f 9c 6d d4 31 66' > "corpus/$target/spaced"
                    printf '\xe2\x80\x8e3B:7E:05:51:08:4F:21:AA:9C:48:0E:10:73:2B:0F:9C:6D:D4:31:66' > "corpus/$target/colons" ;;
        store_state) cp state-seeds/*.json "corpus/$target/" 2>/dev/null || true ;;
    esac
}
for target in "${targets[@]}"; do
    seed "$target"
    echo "== $target for ${seconds}s"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -runs=10000000 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 \
        | tee "/tmp/fuzz-$target.log" | grep -E "^(stat::number_of_executed_units|#[0-9]+ +DONE|==[0-9]+== ERROR|SUMMARY)" || true
done
