#!/usr/bin/env bash
# Provides the simulator's flyctl client (sim/client/main.go): the small executable tests and sandbox
# mode run as flyctl, which forwards each call to the simulator's long-lived server (sim/README.md).
# Order: $FLY_SIM_CLIENT_PATH, the per-user cache, else build it with Go (standard library only, seconds).
# The cached name carries a hash of the Go source and of this checkout's path (the client execs this
# checkout's sim/bin/flyctl when no server is running), so a change to either builds a new one.
# Prints the client's path on stdout; progress and errors go to stderr.
#   --no-build   only look; fail if it is not already there
#   --optional   without Go, say so and succeed with no output (the simulator then runs flyctl as node)
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLIENT_SRC="$REPO_DIR/sim/client"
CACHE_DIR="${FLIGHTDECK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flightdeck}"
# Same bytes, same hash as findFlyctlClient() in sim/lib/flyctl-service.js.
HASH="$({ cat "$CLIENT_SRC/go.mod" "$CLIENT_SRC/main.go"; printf '%s' "$REPO_DIR"; } | sha256sum | cut -c1-16)"
CACHED_CLIENT="$CACHE_DIR/bin/flyctl-sim-$HASH"
build=1
optional=0
[[ "${1:-}" == "--no-build" ]] && build=0
[[ "${1:-}" == "--optional" ]] && optional=1

say() { echo "flyctl-client: $*" >&2; }

if [[ -n "${FLY_SIM_CLIENT_PATH:-}" ]]; then
  if [[ -x "$FLY_SIM_CLIENT_PATH" ]]; then echo "$FLY_SIM_CLIENT_PATH"; exit 0; fi
  say "FLY_SIM_CLIENT_PATH is set to '$FLY_SIM_CLIENT_PATH' but no executable is there; unset it or point it at a built sim/client"
  exit 1
fi
if [[ -x "$CACHED_CLIENT" ]]; then echo "$CACHED_CLIENT"; exit 0; fi

if [[ "$build" == 0 ]]; then
  say "the simulator's flyctl client was not found ($CACHED_CLIENT); get it with: npm run setup"
  exit 1
fi
if ! command -v go >/dev/null 2>&1; then
  say "Go is not installed: the simulator runs flyctl as a node process per call (slower). Install Go (1.22 or later) to build the client."
  [[ "$optional" == 1 ]] && exit 0
  exit 1
fi
mkdir -p "$CACHE_DIR/bin"
tmp="$CACHED_CLIENT.tmp.$$"
if ! (cd "$CLIENT_SRC" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X main.nodeFlyctl=$REPO_DIR/sim/bin/flyctl" -o "$tmp" .) >&2; then
  rm -f "$tmp"
  say "go build failed in $CLIENT_SRC"
  exit 1
fi
mv -f "$tmp" "$CACHED_CLIENT"
say "built $CACHED_CLIENT"
echo "$CACHED_CLIENT"
