#!/usr/bin/env bash
# Provides squawk, the PostgreSQL migration linter (lib/migrationSafety.ts), from PyPI's squawk-cli wheel
# (a static Rust binary; its npm package downloads from GitHub at install time instead).
# Order: $SQUAWK_PATH, `squawk` on PATH, the per-user cache, else `pip install --target` into the cache.
# Prints squawk's path on stdout; progress and errors go to stderr.
#   --no-install   only look; fail if it is not already there
set -euo pipefail

SQUAWK_VERSION="2.70.0" # keep in step with SQUAWK_VERSION in activities/migrations/squawk.ts and the Dockerfile
CACHE_DIR="${FLIGHTDECK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flightdeck}"
CACHED_TARGET="$CACHE_DIR/squawk-$SQUAWK_VERSION"
CACHED_BIN="$CACHED_TARGET/bin/squawk"
install=1
[[ "${1:-}" == "--no-install" ]] && install=0

say() { echo "squawk: $*" >&2; }

if [[ -n "${SQUAWK_PATH:-}" ]]; then
  if [[ -x "$SQUAWK_PATH" ]]; then echo "$SQUAWK_PATH"; exit 0; fi
  say "SQUAWK_PATH is set to '$SQUAWK_PATH' but no executable is there; unset it or point it at a squawk binary"
  exit 1
fi
if found="$(command -v squawk 2>/dev/null)"; then echo "$found"; exit 0; fi
if [[ -x "$CACHED_BIN" ]]; then echo "$CACHED_BIN"; exit 0; fi

if [[ "$install" == 0 ]]; then
  say "squawk was not found (checked \$SQUAWK_PATH, PATH and $CACHED_BIN)."
  say "Get it with: npm run setup   (pip install --target $CACHED_TARGET squawk-cli==$SQUAWK_VERSION, seconds)"
  exit 1
fi
pip_cmd=()
if command -v pip3 >/dev/null 2>&1; then pip_cmd=(pip3)
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then pip_cmd=(python3 -m pip)
else
  say "squawk was not found and pip is not installed, so it cannot be installed."
  say "Install Python 3 with pip (apt-get install python3-pip), or set SQUAWK_PATH to an existing squawk binary."
  exit 1
fi
say "installing squawk-cli $SQUAWK_VERSION into $CACHED_TARGET (first time only)"
if ! "${pip_cmd[@]}" install --quiet --disable-pip-version-check --no-deps --only-binary=:all: --target "$CACHED_TARGET" "squawk-cli==$SQUAWK_VERSION" >&2; then
  say "pip install failed; check that PyPI is reachable (or set SQUAWK_PATH to an existing squawk binary)"
  exit 1
fi
if [[ ! -x "$CACHED_BIN" ]]; then
  say "pip installed squawk-cli but $CACHED_BIN is missing: no wheel for this platform? Set SQUAWK_PATH instead."
  exit 1
fi
say "installed $CACHED_BIN ($("$CACHED_BIN" --version))"
echo "$CACHED_BIN"
