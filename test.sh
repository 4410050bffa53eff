#!/usr/bin/env bash
# Cohort's test command: installs what the tests need when it is missing, builds in Release,
# runs every test project, and ends with one summary line ("N passed, N failed, N skipped").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

# System packages some test suites drive for real (a browser, a metrics server, a database server). Installed only when absent.
apt_packages=()
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
command -v prometheus >/dev/null 2>&1 || apt_packages+=(prometheus)
[ -x /usr/lib/postgresql/15/bin/initdb ] || apt_packages+=(postgresql)
# Container tests (tests/containers/run.sh): podman with the runtime, network and compose pieces it
# needs here, iptables for its networks, PyYAML for turning manifests into what `podman kube play` runs.
# Network-fault tests (tests/network/run.sh): iproute2 for namespaces and veth pairs, iptables for loss.
for p in podman runc netavark aardvark-dns catatonit podman-compose iptables iproute2 python3-yaml; do
  dpkg -s "$p" >/dev/null 2>&1 || apt_packages+=("$p")
done
if [ "${#apt_packages[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test.sh: installing ${apt_packages[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet restore Cohort.slnx -v q
dotnet build Cohort.slnx -c Release --no-restore -nologo -v q -clp:ErrorsOnly
results="$root/TestResults"
rm -rf "$results"
mkdir -p "$results"
status=0
# The container tests' single-file binary is published while the .NET tests run, at the lowest CPU priority: the
# publish waits on restores and the disk about half its time, and otherwise takes only what the tests leave idle
# (it builds under .build/artifacts, never in the folders the tests and the package tests read).
publish_pid=""
if command -v podman >/dev/null 2>&1 && [ -z "${COHORT_SKIP_CONTAINERS:-}" ] && [ -z "${COHORT_BINARY:-}" ]; then
  nice -n 19 "$root/deploy/publish.sh" >"$results/publish.log" 2>&1 &
  publish_pid=$!
fi
dotnet test Cohort.slnx -c Release --no-build --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" "$@" || status=$?

passed=0; failed=0; skipped=0
# Adds a shell suite's last line ("N passed, N failed") to the totals; a log without that line counts as one failure.
add_counts() {
  local counts p f
  counts=$(tail -1 "$1")
  p=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' <<<"$counts"); passed=$((passed + ${p:-0}))
  f=$(sed -n 's/.* \([0-9]*\) failed$/\1/p' <<<"$counts"); failed=$((failed + ${f:-1}))
}
# Deployment tests (single-file binary, image, compose, podman kube play) when podman is here;
# COHORT_SKIP_CONTAINERS=1 leaves them out.
if command -v podman >/dev/null 2>&1 && [ -z "${COHORT_SKIP_CONTAINERS:-}" ]; then
  mkdir -p "$results"; containers_log="$results/containers.log"
  if [ -n "$publish_pid" ]; then
    if wait "$publish_pid"; then
      export COHORT_BINARY="$root/.build/publish/linux-x64/cohort"
    else
      echo "test.sh: publishing the binary beside the tests failed; the container tests publish it again" >&2
      tail -20 "$results/publish.log" >&2
    fi
  fi
  "$root/tests/containers/run.sh" 2>&1 | tee "$containers_log" || status=1
  add_counts "$containers_log"
fi
# Network-fault tests (a node behind delay and loss, a link cut) when this machine can create network
# namespaces (root); COHORT_SKIP_NETWORK=1 leaves them out.
probe_ns="cohort-probe-$$"
if [ -z "${COHORT_SKIP_NETWORK:-}" ] && ip netns add "$probe_ns" >/dev/null 2>&1; then
  ip netns del "$probe_ns"
  mkdir -p "$results"; network_log="$results/network.log"
  "$root/tests/network/run.sh" 2>&1 | tee "$network_log" || status=1
  add_counts "$network_log"
fi
# Package tests (pack, dotnet new from the template package, a federation of the packed app and tool);
# COHORT_SKIP_PACKAGES=1 leaves them out.
if [ -z "${COHORT_SKIP_PACKAGES:-}" ]; then
  mkdir -p "$results"; packages_log="$results/packages.log"
  COHORT_PACK_NO_BUILD=1 "$root/tests/packages/run.sh" 2>&1 | tee "$packages_log" || status=1
  add_counts "$packages_log"
fi
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); passed=$((passed + ${p:-0}))
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters"); failed=$((failed + ${f:-0}))
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters"); skipped=$((skipped + ${n:-0}))
done
# The failed tests again, with the first line of each message and the test's own line that failed, just
# above the summary: a log that keeps only its tail still names what failed and where.
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  awk '/<UnitTestResult / { want = ($0 ~ /outcome="Failed"/); if (want) { match($0, /testName="[^"]*"/); name = substr($0, RSTART + 10, RLENGTH - 11) } }
       want && /<Message>/ { m = $0; sub(/.*<Message>/, "", m); sub(/<\/Message>.*/, "", m); print "failed: " name "\n  " substr(m, 1, 400); want = 0; stack = 1; calllog = ($0 !~ /<\/Message>/) }
       calllog && /^ *- / { c = $0; sub(/^ */, "", c); print "  " substr(c, 1, 200); calllog = 0 }
       /<\/Message>/ { calllog = 0 }
       stack && /\.cs:line [0-9]+/ && /Tests/ { f = $0; sub(/.* in /, "", f); n = split(f, parts, "/"); print "  at " parts[n]; stack = 0 }
       /<\/UnitTestResult>/ { stack = 0 }' "$trx"
done
for log in "${containers_log:-}" "${network_log:-}" "${packages_log:-}"; do
  [ -n "$log" ] && [ -f "$log" ] && grep -E '^ *(FAILED|failed):' "$log" || true
done
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then exit 1; fi
