#!/usr/bin/env bash
# Before/after figures of two revisions measured in one run:
#   bench/compare.sh OLD_REV NEW_REV [OUTPUT_JSON]
# Builds each revision's CLI (Release) from its own git worktree in a temporary folder, then runs
# `cohort bench round-overhead`, `aggregate`, `simulation` and `train` (small sizes) alternating old
# and new, REPEATS times each (default 2), so a change in the machine's load hits both sides alike.
# Writes OUTPUT_JSON (default bench/results/engine-before-after.json): per figure the median of each
# side, their ratio new/old and which way is better, every raw run, and the provenance (both commits,
# the commands, CPU, load average before and after every run). Prints a Markdown table at the end.
# Environment: REPEATS (default 2), KEEP=1 keeps the temporary folder, SUMMARIZE_FROM=FOLDER only
# writes the JSON and table from a kept folder's runs (e.g. after stopping a long run part-way).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: bench/compare.sh OLD_REV NEW_REV [OUTPUT_JSON]" >&2
  exit 2
fi
root="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
old="$(git -C "$root" rev-parse --verify "$1^{commit}")" || { echo "compare.sh: OLD_REV '$1' is not a commit" >&2; exit 2; }
new="$(git -C "$root" rev-parse --verify "$2^{commit}")" || { echo "compare.sh: NEW_REV '$2' is not a commit" >&2; exit 2; }
output="${3:-$root/bench/results/engine-before-after.json}"
repeats="${REPEATS:-2}"
if [ -n "${SUMMARIZE_FROM:-}" ]; then
  work="$SUMMARIZE_FROM"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/cohort-compare.XXXXXX")"
fi

cleanup() {
  for side in old new; do
    [ -d "$work/$side-src" ] && git -C "$root" worktree remove --force "$work/$side-src" >/dev/null 2>&1 || true
  done
  [ "${KEEP:-0}" = 1 ] && echo "compare.sh: kept $work" >&2 || rm -rf "$work"
}
[ -z "${SUMMARIZE_FROM:-}" ] && trap cleanup EXIT

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${SUMMARIZE_FROM:-}" ]; then
  started="$(cat "$work/started" 2>/dev/null || echo "$started")"
  load_start="$(cat "$work/load_start" 2>/dev/null || echo "$load_start")"
else
mkdir -p "$work/results"
: > "$work/runs.tsv"
echo "$started" > "$work/started"
echo "$load_start" > "$work/load_start"

fi

bench_args() {
  case "$1" in
    round-overhead) echo "--nodes 4 --rounds 10 --values 1000" ;;
    aggregate) echo "--nodes 10 --values 2000000 --repeats 3" ;;
    simulation) echo "--clients 1000 --sampled 50 --rounds 5 --rows 20000" ;;
    # --threads 1: the default changed from all cores to one thread along the way.
    train) echo "--no-torch --threads 1 --seconds 0.5 --repeats 3" ;;
  esac
}

if [ -z "${SUMMARIZE_FROM:-}" ]; then
for side in old new; do
  rev="$old"; [ "$side" = new ] && rev="$new"
  echo "== building $side ($(git -C "$root" log -1 --format='%h %s' "$rev" | cut -c1-80))" >&2
  git -C "$root" worktree add --detach --quiet "$work/$side-src" "$rev"
  if ! dotnet build "$work/$side-src/src/Cohort.Cli/Cohort.Cli.csproj" -c Release -o "$work/$side-bin" -nologo -v q >"$work/$side-build.log" 2>&1; then
    cat "$work/$side-build.log" >&2
    echo "compare.sh: building $side ($rev) failed" >&2
    exit 1
  fi
done

# The arguments of each benchmark for one revision (defined above). Option names that differ
# between revisions are chosen there: every option used exists, with the same meaning, on both sides
# of the engine change (round-overhead's --durability and train's --torch-onednn came later and keep
# their defaults); a default that changed between revisions is passed explicitly.
run_one() { # side bench repeat
  local side="$1" bench="$2" i="$3"
  local file="$work/results/$side-$bench-$i.json" before after status
  before="$(cut -d' ' -f1-3 /proc/loadavg)"
  # Run from the revision's own tree, so its provenance names its own commit and its scratch stays there.
  # shellcheck disable=SC2046
  if (cd "$work/$side-src" && timeout 600 dotnet "$work/$side-bin/cohort.dll" bench "$bench" $(bench_args "$bench") --json "$file") \
      >"$work/results/$side-$bench-$i.log" 2>&1; then status=ok; else status="failed($?)"; fi
  after="$(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$bench" "$i" "$status" "$before" "$after" >> "$work/runs.tsv"
  echo "   $bench $side #$i: $status (load $before -> $after)" >&2
  [ "$status" = ok ] || tail -5 "$work/results/$side-$bench-$i.log" >&2
}

