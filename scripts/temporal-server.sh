#!/usr/bin/env bash
# Provides the production Temporal server and its schema tool (temporal-server, temporal-sql-tool), the
# same version docker-compose.yml runs, for the tests that run against a real server on PostgreSQL.
# Order: $TEMPORAL_SERVER_DIR, the per-user cache, else build both with Go (the schemas are embedded in
# temporal-sql-tool, so nothing else is needed at run time).
# Prints the directory holding both binaries on stdout; progress and errors go to stderr.
#   --no-build   only look; fail if they are not already there
set -euo pipefail

TEMPORAL_SERVER_VERSION="v1.32.2" # keep equal to the temporalio/server and admin-tools tags in docker-compose.yml
# The server's go.mod wants Go >= 1.26.10; a pinned toolchain makes every machine build the same binaries.
GO_TOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
CACHE_DIR="${FLIGHTDECK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flightdeck}"
CACHED_DIR="$CACHE_DIR/temporal-server-$TEMPORAL_SERVER_VERSION"
build=1
[[ "${1:-}" == "--no-build" ]] && build=0

say() { echo "temporal-server: $*" >&2; }
has_both() { [[ -x "$1/temporal-server" && -x "$1/temporal-sql-tool" ]]; }

if [[ -n "${TEMPORAL_SERVER_DIR:-}" ]]; then
  if has_both "$TEMPORAL_SERVER_DIR"; then echo "$TEMPORAL_SERVER_DIR"; exit 0; fi
  say "TEMPORAL_SERVER_DIR is set to '$TEMPORAL_SERVER_DIR' but temporal-server and temporal-sql-tool are not both there"
  exit 1
fi
if has_both "$CACHED_DIR"; then echo "$CACHED_DIR"; exit 0; fi

if [[ "$build" == 0 ]]; then
  say "the Temporal server $TEMPORAL_SERVER_VERSION was not found (checked \$TEMPORAL_SERVER_DIR and $CACHED_DIR)."
  say "Get it with: npm run setup   (builds temporal-server and temporal-sql-tool with Go, several minutes the first time)"
  exit 1
fi
if ! command -v go >/dev/null 2>&1; then
  say "the Temporal server was not found and Go is not installed, so it cannot be built."
  say "Install Go >= 1.25 (https://go.dev/dl/), or set TEMPORAL_SERVER_DIR to a directory holding temporal-server and temporal-sql-tool."
  exit 1
fi
staging="$(mktemp -d "$CACHE_DIR/.temporal-server-build.XXXXXX" 2>/dev/null || { mkdir -p "$CACHE_DIR" && mktemp -d "$CACHE_DIR/.temporal-server-build.XXXXXX"; })"
chmod 755 "$staging"
trap 'rm -rf "$staging"' EXIT
say "building temporal-server and temporal-sql-tool $TEMPORAL_SERVER_VERSION with $GO_TOOLCHAIN into $CACHED_DIR (first time only; several minutes)"
for package in cmd/server cmd/tools/sql; do
  if ! GOTOOLCHAIN="$GO_TOOLCHAIN" CGO_ENABLED=0 GOBIN="$staging" go install "go.temporal.io/server/$package@$TEMPORAL_SERVER_VERSION" >&2; then
    say "go install go.temporal.io/server/$package failed; check that the Go module proxy is reachable (GOPROXY=$(go env GOPROXY))"
    exit 1
  fi
done
# go install names binaries after their package directory; the release archives and images call them so.
mv "$staging/server" "$staging/temporal-server"
mv "$staging/sql" "$staging/temporal-sql-tool"
rm -rf "$CACHED_DIR"
mv "$staging" "$CACHED_DIR"
trap - EXIT
say "built $CACHED_DIR"
echo "$CACHED_DIR"
