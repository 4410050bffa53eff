#!/usr/bin/env bash
# Publishes the `cohort` command (server, node and every other command in one file) as a
# self-contained, single-file, trimmed linux-x64 executable that needs no .NET on the machine.
#   deploy/publish.sh [OUT_DIR]        (default: .build/publish/linux-x64)
#   deploy/publish.sh --aot [OUT_DIR]  (default: .build/publish/linux-x64-aot) Native AOT: the same commands
#                                      compiled ahead of time, for servers (see "--aot" below)
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
#   off; this build switches it back on, as it needed when the dashboard's live feed serialised
#   anonymous objects. Cohort's JSON is source-generated now (the --aot build runs without it); the
#   switch stays until the container tests have run this build without it too.
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
# - UseArtifactsOutput, ArtifactsPath: the publish builds every project again with its own properties (no symbols, a
#   runtime); under .build/artifacts it leaves the ordinary build's bin/ and obj/ folders as they were, so it can run
#   beside the tests (./test.sh starts it while they run) and `dotnet pack --no-build` still finds that build's files.
# --aot: PublishAot compiles Cohort and the .NET libraries it uses to machine code (no JIT at run time);
#   an idle server holds ~53 MiB instead of ~60 (docs/benchmarks.md, Server memory). The native SQLite,
#   SkiaSharp and HarfBuzz libraries are files beside `cohort` (keep the folder together). Reflection-based
#   JSON stays off: everything the program serialises is source-generated or written by hand, so a missed
#   type fails loudly. Machine code is fixed at publish: compiled for x86-64-v3 (AVX2, FMA; any x86-64
#   server CPU since about 2015) with `IlcInstructionSet=avx2`; COHORT_AOT_ISA overrides it (e.g. avx512,
#   or sse4.2 for older CPUs). On the portable baseline the learning kernels and the aggregation run
#   scalar: aggregation 4-10x and training ~90x slower (docs/benchmarks.md). Even at avx2 nodes train
#   faster on the JIT-compiled trimmed build where the CPU has AVX-512: use this build for servers
#   (docs/deploy.md). Needs clang and zlib (`apt-get install -y clang zlib1g-dev`) and several minutes.
#   tests/aot/run.sh publishes it and checks the server, the demo and the dashboard's feed on it.
set -euo pipefail
aot=false
if [ "${1:-}" = "--aot" ]; then aot=true; shift; fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$aot" = true ]; then out="${1:-$root/.build/publish/linux-x64-aot}"; else out="${1:-$root/.build/publish/linux-x64}"; fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"
trim="${COHORT_TRIM:-true}"
compress="${COHORT_COMPRESS:-true}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [ "$aot" = true ]; then
  command -v clang >/dev/null 2>&1 || { echo "publish.sh --aot: clang not found; install it with 'apt-get install -y clang zlib1g-dev'" >&2; exit 1; }
  dotnet publish "$root/src/Cohort.Cli/Cohort.Cli.csproj" -c Release -r linux-x64 -o "$out" -nologo -v q -clp:ErrorsOnly \
    -p:PublishAot=true -p:IlcInstructionSet="${COHORT_AOT_ISA:-avx2}" -p:DebugType=none -p:TreatWarningsAsErrors=false \
    -p:UseArtifactsOutput=true -p:ArtifactsPath="$root/.build/artifacts/publish-aot"
  rm -f "$out"/*.xml "$out"/*.pdb # API docs and symbols of the libraries, copied beside the program; nothing reads them there
  echo "published $out/cohort ($(stat -c %s "$out/cohort") bytes; keep the .so files beside it)"
  exit 0
fi
dotnet publish "$root/src/Cohort.Cli/Cohort.Cli.csproj" -c Release -r linux-x64 -o "$out" -nologo -v q -clp:ErrorsOnly \
  -p:SelfContained=true -p:PublishSingleFile=true -p:PublishTrimmed="$trim" \
  -p:JsonSerializerIsReflectionEnabledByDefault=true \
  -p:IncludeNativeLibrariesForSelfExtract=true -p:EnableCompressionInSingleFile="$compress" \
  -p:DebugType=none -p:TreatWarningsAsErrors=false \
  -p:UseArtifactsOutput=true -p:ArtifactsPath="$root/.build/artifacts/publish"
echo "published $out/cohort ($(stat -c %s "$out/cohort") bytes)"
