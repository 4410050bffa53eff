#!/usr/bin/env bash
# Round overhead of Cohort beside Flower 1.3 on this machine, interleaved pairs (Cohort, Flower, ...).
# Flower is a measuring peer, not a dependency: give the harness folder of a Flower 1.3 checkout with the
# runner scripts (in this workplace ../shared/peers/flower13/harness). Needs Debian's python3-grpcio,
# python3-protobuf and python3-numpy for Flower's side.
#   bench/flower/round-overhead.sh HARNESS_DIR [PAIRS] [--load N] [--durability power|process]
# Prints one line per pair and the medians; writes bench/results/round-overhead-vs-flower.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
harness="$(cd "${1:?usage: round-overhead.sh HARNESS_DIR [PAIRS] [cohort bench options]}" && pwd)"
pairs="${2:-3}"
shift $(( $# >= 2 ? 2 : 1 ))
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"
./cohort --help >/dev/null
for i in $(seq 1 "$pairs"); do
  ./cohort bench round-overhead --rounds 30 "$@" --json "$work/cohort-$i.json" >/dev/null
  ( . "$harness/env.sh"; export FLOWER_WORK="$work/flower-$i"; mkdir -p "$FLOWER_WORK/results" "$FLOWER_WORK/logs" "$FLOWER_WORK/home"
    cd "$harness"
    $PY runner.py --tag fit --model noop --rounds 33 --fraction-evaluate 0 >/dev/null
    $PY runner.py --tag fiteval --model noop --rounds 33 --fraction-evaluate 1 >/dev/null )
  cp "$work/flower-$i/results/fit.json" "$work/flower-fit-$i.json"
  cp "$work/flower-$i/results/fiteval.json" "$work/flower-fiteval-$i.json"
done
python3 - "$work" "$pairs" "${COHORT_FLOWER_JSON:-$root/bench/results/round-overhead-vs-flower.json}" <<'PY'
import json, os, statistics, sys, subprocess
work, pairs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = []
for i in range(1, pairs + 1):
    c = json.load(open(f"{work}/cohort-{i}.json"))
    ff = json.load(open(f"{work}/flower-fit-{i}.json"))
    fe = json.load(open(f"{work}/flower-fiteval-{i}.json"))
    row = {
        "pair": i,
        "cohort_fit_interval_ms": c["round.fit.interval_ms.median"],
        "flower_fit_interval_ms": round(ff["round_s_median"] * 1000, 3),
        "cohort_fit_evaluate_interval_ms": c["round.fit_evaluate.interval_ms.median"],
        "flower_fit_evaluate_interval_ms": round(fe["round_s_median"] * 1000, 3),
        "cohort_server_peak_rss_mib": c.get("server.peak_rss_mib"),
        "load_average": [c.get("load_average_start"), c.get("load_average_end")],
    }
    row["ratio_fit"] = round(row["cohort_fit_interval_ms"] / row["flower_fit_interval_ms"], 3)
    row["ratio_fit_evaluate"] = round(row["cohort_fit_evaluate_interval_ms"] / row["flower_fit_evaluate_interval_ms"], 3)
    rows.append(row)
    print(f"pair {i}: fit {row['cohort_fit_interval_ms']:.1f} ms vs Flower {row['flower_fit_interval_ms']:.1f} ms ({row['ratio_fit']}x); "
          f"fit+evaluate {row['cohort_fit_evaluate_interval_ms']:.1f} vs {row['flower_fit_evaluate_interval_ms']:.1f} ms ({row['ratio_fit_evaluate']}x); load {row['load_average']}")
summary = {k: statistics.median(r[k] for r in rows) for k in ("ratio_fit", "ratio_fit_evaluate")}
print(f"median ratio Cohort/Flower: fit {summary['ratio_fit']}x, fit+evaluate {summary['ratio_fit_evaluate']}x")
first = json.load(open(f"{work}/cohort-1.json"))
doc = {k: first[k] for k in first if k in ("commit", "commit_dirty", "cpu_model", "cpu_flags_simd", "cpu_cores", "machine", "runtime", "library_versions", "durability", "background_load_processes")}
doc["command_line"] = " ".join(["bench/flower/round-overhead.sh"] + sys.argv[1:2])
doc["pairs"] = rows
doc["median_ratio_fit"] = summary["ratio_fit"]
doc["median_ratio_fit_evaluate"] = summary["ratio_fit_evaluate"]
doc["flower"] = "Flower 1.3.0 from source, Debian python3-grpcio, 4 clients, empty fit (runner.py --model noop)"
json.dump(doc, open(out, "w"), indent=2)
PY