for i in $(seq 1 "$repeats"); do
  for bench in round-overhead aggregate simulation train; do
    echo "== $bench, repeat $i" >&2
    # Alternate which side goes first.
    if [ $((i % 2)) = 1 ]; then run_one old "$bench" "$i"; run_one new "$bench" "$i"
    else run_one new "$bench" "$i"; run_one old "$bench" "$i"; fi
  done
done

fi

: > "$work/args.tsv"
for bench in round-overhead aggregate simulation train; do
  printf '%s\t%s\n' "$bench" "$(bench_args "$bench")" >> "$work/args.tsv"
done
mkdir -p "$(dirname "$output")"
python3 - "$work" "$output" "$old" "$new" "$started" "$load_start" "$repeats" "$*" <<'PY'
import json, os, statistics, subprocess, sys
work, output, old, new, started, load_start, repeats, argv = sys.argv[1:9]
benches = {"round-overhead": {}, "aggregate": {}, "simulation": {}, "train": {}}
runs = []
arguments = dict(line.rstrip("\n").split("\t", 1) for line in open(os.path.join(work, "args.tsv")))
for line in open(os.path.join(work, "runs.tsv")):
    side, bench, i, status, before, after = line.rstrip("\n").split("\t")
    runs.append({"side": side, "bench": bench, "repeat": int(i), "status": status,
                 "load_average_before": before, "load_average_after": after})
provenance_keys = {"commit", "commit_dirty", "command_line", "started_at", "machine", "cpu_model", "cpu_flags_simd",
                   "cpu_simd_width_bits", "cpu_cores", "load_average_start", "load_average_end", "runtime", "os",
                   "library_versions", "kernel"}
def lower_is_better(name):
    return any(t in name for t in ("_ms", ".ms", "rss", "bytes"))
def informative(name):
    # Settings echoed back and accuracies are not speed figures; they are kept in the raw runs.
    return not any(t in name for t in ("accuracy", "peak_running_clients", ".repeats", ".min", ".max", ".p10", "load_average"))
result = {"old_commit": old, "new_commit": new, "command_line": "bench/compare.sh " + argv,
          "started_at": started, "finished_at": subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"], capture_output=True, text=True).stdout.strip(),
          "load_average_start": load_start, "load_average_end": open("/proc/loadavg").read().split()[:3],
          "repeats_per_side": max((r["repeat"] for r in runs), default=0), "ratio": "new / old (median of the repeats of each side)",
          "benchmarks": {}, "runs": runs}
try:
    result["cpu_model"] = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    flags = next(l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags"))
    result["cpu_flags_simd"] = [f for f in flags if f in ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16")]
    result["cpu_cores"] = os.cpu_count()
except StopIteration:
    pass
for bench in benches:
    sides = {}
    for side in ("old", "new"):
        files = sorted(f for f in os.listdir(os.path.join(work, "results")) if f.startswith(f"{side}-{bench}-") and f.endswith(".json"))
        sides[side] = [json.load(open(os.path.join(work, "results", f))) for f in files]
    entry = {"command": f"cohort bench {bench} {arguments[bench]}", "figures": {}, "old_runs": sides["old"], "new_runs": sides["new"]}
    if sides["old"] and sides["new"]:
        result.setdefault("old_provenance", {k: v for k, v in sides["old"][0].items() if k in provenance_keys})
        result.setdefault("new_provenance", {k: v for k, v in sides["new"][0].items() if k in provenance_keys})
        # Figures are dotted names ("round.fit.ms.median"); plain names are the settings echoed back.
        names = [k for k, v in sides["new"][0].items() if "." in k and isinstance(v, (int, float)) and not isinstance(v, bool)]
        for name in names:
            o = [r[name] for r in sides["old"] if isinstance(r.get(name), (int, float))]
            n = [r[name] for r in sides["new"] if isinstance(r.get(name), (int, float))]
            if not o or not n or not informative(name):
                continue
            mo, mn = statistics.median(o), statistics.median(n)
            entry["figures"][name] = {"old": mo, "new": mn, "old_values": o, "new_values": n,
                                      "ratio": round(mn / mo, 3) if mo else None,
                                      "better": "lower" if lower_is_better(name) else "higher"}
    result["benchmarks"][bench] = entry
with open(output, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
print(f"\nold {old[:10]}  new {new[:10]}  load {load_start} -> {' '.join(result['load_average_end'])}")
print("| benchmark | figure | old | new | new/old | better |")
print("|---|---|---|---|---|---|")
for bench, entry in result["benchmarks"].items():
    for name, f in entry["figures"].items():
        print(f"| {bench} | {name} | {f['old']:g} | {f['new']:g} | {f['ratio']} | {f['better']} |")
print(f"\nwritten {output}")
PY
