# Shared by scripts/test and scripts/example: a project venv with what the command needs.
# Usage: source scripts/_bootstrap.sh "<pip install arguments>"
#
# The install runs once: a stamp records the hash of pyproject.toml, the Python version and the
# pip arguments, and while it matches nothing is installed again — so later starts need no
# network. Edit pyproject.toml (or delete .venv) to install again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON_BIN=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv and installing Python packages (one time; about a minute)..." >&2
  "$PYTHON_BIN" -m venv .venv
fi
_stamp_key=$( { cat pyproject.toml; .venv/bin/python -VV; echo "$1"; } | sha256sum | cut -c1-16)
_stamp=.venv/.installed-$(echo "$1" | sha256sum | cut -c1-12)
if [ "$(cat "$_stamp" 2>/dev/null)" != "$_stamp_key" ]; then
  # pip >= 25.1 understands PEP 735 dependency groups (--group dev).
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
  # shellcheck disable=SC2086
  .venv/bin/python -m pip install --quiet --disable-pip-version-check $1
  echo "$_stamp_key" > "$_stamp"
fi

# Debian packages a command needs, installed when missing (root) or named (otherwise).
# Services are never left behind: redis-server is used by the tests as a plain binary, so its
# package's service is neither started (policy-rc.d says no during the install) nor enabled.
ensure_debian_packages() {
  local missing=()
  local pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing with apt-get (one time, about a minute): ${missing[*]}" >&2
  local policy=${POLICY_RC_D:-/usr/sbin/policy-rc.d} saved=""  # overridable for the tests
  if [ -e "$policy" ]; then saved=$(mktemp); cp -p "$policy" "$saved"; fi
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"
  local status=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null; } || status=$?
  if [ -n "$saved" ]; then mv "$saved" "$policy"; else rm -f "$policy"; fi
  [ "$status" -eq 0 ] || exit "$status"
  for pkg in "${missing[@]}"; do
    if [ "$pkg" = redis-server ]; then
      if command -v systemctl >/dev/null 2>&1; then
        systemctl disable --quiet redis-server.service >/dev/null 2>&1 || true
      fi
      if command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d redis-server disable >/dev/null 2>&1 || true
      fi
    fi
  done
}
