#!/usr/bin/env bash
# Package tests, run by ./test.sh (about two minutes):
#   lean      the client contract (src/Cohort.Contracts) and the node (src/Cohort.Node, package Cohort.Client):
#             `dotnet list package --include-transitive` shows no ASP.NET Core, YamlDotNet or Npgsql, and
#             neither has the ASP.NET Core shared framework, directly or through a project it references
#   pack      `dotnet pack Cohort.slnx` makes every package: the client, the libraries, the tool, the template
#   client    Cohort.Client, Cohort.Contracts and Cohort.Transport need no ASP.NET Core, YamlDotNet, Npgsql or
#             Cohort.Core: the contract, gRPC client and protobuf only
#   template  installed from the packed .nupkg, `dotnet new cohort-app` makes an app outside the repository
#             that restores Cohort.Client (with Cohort.Contracts, without YamlDotNet, Npgsql or Grpc.AspNetCore)
#             from the local feed (no project references) and builds
#   federate  the packed Cohort.Cli tool runs a server; a node of that app with an unknown token exits with
#             one line; two nodes of that app run the template's plan (2 rounds) to the end
#   demo      the same installed tool runs the heart-disease demo outside the repository
# `run.sh lean` (or other test names; template, federate and demo need pack) runs only those. Ends with "N passed, N failed"; exits non-zero when any failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$(mktemp -d /tmp/cohort-packages.XXXXXX)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
feed="$WORK/feed"; app="$WORK/outside/MyApp"; log="$WORK/log"
passed=0; failed=0; server_pid=""; node_pids=()

