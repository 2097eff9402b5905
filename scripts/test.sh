#!/usr/bin/env bash
# Every test: layering contracts, lint, then the whole pytest suite. pytest's "no tests ran" (exit 5) fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> import-linter contracts"
.venv/bin/lint-imports
echo "==> ruff"
.venv/bin/ruff check provisioner tests bench
echo "==> pytest"
.venv/bin/pytest "$@"
