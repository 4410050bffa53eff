#!/usr/bin/env bash
# Idle resident memory of `cohort server` for one or more builds of the binary, measured alternately:
#   bench/server-idle-rss.sh [-n SAMPLES] [--dashboard] BINARY [BINARY ...]
# Each sample starts `BINARY server` in a fresh data folder (TLS material generated, no nodes),
# with the dashboard off (--dashboard-port -1) unless --dashboard, waits until its port accepts
# connections, waits 6 s more (past the startup memory pass), reads /proc/PID/status and
# /proc/PID/smaps_rollup, and stops it. Prints one line per sample (MiB) and the load average;
# samples of the binaries alternate so a change in the machine's load hits each alike.
set -euo pipefail
samples=3
dashboard=-1
while [ $# -gt 0 ]; do
  case "$1" in
    -n) samples="$2"; shift 2 ;;
    --dashboard) dashboard=0; shift ;;
    *) break ;;
  esac
done
if [ $# -lt 1 ]; then
  echo "usage: bench/server-idle-rss.sh [-n SAMPLES] [--dashboard] BINARY [BINARY ...]" >&2
  exit 2
fi
for b in "$@"; do [ -x "$b" ] || { echo "server-idle-rss.sh: '$b' is not an executable" >&2; exit 2; }; done
work="$(mktemp -d "${TMPDIR:-/tmp}/cohort-idle-rss.XXXXXX")"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
kib() { awk -v k="$1" '$1 == k":" { printf "%.1f", $2 / 1024 }' "$2"; }

printf '%-40s %7s %7s %7s %7s %7s %7s %7s  %s\n' build VmRSS VmHWM anon file shmem PSS private load
for ((i = 1; i <= samples; i++)); do
  for bin in "$@"; do
    data="$work/data-$i-$(basename "$(dirname "$bin")")"
    port="$(free_port)"
    "$bin" server --port "$port" --dashboard-port "$dashboard" --data-dir "$data" >"$work/server.log" 2>&1 &
    pid=$!
    deadline=$((SECONDS + 60))
    until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; do
      if ! kill -0 "$pid" 2>/dev/null; then echo "server-idle-rss.sh: $bin server exited:" >&2; cat "$work/server.log" >&2; exit 1; fi
      if [ $SECONDS -gt $deadline ]; then echo "server-idle-rss.sh: $bin server did not listen on $port within 60 s" >&2; exit 1; fi
      sleep 0.2
    done
    sleep 6
    cp "/proc/$pid/status" "$work/status"
    cp "/proc/$pid/smaps_rollup" "$work/smaps"
    private=$(awk '$1 == "Private_Dirty:" { printf "%.1f", $2 / 1024 }' "$work/smaps")
    pss=$(awk '$1 == "Pss:" { printf "%.1f", $2 / 1024 }' "$work/smaps")
    printf '%-40s %7s %7s %7s %7s %7s %7s %7s  %s\n' "$bin" "$(kib VmRSS "$work/status")" "$(kib VmHWM "$work/status")" \
      "$(kib RssAnon "$work/status")" "$(kib RssFile "$work/status")" "$(kib RssShmem "$work/status")" "$pss" "$private" \
      "$(cut -d' ' -f1-3 /proc/loadavg)"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
  done
done