cleanup() {
  for pid in "${node_pids[@]}" $server_pid; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${COHORT_KEEP_WORK:-}" ] && echo "packages: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

run_check() { # NAME COMMAND...: runs one test, prints its result and, on failure, the log's tail
  local name="$1"; shift
  local started=$SECONDS
  echo "packages: $name ..."
  if "$@" >"$log" 2>&1; then
    echo "  passed: $name ($((SECONDS - started)) s)"; passed=$((passed + 1))
  else
    echo "  FAILED: $name"; tail -40 "$log" | sed 's/^/    /'; failed=$((failed + 1))
  fi
}

version() { sed -n 's|.*<CohortVersion[^>]*>\(.*\)</CohortVersion>.*|\1|p' "$root/Directory.Build.props"; }

# What the client side must never depend on: the server's web stack, the plan files' YAML, the server's database.
forbidden='AspNetCore|YamlDotNet|Npgsql'

heavy() { # PROJECT: prints the forbidden packages and shared frameworks PROJECT depends on, directly or transitively
  local project="$root/$1" packages frameworks
  dotnet restore "$project" -nologo -v q >/dev/null || { echo "restore of $1 failed"; return 1; }
  packages="$(dotnet list "$project" package --include-transitive)" || return 1
  # A FrameworkReference travels through project references as a TransitiveFrameworkReference.
  frameworks="$(dotnet msbuild "$project" -nologo -p:Configuration=Release -t:ResolvePackageAssets \
    -getItem:FrameworkReference -getItem:TransitiveFrameworkReference)" || return 1
  { grep -o -E '> [^ ]+' <<<"$packages" | cut -c3-; grep -o -E '"Identity": "[^"]+"' <<<"$frameworks" | cut -d'"' -f4; } \
    | { grep -E "$forbidden" || true; } | sort -u
}

test_lean() {
  local project found name
  # The check itself must see what it looks for: the server has all three kinds, Core reads YAML.
  found="$(heavy src/Cohort.Server/Cohort.Server.csproj)" || return 1
  for name in Grpc.AspNetCore Microsoft.AspNetCore.App Npgsql; do
    grep -q -x -F "$name" <<<"$found" || { echo "the check does not see $name in Cohort.Server: $found"; return 1; }
  done
  found="$(heavy src/Cohort.Core/Cohort.Core.csproj)" || return 1
  grep -q -x YamlDotNet <<<"$found" || { echo "the check does not see YamlDotNet in Cohort.Core: $found"; return 1; }
  for project in src/Cohort.Contracts/Cohort.Contracts.csproj src/Cohort.Node/Cohort.Node.csproj; do
    found="$(heavy "$project")" || return 1
    [ -z "$found" ] || { echo "$project depends on: $(tr '\n' ' ' <<<"$found")"; return 1; }
    echo "$project: no ASP.NET Core, YamlDotNet or Npgsql"
  done
}

test_pack() {
  # ./test.sh has just built the solution in Release and says so with COHORT_PACK_NO_BUILD=1: pack those outputs.
  local build=(); [ -z "${COHORT_PACK_NO_BUILD:-}" ] || build=(--no-build)
  dotnet pack "$root/Cohort.slnx" -c Release -o "$feed" "${build[@]}" -nologo -v q -clp:ErrorsOnly || return 1
  local v; v="$(version)"
  for id in Cohort.Client Cohort.Contracts Cohort.Core Cohort.Transport Cohort.Engine Cohort.Learning Cohort.Apps Cohort.Server \
            Cohort.Simulation Cohort.Cli Cohort.Templates; do
    [ -f "$feed/$id.$v.nupkg" ] || { echo "missing $id.$v.nupkg"; ls "$feed"; return 1; }
  done
  local extra; extra="$(ls "$feed" | grep -v -E '^Cohort\.(Client|Contracts|Core|Transport|Engine|Learning|Apps|Server|Simulation|Cli|Templates)\.' )"
  [ -z "$extra" ] || { echo "unexpected packages: $extra"; return 1; }
  # Each library package carries its XML docs (its public API is documented), the readme and the license expression.
  # (Listings are read whole before grep: grep -q closing the pipe early would fail it under pipefail.)
  local files nuspec
  for id in Cohort.Client Cohort.Contracts Cohort.Core Cohort.Transport Cohort.Engine Cohort.Learning Cohort.Apps Cohort.Server \
            Cohort.Simulation; do
    files="$(unzip -l "$feed/$id.$v.nupkg")"; nuspec="$(unzip -p "$feed/$id.$v.nupkg" "$id.nuspec")"
    grep -q 'lib/net10.0/.*\.xml' <<<"$files" || { echo "$id: no XML docs"; return 1; }
    grep -q '<license type="expression">Apache-2.0</license>' <<<"$nuspec" || { echo "$id: no license"; return 1; }
    grep -q '<readme>README.md</readme>' <<<"$nuspec" || { echo "$id: no readme"; return 1; }
  done
  # The tool carries the native libraries of the supported platforms only, and no native debug symbols (218 MB before).
  files="$(unzip -l "$feed/Cohort.Cli.$v.nupkg")"
  local size; size="$(stat -c %s "$feed/Cohort.Cli.$v.nupkg")"
  echo "Cohort.Cli.$v.nupkg: $((size / 1048576)) MiB"
  ((size < 80 * 1048576)) || { echo "Cohort.Cli is $((size / 1048576)) MiB, over 80"; return 1; }
  grep -q 'runtimes/linux-x64/native/libSkiaSharp.so' <<<"$files" || { echo "Cohort.Cli: no linux-x64 SkiaSharp"; return 1; }
  grep -q 'runtimes/win-x64/native/e_sqlite3.dll' <<<"$files" || { echo "Cohort.Cli: no win-x64 SQLite"; return 1; }
  if grep -q -E 'runtimes/[^ ]*\.pdb|runtimes/(android|ios|browser|linux-x86|linux-arm/)' <<<"$files"; then
    echo "Cohort.Cli carries native symbols or unsupported platforms"; return 1
  fi
}

test_client() {
  local v id deps; v="$(version)"
  for id in Cohort.Client Cohort.Contracts Cohort.Transport; do
    deps="$(unzip -p "$feed/$id.$v.nupkg" "$id.nuspec" | grep -o -E '<(dependency id|frameworkReference name)="[^"]*"')"
    echo "$id: $(tr '\n' ' ' <<<"$deps")"
    if grep -q -E "$forbidden" <<<"$deps"; then echo "$id depends on ASP.NET Core, YamlDotNet or Npgsql"; return 1; fi
    # Cohort.Core carries the plans' YAML parser: the client side stops at the contract.
    if grep -q -E '"Cohort\.(Core|Engine|Server|Simulation|Apps)"' <<<"$deps"; then echo "$id depends on a server-side Cohort package"; return 1; fi
  done
  deps="$(unzip -p "$feed/Cohort.Transport.$v.nupkg" Cohort.Transport.nuspec)"
  grep -q 'id="Grpc.Net.Client"' <<<"$deps" || { echo "Cohort.Transport: no Grpc.Net.Client"; return 1; }
}

test_template() {
  local v; v="$(version)"
  dotnet new install "$feed/Cohort.Templates.$v.nupkg" --debug:custom-hive "$WORK/hive" || return 1
  mkdir -p "$WORK/outside" && cd "$WORK/outside" || return 1
  # The local feed, the machine's package cache as a folder feed (restores work offline), then the registry;
  # a fresh packages folder, so the client package comes from this build's feed and no earlier one.
  cat >nuget.config <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear />
  <add key="local" value="$feed" />
  <add key="cache" value="${NUGET_PACKAGES:-$HOME/.nuget/packages}" />
  <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
</packageSources></configuration>
XML
  dotnet new cohort-app -n MyApp -o "$app" --debug:custom-hive "$WORK/hive" || return 1
  grep -q "Include=\"Cohort.Client\" Version=\"$v\"" "$app/MyApp.csproj" || { cat "$app/MyApp.csproj"; return 1; }
  if grep -rq ProjectReference "$app"; then echo "the app has a ProjectReference"; return 1; fi
  grep -q 'namespace MyApp' "$app/LogisticApp.cs" || { echo "the template's name was not applied"; return 1; }
  # The app's name, in its node and its plan, is the project's in lower case: two apps from the template differ.
  grep -q 'RunAsync(app, "myapp"' "$app/Program.cs" && grep -q '^  name: myapp' "$app/plan.yaml" \
    || { echo "the app's name is not the project's"; grep -n "RunAsync\|name:" "$app/Program.cs" "$app/plan.yaml"; return 1; }
  NUGET_PACKAGES="$WORK/nuget" dotnet build "$app" -c Release -o "$WORK/app-out" -nologo -v q -clp:ErrorsOnly || return 1
  [ -f "$WORK/nuget/cohort.client/$v/cohort.client.nuspec" ] || { echo "Cohort.Client was not restored from the feed"; return 1; }
  local pulled
  for pulled in grpc.aspnetcore yamldotnet npgsql cohort.core; do
    [ ! -d "$WORK/nuget/$pulled" ] || { echo "the app pulled in $pulled"; return 1; }
  done
  [ -d "$WORK/nuget/cohort.contracts/$v" ] || { echo "Cohort.Contracts was not restored with Cohort.Client"; return 1; }
}

# Installs the Cohort.Cli tool into $WORK/tool from the local feed alone (never from a registry), once.
install_tool() {
  [ -x "$WORK/tool/cohort" ] && return 0
  cat >"$WORK/tool.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear /><add key="local" value="$feed" /></packageSources></configuration>
XML
  dotnet tool install --tool-path "$WORK/tool" --configfile "$WORK/tool.config" Cohort.Cli
}

test_federate() {
  [ -f "$WORK/app-out/MyApp.dll" ] || { echo "no app built"; return 1; }
  install_tool || return 1
  local cohort="$WORK/tool/cohort" srv="$WORK/srv" url="" deadline out id site token
  cd "$WORK/outside" || return 1
  "$cohort" server --port 0 --dashboard-port -1 --data-dir "$srv" >"$WORK/server.log" 2>&1 &
  server_pid=$!
  deadline=$((SECONDS + 120))
  until url="$(sed -n 's/.* listening on \(https:[^ ]*\).*/\1/p' "$WORK/server.log" | head -1)"; [ -n "$url" ]; do
    ((SECONDS > deadline)) && { echo "server not listening after 120 s"; cat "$WORK/server.log"; return 1; }
    kill -0 "$server_pid" 2>/dev/null || { echo "server exited"; cat "$WORK/server.log"; return 1; }
    sleep 1
  done
  url="${url%/}"
  echo "server at $url"
  # A node with a token the server does not know: one line naming the refusal and exit code 2, no stack trace.
  local refused rc
  refused="$(COHORT_NODE_TOKEN=not-a-token timeout 60 dotnet "$WORK/app-out/MyApp.dll" "$url" site1 "$srv/tls/ca.crt" \
    "$WORK/app-out/data/site1.csv" 2>&1)"; rc=$?
  { [ "$rc" -eq 2 ] && grep -q "^MyApp: server refused node 'site1'" <<<"$refused" && ! grep -q "Unhandled exception" <<<"$refused"; } \
    || { echo "a node with an unknown token: exit code $rc, output: $refused"; return 1; }
  for site in 1 2; do
    token="$("$cohort" token create "site$site" --server "$url" --data-dir "$srv")" || return 1
    COHORT_NODE_TOKEN="$token" dotnet "$WORK/app-out/MyApp.dll" "$url" "site$site" "$srv/tls/ca.crt" \
      "$WORK/app-out/data/site$site.csv" >"$WORK/node$site.log" 2>&1 &
    node_pids+=($!)
  done
  out="$(timeout 300 "$cohort" run submit "$app/plan.yaml" --server "$url" --data-dir "$srv" --wait --set rounds=2)" \
    || { echo "$out"; tail -20 "$WORK"/node*.log "$WORK/server.log"; return 1; }
  echo "$out"
  id="$(sed -n 's/^submitted run \([^ ]*\).*/\1/p' <<<"$out")"
  [ -n "$id" ] || { echo "no run id in the output"; return 1; }
  "$cohort" run show "$id" --server "$url" --data-dir "$srv" --json >"$WORK/run.json" || return 1
  grep -q '"status": *"finished"' "$WORK/run.json" || { echo "run $id did not finish"; cat "$WORK/run.json"; return 1; }
  grep -q '"roundsDone": *2' "$WORK/run.json" || { echo "run $id: not 2 rounds done"; cat "$WORK/run.json"; return 1; }
  grep -q '"accuracy"' "$WORK/run.json" || { echo "run $id: no accuracy from the app's evaluation"; return 1; }
}

test_demo() {
  install_tool || return 1
  mkdir -p "$WORK/outside" && cd "$WORK/outside" || return 1
  timeout 300 "$WORK/tool/cohort" demo heart-disease --rounds 2 --out-dir "$WORK/tool-demo" --summary "$WORK/tool-summary.json" || return 1
  grep -q '"mean_accuracy"' "$WORK/tool-summary.json" || { echo "no mean_accuracy in the demo's summary"; cat "$WORK/tool-summary.json"; return 1; }
  # A chart loads SkiaSharp's native library from the tool's runtimes folder.
  (cd "$WORK/tool-demo" && timeout 120 "$WORK/tool/cohort" simulate examples/heart-disease/plan.yaml --rounds 1 --quiet --chart "$WORK/tool-chart.png") || return 1
  [ -s "$WORK/tool-chart.png" ] || { echo "the tool drew no chart"; return 1; }
}

start=$SECONDS
selected=" $* "
check() { # NAME COMMAND...: as above, when no test names were given or this one's was
  local word="${1%%:*}"
  [ "$selected" = "  " ] || [[ "$selected" == *" $word "* ]] || return 0
  run_check "$@"
}
check "lean: the client contract and the node have no ASP.NET Core, YamlDotNet or Npgsql" test_lean
check "pack: the solution makes every package, with docs, readme and license" test_pack
check "client: Cohort.Client, Contracts and Transport need no ASP.NET Core, YamlDotNet, Npgsql or Cohort.Core" test_client
check "template: dotnet new cohort-app outside the repository restores Cohort.Client from the feed and builds" test_template
check "federate: the packed tool's server runs the template app's plan with 2 nodes" test_federate
check "demo: the tool installed from the feed runs the heart-disease demo outside the repository and draws a chart" test_demo
echo "packages: $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
