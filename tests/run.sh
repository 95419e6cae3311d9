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

# The SAM template must lint clean, with the serverless rules too.
if ! command -v cfn-lint >/dev/null 2>&1 || ! python3 -c 'import cfn_lint_serverless' 2>/dev/null; then
  echo "installing cfn-lint and cfn-lint-serverless"
  python3 -m pip install --quiet --disable-pip-version-check cfn-lint cfn-lint-serverless
fi
cfn-lint infra/template.yaml -a cfn_lint_serverless.rules
echo "infra/template.yaml: cfn-lint clean"

cargo test --workspace --locked "$@"
