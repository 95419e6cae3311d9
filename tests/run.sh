#!/usr/bin/env bash
# Runs every test of the workspace: unit, property, integration and end-to-end.
# Installs what the tests need on a fresh machine first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

# The AWS adapter tests run the real AWS SDK against moto server (the AWS emulator).
if ! command -v moto_server >/dev/null 2>&1; then
  echo "installing moto[server] (AWS emulator for the adapter tests)"
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
fi

# The console's browser tests (tests/tests/console.rs) drive Debian's Chromium over the
# DevTools protocol.
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (headless browser for the console tests)"
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends chromium; } \
      || echo "could not install Chromium: the browser tests skip without it" >&2
  else
    echo "no apt-get: install Chromium yourself; the browser tests skip without it" >&2
  fi
fi
# With Chromium here, a browser test that cannot drive it fails instead of skipping.
if command -v chromium >/dev/null 2>&1; then export TILLBRIDGE_REQUIRE_BROWSER=1; fi

# The SAM template must pass SAM's own transform, and lint clean before (with the serverless
# rules) and after it: cfn-lint alone no longer runs the transform.
if ! command -v cfn-lint >/dev/null 2>&1 || ! python3 -c 'import cfn_lint_serverless, samtranslator' 2>/dev/null; then
  echo "installing cfn-lint, cfn-lint-serverless and aws-sam-translator"
  python3 -m pip install --quiet --disable-pip-version-check cfn-lint cfn-lint-serverless aws-sam-translator
fi
python3 infra/check_template.py infra/template.yaml

# The OpenAPI file (generated from the route table, checked by tests/tests/routes.rs) must be
# a valid OpenAPI 3.1 document.
if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
  echo "installing openapi-spec-validator"
  python3 -m pip install --quiet --disable-pip-version-check openapi-spec-validator
fi
python3 infra/check_openapi.py infra/openapi.json

cargo test --workspace --locked "$@"
