#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine (as root) or an existing checkout: Debian packages, then the project venv.
# Idempotent and quick when nothing changed (a stamp records the pyproject.toml the venv was built from).
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-venv: the project's venv; debootstrap, systemd-container (systemd-nspawn), iproute2, openssh-client: the
# local machines of the `machines` provider (used by `make up` and the e2e tests); docker-registry and crun: the
# image registry the project starts and the OCI runtime, exercised by the integration tests.
debian_packages=(python3 python3-venv openssl ca-certificates debootstrap systemd-container iproute2 openssh-client docker-registry crun)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
# A Python that already has venv and ensurepip (pyenv, a Python built from source) needs no python3-venv.
if python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing=("${missing[@]/python3-venv}")
  missing=("${missing[@]/python3}")
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: Debian packages missing: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "==> installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

stamp=.venv/.provision-installed
if [ ! -x .venv/bin/python ] || [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
  echo "==> creating the virtual environment in .venv (log: .venv-install.log)"
  python3 -m venv .venv
  if ! { .venv/bin/pip install --disable-pip-version-check -U pip &&
         .venv/bin/pip install --disable-pip-version-check -e '.[test]'; } >.venv-install.log 2>&1; then
    tail -n 30 .venv-install.log >&2
    echo "error: installing the Python packages failed; the full log is .venv-install.log" >&2
    exit 1
  fi
  cp pyproject.toml "$stamp"
fi
