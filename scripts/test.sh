#!/usr/bin/env bash
# Every test of the workspace: installs what the tests need and is missing (scripts/test-deps.sh),
# then runs `cargo test --workspace` (unit, integration and doc tests). Arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-deps.sh
cargo test --workspace "$@"
