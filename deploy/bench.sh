#!/usr/bin/env bash
# Deployment figures: size of the single-file binary (and of the container image when one is given)
# and the server's start-to-ready time: from starting `cohort server` until /healthz answers 200.
#   deploy/bench.sh [BINARY] [IMAGE_SIZE_BYTES]     (BINARY default: .build/publish/linux-x64/cohort)
# Prints "name value" lines and writes bench/results/deploy.json.
#   first:   a fresh data folder (the server generates its CA and certificate, the bundle unpacks its
#            native libraries into a fresh DOTNET_BUNDLE_EXTRACT_BASE_DIR);
#   restart: the same folder again (median of 5), as a restarted server or container would see it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(realpath "${1:-$root/.build/publish/linux-x64/cohort}")"
image_bytes="${2:-}"
[ -x "$binary" ] || { echo "bench.sh: $binary not found (run deploy/publish.sh)" >&2; exit 1; }
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(( 20000 + RANDOM % 20000 ))
export DOTNET_BUNDLE_EXTRACT_BASE_DIR="$work/extract"

# One start: prints milliseconds from exec to the first 200 from /healthz (deadline 60 s).
start_to_ready() {
  local begin now
  begin=$(date +%s%N)
  "$binary" server --port "$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
  server=$!
  while ! curl -skf -o /dev/null "https://127.0.0.1:$((port + 1))/healthz"; do
    now=$(date +%s%N)
    if (( (now - begin) / 1000000 > 60000 )) || ! kill -0 "$server" 2>/dev/null; then
      echo "bench.sh: server not ready after 60 s" >&2; cat "$work/server.log" >&2; exit 1
    fi
    sleep 0.005
  done
  now=$(date +%s%N)
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  echo $(( (now - begin) / 1000000 ))
}

first=$(start_to_ready)
restarts=()
for _ in 1 2 3 4 5; do restarts+=("$(start_to_ready)"); done
median=$(printf '%s\n' "${restarts[@]}" | sort -n | sed -n 3p)
bytes=$(stat -c %s "$binary")
echo "binary.bytes $bytes"
echo "binary.mib $(awk "BEGIN { printf \"%.1f\", $bytes / 1048576 }")"
echo "server.start_to_ready.first_ms $first"
echo "server.start_to_ready.restart_ms $median (of ${restarts[*]})"
[ -n "$image_bytes" ] && echo "image.bytes $image_bytes"
mkdir -p "$root/bench/results"
cat >"$root/bench/results/deploy.json" <<JSON
{
  "machine": "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)",
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "binary.bytes": $bytes,
  "server.start_to_ready.first_ms": $first,
  "server.start_to_ready.restart_ms": $median,
  "image.bytes": ${image_bytes:-null}
}
JSON
echo "written bench/results/deploy.json"
