#!/usr/bin/env bash
# Deployment tests, run by ./test.sh when podman is present (a few minutes):
#   binary   the single-file binary, copied out of the repository, runs the heart-disease demo from its built-in copy
#   image    the FROM-scratch image is under 40 MB, runs as a non-root user, answers its health check
#   compose  deploy/compose: server + three hospitals provisioned, heart-disease plan runs to the end
#   kube     deploy/kubernetes: every overlay renders; the server and three site overlays, played by
#            `podman kube play`, run the heart-disease plan to the end
# (The packed dotnet tool is tested in tests/packages/run.sh, which packs it once for all its tests.)
# Ends with "N passed, N failed"; exits non-zero when any failed.
# COHORT_BINARY=PATH skips publishing (uses that binary).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$(mktemp -d /tmp/cohort-containers.XXXXXX)"
export WORK
# shellcheck source=podman-env.sh
. "$root/tests/containers/podman-env.sh"
export COHORT_IMAGE="localhost/cohort-test:latest"
sites=(cleveland hungarian switzerland)
passed=0; failed=0
log="$WORK/log"

cleanup() {
  podman pod rm -af -t 0 >/dev/null 2>&1
  podman rm -af -t 0 >/dev/null 2>&1
  podman system reset -f >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

check() { # NAME COMMAND...: runs one test, prints its result and, on failure, the log's tail
  local name="$1"; shift
  local started=$SECONDS
  echo "containers: $name ..."
  if "$@" >"$log" 2>&1; then
    echo "  passed: $name ($((SECONDS - started)) s)"; passed=$((passed + 1))
  else
    echo "  FAILED: $name"; tail -40 "$log" | sed 's/^/    /'; failed=$((failed + 1))
  fi
}

# podman exec ARGS, printing the command's output; podman 4.3 now and then drops the output of a
# short-lived exec, so an empty answer is asked again (the commands used here are safe to repeat).
exec_out() {
  local out attempt
  for attempt in 1 2 3 4 5; do
    out="$(podman exec "$@")" && [ -n "$out" ] && { printf '%s\n' "$out"; return 0; }
    sleep 1
  done
  echo "podman exec $* printed nothing in 5 attempts" >&2
  return 1
}

# Waits (deadline in seconds) until CONTAINER answers its health check.
wait_healthy() {
  local container="$1" deadline=$((SECONDS + $2))
  until podman exec "$container" /cohort health --data-dir /data >/dev/null 2>&1; do
    ((SECONDS > deadline)) && { echo "$container not healthy after $2 s"; podman logs "$container"; return 1; }
    sleep 1
  done
}

# Submits the heart-disease plan (PLAN, a path inside CONTAINER, or /dev/stdin to send the repository's
# copy in) for three sites, waits, and checks the run finished all its rounds.
run_plan() {
  local container="$1" plan="$2" out id
  out="$(timeout 300 podman exec -i "$container" /cohort run submit "$plan" --data-dir /data --wait <"$root/examples/heart-disease/plan.yaml" \
    --set rounds=3 --set selection.min_available=3 --set selection.min_fit=3 --set selection.min_evaluate=3)" || { echo "$out"; return 1; }
  echo "$out"
  id="$(sed -n 's/^submitted run \([^ ]*\).*/\1/p' <<<"$out")"
  run_id="$id"
  [ -n "$id" ] || { echo "no run id in the output"; return 1; }
  exec_out "$container" /cohort run show "$id" --data-dir /data --json >"$WORK/run.json" || return 1
  grep -q '"status": *"finished"' "$WORK/run.json" \
    || { echo "run $id did not finish"; cat "$WORK/run.json"; return 1; }
  grep -q '"roundsDone": *3' "$WORK/run.json" || { echo "run $id: not 3 rounds done"; return 1; }
}

test_binary() {
  mkdir -p "$WORK/outside" && cd "$WORK/outside" || return 1
  # A copy away from the clone: the demo must find its plan and data inside the binary, not in the repository.
  cp "$binary" "$WORK/outside/cohort" || return 1
  "$WORK/outside/cohort" --version
  DOTNET_BUNDLE_EXTRACT_BASE_DIR="$WORK/extract" timeout 300 "$WORK/outside/cohort" demo heart-disease --rounds 2 --out-dir "$WORK/outside/demo" --summary "$WORK/outside/summary.json"
  grep -q '"mean_accuracy"' "$WORK/outside/summary.json" && [ -f "$WORK/outside/demo/model.cps" ]
}

test_image() {
  COHORT_BINARY="$binary" "$root/deploy/container/build.sh" "$COHORT_IMAGE" || return 1
  local size user
  size="$(podman image inspect "$COHORT_IMAGE" --format '{{.Size}}')"
  user="$(podman image inspect "$COHORT_IMAGE" --format '{{.Config.User}}')"
  echo "image $size bytes, user $user"
  echo "$size" >"$WORK/image-size"
  ((size < 40 * 1024 * 1024)) || { echo "image is $size bytes (over 40 MiB)"; return 1; }
  [ "$user" = "10001:10001" ] || { echo "image user is '$user'"; return 1; }
  podman run -d --name image-check --read-only --no-healthcheck "$COHORT_IMAGE" >/dev/null || return 1
  wait_healthy image-check 60 || return 1
  podman exec image-check /cohort health --url https://127.0.0.1:7301/readyz --data-dir /data || return 1
  podman rm -f -t 0 image-check >/dev/null
}

test_compose() {
  local project=cohorttest
  export COHORT_SECRETS="$WORK/compose-secrets" COHORT_PORT=$((20000 + RANDOM % 20000))
  export COHORT_DASHBOARD_PORT=$((COHORT_PORT + 1))
  "$root/deploy/compose/provision.sh" "$project" || return 1
  for site in "${sites[@]}"; do podman container exists "${project}_${site}_1" || { echo "no container for $site"; return 1; }; done
  run_plan "${project}_server_1" /plans/plan.yaml || { podman logs "${project}_cleveland_1"; return 1; }
  # The dashboard from the host through the published port: the run's page, and the live feed
  # (reflection-based JSON, which the trimmed binary must keep).
  local admin dashboard="https://localhost:$COHORT_DASHBOARD_PORT"
  admin="$(cat "$(podman volume inspect "${project}_server-data" --format '{{.Mountpoint}}')/admin.token")" || return 1
  curl -sSf --cacert "$COHORT_SECRETS/ca.crt" -H "Authorization: Bearer $admin" "$dashboard/runs/$run_id" >"$WORK/run.html" || return 1
  grep -q "$run_id" "$WORK/run.html" || { echo "dashboard: no page for run $run_id"; return 1; }
  curl -sS --max-time 5 --cacert "$COHORT_SECRETS/ca.crt" -H "Authorization: Bearer $admin" "$dashboard/events" >"$WORK/events" 2>/dev/null
  grep -q '"runs"' "$WORK/events" || { echo "dashboard: live feed sent no runs"; cat "$WORK/events"; return 1; }
  podman-compose -p "$project" -f "$root/deploy/compose/compose.yaml" down -v >/dev/null 2>&1
  ! podman container exists "${project}_server_1" || { echo "compose down left the server running"; return 1; }
}

test_kube() {
  local k8s="$root/deploy/kubernetes" out="$WORK/kube" token
  mkdir -p "$out/ca"
  for overlay in "$k8s"/overlays/*/; do
    kubectl kustomize "$overlay" >"$out/$(basename "$overlay").yaml" || { echo "kustomize failed: $overlay"; return 1; }
  done
  podman network create cohort-kube >/dev/null || return 1
  python3 "$root/tests/containers/kube_to_podman.py" "$out/coordinator.yaml" "$out/coordinator.play.yaml" || return 1
  sed -i "s|localhost/cohort:latest|$COHORT_IMAGE|" "$out/coordinator.play.yaml"
  podman kube play --network cohort-kube "$out/coordinator.play.yaml" || return 1
  wait_healthy cohort-server-server 120 || return 1
  exec_out cohort-server-server /cohort ca --data-dir /data >"$out/ca/ca.crt" || return 1
  chmod 755 "$out/ca" && chmod 644 "$out/ca/ca.crt"
  for site in "${sites[@]}"; do
    mkdir -p "$out/sites/$site" && chmod 755 "$out/sites/$site"
    cp "$root/examples/heart-disease/data/processed.$site.data" "$out/sites/$site/" && chmod 644 "$out/sites/$site/"*
    token="$(exec_out cohort-server-server /cohort token create "$site" --data-dir /data)" || return 1
    python3 "$root/tests/containers/kube_to_podman.py" "$out/$site.yaml" "$out/$site.play.yaml" \
      --token="$token" --ca-dir "$out/ca" --site-data "$out/sites/$site" || return 1
    sed -i "s|localhost/cohort:latest|$COHORT_IMAGE|" "$out/$site.play.yaml"
    podman kube play --network cohort-kube "$out/$site.play.yaml" || return 1
  done
  # As docs/deploy.md does it: the plan goes in on standard input.
  run_plan cohort-server-server /dev/stdin || { podman logs hospital-cleveland-cohort-node-pod-0-node; return 1; }
  for f in "$out"/*.play.yaml; do podman kube down "$f" >/dev/null; done
}

if [ -n "${COHORT_BINARY:-}" ]; then binary="$COHORT_BINARY"; else
  published=$SECONDS
  "$root/deploy/publish.sh" || { echo "containers: publishing the binary failed"; echo "0 passed, 1 failed"; exit 1; }
  echo "containers: binary published in $((SECONDS - published)) s"
  binary="$root/.build/publish/linux-x64/cohort"
fi
check "binary runs the demo outside the repository" test_binary
check "image: small, non-root, healthy on a read-only root" test_image
check "compose: server + 3 hospitals run the heart-disease plan; dashboard shows it" test_compose
check "kubernetes: rendered overlays played by podman run the heart-disease plan" test_kube
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
