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
status=0
dotnet test Cohort.slnx -c Release --no-build --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" "$@" || status=$?

passed=0; failed=0; skipped=0
# Deployment tests (single-file binary, image, compose, podman kube play) when podman is here;
# COHORT_SKIP_CONTAINERS=1 leaves them out.
if command -v podman >/dev/null 2>&1 && [ -z "${COHORT_SKIP_CONTAINERS:-}" ]; then
  mkdir -p "$results"; containers_log="$results/containers.log"
  "$root/tests/containers/run.sh" 2>&1 | tee "$containers_log" || status=1
  counts=$(tail -1 "$containers_log")
  p=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' <<<"$counts"); passed=$((passed + ${p:-0}))
  f=$(sed -n 's/.* \([0-9]*\) failed$/\1/p' <<<"$counts"); failed=$((failed + ${f:-1}))
fi
# Network-fault tests (a node behind delay and loss, a link cut) when this machine can create network
# namespaces (root); COHORT_SKIP_NETWORK=1 leaves them out.
probe_ns="cohort-probe-$$"
if [ -z "${COHORT_SKIP_NETWORK:-}" ] && ip netns add "$probe_ns" >/dev/null 2>&1; then
  ip netns del "$probe_ns"
  mkdir -p "$results"; network_log="$results/network.log"
  "$root/tests/network/run.sh" 2>&1 | tee "$network_log" || status=1
  counts=$(tail -1 "$network_log")
  p=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' <<<"$counts"); passed=$((passed + ${p:-0}))
  f=$(sed -n 's/.* \([0-9]*\) failed$/\1/p' <<<"$counts"); failed=$((failed + ${f:-1}))
fi
# Package tests (pack, dotnet new from the template package, a federation of the packed app and tool);
# COHORT_SKIP_PACKAGES=1 leaves them out.
if [ -z "${COHORT_SKIP_PACKAGES:-}" ]; then
  mkdir -p "$results"; packages_log="$results/packages.log"
  "$root/tests/packages/run.sh" 2>&1 | tee "$packages_log" || status=1
  counts=$(tail -1 "$packages_log")
  p=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' <<<"$counts"); passed=$((passed + ${p:-0}))
  f=$(sed -n 's/.* \([0-9]*\) failed$/\1/p' <<<"$counts"); failed=$((failed + ${f:-1}))
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
