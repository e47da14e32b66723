# Shared by scripts/test and scripts/example: a project venv with what the command needs.
# Usage: source scripts/_bootstrap.sh "<pip install arguments>"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON_BIN=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON_BIN" -m venv .venv
fi
# pip >= 25.1 understands PEP 735 dependency groups (--group dev).
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
# shellcheck disable=SC2086
.venv/bin/python -m pip install --quiet --disable-pip-version-check $1

# Debian packages a command needs, installed when missing (root) or named (otherwise).
ensure_debian_packages() {
  local missing=()
  local pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing system packages; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
}
