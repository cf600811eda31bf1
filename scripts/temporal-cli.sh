#!/usr/bin/env bash
# Provides the Temporal CLI (the dev server behind tests and sandbox mode) without internet.
# Order: $TEMPORAL_CLI_PATH, `temporal` on PATH, the per-user cache, else build it with Go.
# Prints the CLI's path on stdout; progress and errors go to stderr.
#   --no-build   only look; fail if it is not already there
set -euo pipefail

TEMPORAL_CLI_VERSION="v1.5.1" # newest tag without a go.mod replace directive: later tags fail under go install
CACHE_DIR="${FLIGHTDECK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flightdeck}"
CACHED_CLI="$CACHE_DIR/bin/temporal"
build=1
[[ "${1:-}" == "--no-build" ]] && build=0

say() { echo "temporal-cli: $*" >&2; }

if [[ -n "${TEMPORAL_CLI_PATH:-}" ]]; then
  if [[ -x "$TEMPORAL_CLI_PATH" ]]; then echo "$TEMPORAL_CLI_PATH"; exit 0; fi
  say "TEMPORAL_CLI_PATH is set to '$TEMPORAL_CLI_PATH' but no executable is there; unset it or point it at a temporal binary"
  exit 1
fi
if found="$(command -v temporal 2>/dev/null)"; then echo "$found"; exit 0; fi
if [[ -x "$CACHED_CLI" ]]; then echo "$CACHED_CLI"; exit 0; fi

if [[ "$build" == 0 ]]; then
  say "the Temporal CLI was not found (checked \$TEMPORAL_CLI_PATH, PATH and $CACHED_CLI)."
  say "Get it with: npm run setup   (builds temporal $TEMPORAL_CLI_VERSION with Go >= 1.25, a few minutes the first time)"
  exit 1
fi
if ! command -v go >/dev/null 2>&1; then
  say "the Temporal CLI was not found and Go is not installed, so it cannot be built."
  say "Install Go >= 1.25 (https://go.dev/dl/), or set TEMPORAL_CLI_PATH to an existing temporal binary."
  exit 1
fi
mkdir -p "$CACHE_DIR/bin"
say "building temporal $TEMPORAL_CLI_VERSION into $CACHE_DIR/bin with $(go version | cut -d' ' -f3) (first time only; several minutes)"
if ! CGO_ENABLED=0 GOBIN="$CACHE_DIR/bin" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >&2; then
  say "go install failed; check that the Go module proxy is reachable (GOPROXY=$(go env GOPROXY))"
  exit 1
fi
say "built $CACHED_CLI"
echo "$CACHED_CLI"
