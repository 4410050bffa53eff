#!/usr/bin/env bash
# Checks of the Native AOT build (deploy/publish.sh --aot). Not run by ./test.sh: the AOT publish alone
# takes 5-10 minutes on two cores. Run it after touching what the server serialises or loads:
#   tests/aot/run.sh              publishes into a temporary folder (needs clang and zlib1g-dev)
#   COHORT_AOT_BINARY=PATH tests/aot/run.sh   checks an AOT binary already published
#   server     `cohort server` starts; /healthz answers; sessions.json is written
#   users      `cohort users add` and `users list` against it (the users file's JSON)
#   feed       the dashboard's live feed (/events) sends its snapshot with the names the pages read
#   demo       `cohort demo heart-disease --rounds 3`: embedded server and four node processes, all AOT
#   plugin     `--plugin` is refused with a one-line reason (an AOT build cannot load assemblies)
#   memory     an idle server (no nodes, no dashboard) holds at most COHORT_AOT_MAX_IDLE_MIB (default 56) MiB
# Ends with "N passed, N failed"; exits non-zero when any failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$(mktemp -d /tmp/cohort-aot.XXXXXX)"
passed=0; failed=0
log="$WORK/log"
server_pid=""

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid"; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

check() { # NAME COMMAND...: runs one check, prints its result and, on failure, the log's tail
  local name="$1"; shift
  echo "aot: $name ..."
  if "$@" >"$log" 2>&1; then
    echo "  passed: $name"; passed=$((passed + 1))
  else
    echo "  FAILED: $name"; tail -40 "$log" | sed 's/^/    /'; failed=$((failed + 1))
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

if [ -n "${COHORT_AOT_BINARY:-}" ]; then
  cohort="$COHORT_AOT_BINARY"
else
  echo "aot: publishing (deploy/publish.sh --aot; several minutes) ..."
  "$root/deploy/publish.sh" --aot "$WORK/publish" >"$WORK/publish.log" 2>&1 || { cat "$WORK/publish.log"; echo "0 passed, 1 failed"; exit 1; }
  cohort="$WORK/publish/cohort"
fi
data="$WORK/server"
port="$(free_port)"
dashboard="$(free_port)"

server() {
  "$cohort" server --port "$port" --dashboard-port "$dashboard" --data-dir "$data" >"$WORK/server.log" 2>&1 &
  server_pid=$!
  local deadline=$((SECONDS + 60))
  until curl -sf --cacert "$data/tls/ca.crt" "https://localhost:$dashboard/healthz" 2>/dev/null | grep -qx ok; do
    if ! kill -0 "$server_pid" 2>/dev/null; then cat "$WORK/server.log"; return 1; fi
    [ $SECONDS -lt $deadline ] || { echo "no /healthz within 60 s"; cat "$WORK/server.log"; return 1; }
    sleep 0.5
  done
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert len(s['FormKey']) == 64 and s['Sessions'] == [], s" "$data/sessions.json"
}

users() {
  printf 'correct-horse-battery\n' >"$WORK/password"
  "$cohort" users add alice --role viewer --password-file "$WORK/password" --server "https://localhost:$port" --data-dir "$data" || return 1
  "$cohort" users list --server "https://localhost:$port" --data-dir "$data" | tee /dev/stderr | grep -q 'alice.*viewer' || return 1
  python3 -c "import json,sys; u=json.load(open(sys.argv[1])); assert [x['Name'] for x in u] == ['alice'] and u[0]['Algorithm'] == 'pbkdf2-sha256', u" "$data/users.json"
}

feed() {
  # The stream never ends by itself: read it for a few seconds, then look at its first snapshot.
  curl -s --max-time 4 --cacert "$data/tls/ca.crt" -H "authorization: Bearer $(cat "$data/admin.token")" \
    "https://localhost:$dashboard/events" >"$WORK/events" || true
  cat "$WORK/events"
  grep -m1 '^data: ' "$WORK/events" | cut -c7- | python3 -c "
import json, sys
s = json.loads(sys.stdin.read())
assert list(s) == ['nodesOnline', 'nodesBusy', 'runs'], list(s)
assert s['nodesOnline'] == 0 and s['runs'] == [], s"
}

demo() {
  (cd "$root" && "$cohort" demo heart-disease --rounds 3 --out-dir "$WORK/demo" --summary "$WORK/demo.json") || return 1
  python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))
assert s['rounds'] == 3, s['rounds']
assert s['pooled_accuracy'] > 0.7, s['pooled_accuracy']" "$WORK/demo.json"
}

plugin() {
  touch "$WORK/plugin.dll"
  local out
  out="$("$cohort" server --port 0 --dashboard-port -1 --data-dir "$WORK/plugin-data" --plugin "$WORK/plugin.dll" 2>&1)" && return 1
  echo "$out"
  echo "$out" | grep -q 'cannot load plugins'
}

memory() {
  local line rss
  line="$("$root/bench/server-idle-rss.sh" -n 1 "$cohort" | tail -1)" || return 1
  echo "$line"
  rss="$(echo "$line" | awk '{ print $2 }')"
  awk -v r="$rss" -v max="${COHORT_AOT_MAX_IDLE_MIB:-56}" 'BEGIN { exit !(r <= max) }' || { echo "idle VmRSS $rss MiB > ${COHORT_AOT_MAX_IDLE_MIB:-56}"; return 1; }
}

check server server
check users users
check feed feed
kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=""
check demo demo
check plugin plugin
check memory memory
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
