#!/usr/bin/env bash
# Every test: lint, then the whole pytest suite (which checks the layering contracts too).
# pytest's "no tests ran" (exit 5) is non-zero, so it fails this script as well.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> ruff"
.venv/bin/ruff check provisioner tests bench
echo "==> pytest"
.venv/bin/pytest "$@"
