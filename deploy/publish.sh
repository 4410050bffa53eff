#!/usr/bin/env bash
# Publishes the `cohort` command (server, node and every other command in one file) as a
# self-contained, single-file, trimmed linux-x64 executable that needs no .NET on the machine.
#   deploy/publish.sh [OUT_DIR]        (default: .build/publish/linux-x64)
# COHORT_TRIM=false publishes untrimmed (bigger; for ruling trimming out when chasing a fault).
# COHORT_COMPRESS=false publishes the bundle uncompressed: 43 MB instead of 25, but an idle server
# holds about 11 MiB less (see EnableCompressionInSingleFile below and docs/benchmarks.md).
#
# Why these properties:
# - PublishTrimmed: the .NET libraries and packages are trimmed; Cohort's own assemblies stay whole
#   (TrimmerRootAssembly in Cohort.Cli.csproj): trimmed, the dashboard's live feed serialised its
#   anonymous objects to "{}" (tests/containers/run.sh checks the feed on the binary). Keeping every
#   package whole too (TrimMode=partial) works but makes the binary 5 MB bigger and the image > 40 MB.
#   YAML is read through YamlDotNet's node model (no reflection-built objects) and gRPC code is
#   generated, so trimming the packages is safe for the paths used.
# - JsonSerializerIsReflectionEnabledByDefault: trimmed apps switch reflection-based System.Text.Json
#   off; the dashboard's live feed serialises anonymous objects, so it stays on.
# - IncludeNativeLibrariesForSelfExtract: SQLite, SkiaSharp and HarfBuzz native libraries travel
#   inside the one file; they are unpacked once to $DOTNET_BUNDLE_EXTRACT_BASE_DIR (default
#   ~/.net; containers point it at a tmpfs).
# - EnableCompressionInSingleFile: 42 MB becomes 24 MB (the image stays under 40 MB); the bundled
#   assemblies are decompressed in memory at each start, whole, into private memory every process
#   holds for itself (idle server ~72 MiB resident against ~60 MiB uncompressed, where the assemblies
#   are mapped from the file and only the pages used are read). COHORT_COMPRESS=false for the latter.
# - TreatWarningsAsErrors=false: the trim and single-file analysers' warnings (reflection JSON,
#   Assembly.Location in NodeProcess, which single-file handles) are reviewed above; the ordinary
#   build keeps warnings fatal.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/.build/publish/linux-x64}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
trim="${COHORT_TRIM:-true}"
compress="${COHORT_COMPRESS:-true}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet publish "$root/src/Cohort.Cli/Cohort.Cli.csproj" -c Release -r linux-x64 -o "$out" -nologo -v q -clp:ErrorsOnly \
  -p:SelfContained=true -p:PublishSingleFile=true -p:PublishTrimmed="$trim" \
  -p:JsonSerializerIsReflectionEnabledByDefault=true \
  -p:IncludeNativeLibrariesForSelfExtract=true -p:EnableCompressionInSingleFile="$compress" \
  -p:DebugType=none -p:TreatWarningsAsErrors=false
echo "published $out/cohort ($(stat -c %s "$out/cohort") bytes)"
