#!/usr/bin/env bash
# Brings up the compose federation from nothing: starts the server (it generates its CA and admin
# token in its data volume), issues one token per hospital, copies the CA certificate out for the
# nodes, then starts the nodes.
#   deploy/compose/provision.sh [PROJECT]     (default project name: cohort)
# Environment: as compose.yaml (COHORT_IMAGE, COHORT_DATA, COHORT_SECRETS, COHORT_PORT, ...).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="${1:-cohort}"
sites=(cleveland hungarian switzerland)
secrets="${COHORT_SECRETS:-$here/secrets}"
compose=(podman-compose -p "$project" -f "$here/compose.yaml")
server="${project}_server_1"

mkdir -p "$secrets"
# Nodes are declared with env files; placeholders let compose parse the file before tokens exist.
for site in "${sites[@]}"; do [ -f "$secrets/$site.env" ] || : >"$secrets/$site.env"; done
[ -f "$secrets/ca.crt" ] || : >"$secrets/ca.crt"

"${compose[@]}" up -d server >/dev/null
deadline=$((SECONDS + 120))
until podman exec "$server" /cohort health --data-dir /data >/dev/null 2>&1; do
  if ((SECONDS > deadline)); then echo "provision.sh: server not healthy after 120 s" >&2; podman logs "$server" >&2; exit 1; fi
  sleep 1
done
# podman 4.3 now and then drops the output of a short-lived exec: ask again when the answer is empty
# (both commands are safe to repeat; a repeated token create replaces the node's token, --replace even while it is connected,
# and the sites are started again below with the new one).
exec_out() {
  local out attempt
  for attempt in 1 2 3 4 5; do
    out="$(podman exec "$server" "$@")" && [ -n "$out" ] && { printf '%s\n' "$out"; return 0; }
    sleep 1
  done
  echo "provision.sh: '$*' in $server printed nothing in 5 attempts" >&2
  exit 1
}
exec_out /cohort ca --data-dir /data >"$secrets/ca.crt"
chmod 644 "$secrets/ca.crt"
for site in "${sites[@]}"; do
  token="$(exec_out /cohort token create "$site" --replace --data-dir /data)"
  (umask 077; printf 'COHORT_NODE_TOKEN=%s\n' "$token" >"$secrets/$site.env")
done
"${compose[@]}" up -d --no-deps "${sites[@]}" >/dev/null
echo "provision.sh: server and ${#sites[@]} nodes up (project $project); CA and tokens in $secrets"
