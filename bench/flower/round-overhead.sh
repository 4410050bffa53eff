#!/usr/bin/env bash
# Round overhead of Cohort beside Flower 1.3 on this machine, interleaved pairs (Cohort, Flower, ...).
# Flower is a measuring peer, not a dependency: give the harness folder of a Flower 1.3 checkout with the
# runner scripts (in this workplace ../shared/peers/flower13/harness). Needs Debian's python3-grpcio,
# python3-protobuf and python3-numpy for Flower's side.
#   bench/flower/round-overhead.sh HARNESS_DIR [PAIRS] [--load N] [--durability power|process]
# ROUNDS=N in the environment measures N rounds on each side (default 30, the protocol of the first figures); both
# sides leave out 3 warm-up rounds.
# --load N puts both sides under the same background load: N busy processes (`cohort bench round-overhead --load N`
# starts its own for Cohort's rounds; this script starts as many around Flower's runs).
# COHORT_BIN=PATH measures that `cohort` binary instead of ./cohort (for example the Native AOT one deploy/publish.sh
# --aot makes); the bench's server and nodes are that binary too, and the JSON's "cohort_build" says which build it was.
# Prints one line per pair and the medians; writes bench/results/round-overhead-vs-flower.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
harness="$(cd "${1:?usage: round-overhead.sh HARNESS_DIR [PAIRS] [cohort bench options]}" && pwd)"
pairs="${2:-3}"
rounds="${ROUNDS:-30}"
shift $(( $# >= 2 ? 2 : 1 ))
load=0
args=("$@")
for ((j = 0; j < ${#args[@]}; j++)); do
  if [ "${args[$j]}" = "--load" ]; then load="${args[$((j + 1))]:?--load needs a number}"; fi
done
work="$(mktemp -d)"
busy=()
stop_load() { for p in "${busy[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; busy=(); }
trap 'stop_load; rm -rf "$work"' EXIT
cd "$root"
cohort="${COHORT_BIN:-./cohort}"
"$cohort" --help >/dev/null
for i in $(seq 1 "$pairs"); do
  "$cohort" bench round-overhead --rounds "$rounds" "$@" --json "$work/cohort-$i.json" >/dev/null
  cut -d' ' -f1 /proc/loadavg > "$work/flower-load-start-$i"
  for ((b = 0; b < load; b++)); do sh -c 'while :; do :; done' & busy+=($!); done
  ( . "$harness/env.sh"; export FLOWER_WORK="$work/flower-$i"; mkdir -p "$FLOWER_WORK/results" "$FLOWER_WORK/logs" "$FLOWER_WORK/home"
    cd "$harness"
    $PY runner.py --tag fit --model noop --rounds $((rounds + 3)) --fraction-evaluate 0 >/dev/null
    $PY runner.py --tag fiteval --model noop --rounds $((rounds + 3)) --fraction-evaluate 1 >/dev/null )
  stop_load
  cut -d' ' -f1 /proc/loadavg > "$work/flower-load-end-$i"
  cp "$work/flower-$i/results/fit.json" "$work/flower-fit-$i.json"
  cp "$work/flower-$i/results/fiteval.json" "$work/flower-fiteval-$i.json"
  cp "$work/flower-$i/logs/fit/server.json" "$work/flower-fit-rounds-$i.json"
  cp "$work/flower-$i/logs/fiteval/server.json" "$work/flower-fiteval-rounds-$i.json"
done
python3 - "$work" "$pairs" "${COHORT_FLOWER_JSON:-$root/bench/results/round-overhead-vs-flower.json}" "$load" "$*" "$rounds" <<'PY'
import json, statistics, sys
work, pairs, out, load, options, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
WARM_UP = 3  # rounds left out on both sides (Cohort's bench leaves out its 3 warm-up rounds)

def flower(kind, i):
    # Intervals between consecutive aggregate_fit completions, past the warm-up rounds, in ms.
    done = json.load(open(f"{work}/flower-{kind}-rounds-{i}.json"))["fit_done"]
    d = sorted((b - a) * 1000 for a, b in zip(done[WARM_UP - 1:], done[WARM_UP:]))
    p10, p90 = d[len(d) // 10], d[len(d) * 9 // 10]
    return round(d[len(d) // 2], 3), round(p90 / p10, 3), round(p10, 3), round(p90, 3)

rows = []
for i in range(1, pairs + 1):
    c = json.load(open(f"{work}/cohort-{i}.json"))
    ff, ffs, ff10, ff90 = flower("fit", i)
    fe, fes, fe10, fe90 = flower("fiteval", i)
    row = {
        "pair": i,
        "cohort_fit_interval_ms": c["round.fit.interval_ms.median"],
        "flower_fit_interval_ms": ff,
        "cohort_fit_evaluate_interval_ms": c["round.fit_evaluate.interval_ms.median"],
        "flower_fit_evaluate_interval_ms": fe,
        "cohort_fit_p90_over_p10": c["round.fit.interval_ms.p90_over_p10"],
        "flower_fit_p90_over_p10": ffs,
        "cohort_fit_evaluate_p90_over_p10": c["round.fit_evaluate.interval_ms.p90_over_p10"],
        "flower_fit_evaluate_p90_over_p10": fes,
        # The spread in milliseconds as well as in ratio: a fast median makes the same scheduling delays a larger p90/p10.
        "cohort_fit_interval_p10_p90_ms": [c["round.fit.interval_ms.p10"], c["round.fit.interval_ms.p90"]],
        "flower_fit_interval_p10_p90_ms": [ff10, ff90],
        "cohort_fit_evaluate_interval_p10_p90_ms": [c["round.fit_evaluate.interval_ms.p10"], c["round.fit_evaluate.interval_ms.p90"]],
        "flower_fit_evaluate_interval_p10_p90_ms": [fe10, fe90],
        "cohort_fit_phase_fit_ms": c.get("round.fit.phase.fit_ms.median"),
        "cohort_fit_phase_persist_ms": c.get("round.fit.phase.persist_ms.median"),
        "cohort_fit_phase_save_model_ms": c.get("round.fit.phase.save_model_ms.median"),
        "cohort_server_peak_rss_mib": c.get("server.peak_rss_mib"),
        "load_average_cohort": [c.get("load_average_start"), c.get("load_average_end")],
        "load_average_flower": [float(open(f"{work}/flower-load-{w}-{i}").read()) for w in ("start", "end")],
    }
    row["ratio_fit"] = round(row["cohort_fit_interval_ms"] / ff, 3)
    row["ratio_fit_evaluate"] = round(row["cohort_fit_evaluate_interval_ms"] / fe, 3)
    # Below 1: nine in ten of Cohort's rounds are shorter than Flower's median round.
    row["cohort_fit_p90_over_flower_median"] = round(c["round.fit.interval_ms.p90"] / ff, 3)
    row["cohort_fit_evaluate_p90_over_flower_median"] = round(c["round.fit_evaluate.interval_ms.p90"] / fe, 3)
    rows.append(row)
    print(f"pair {i}: fit {row['cohort_fit_interval_ms']:.1f} ms (p90/p10 {row['cohort_fit_p90_over_p10']:.2f}) vs Flower {ff:.1f} ms ({ffs:.2f}): {row['ratio_fit']}x; "
          f"fit+evaluate {row['cohort_fit_evaluate_interval_ms']:.1f} ({row['cohort_fit_evaluate_p90_over_p10']:.2f}) vs {fe:.1f} ms ({fes:.2f}): {row['ratio_fit_evaluate']}x; "
          f"load {row['load_average_cohort']} / {row['load_average_flower']}")
keys = ("ratio_fit", "ratio_fit_evaluate", "cohort_fit_p90_over_p10", "flower_fit_p90_over_p10", "cohort_fit_evaluate_p90_over_p10", "flower_fit_evaluate_p90_over_p10",
        "cohort_fit_p90_over_flower_median", "cohort_fit_evaluate_p90_over_flower_median")
summary = {k: statistics.median(r[k] for r in rows) for k in keys}
print(f"median ratio Cohort/Flower: fit {summary['ratio_fit']}x, fit+evaluate {summary['ratio_fit_evaluate']}x; "
      f"p90/p10 Cohort {summary['cohort_fit_p90_over_p10']} / {summary['cohort_fit_evaluate_p90_over_p10']}, "
      f"Flower {summary['flower_fit_p90_over_p10']} / {summary['flower_fit_evaluate_p90_over_p10']} (fit / fit+evaluate); "
      f"Cohort's p90 over Flower's median {summary['cohort_fit_p90_over_flower_median']} / {summary['cohort_fit_evaluate_p90_over_flower_median']}")
first = json.load(open(f"{work}/cohort-1.json"))
doc = {k: first[k] for k in first if k in ("commit", "commit_dirty", "cpu_model", "cpu_flags_simd", "cpu_cores", "machine", "runtime", "library_versions", "durability", "background_load_processes", "runtime_environment")}
doc["cohort_build"] = first.get("build", "jit")
doc["command_line"] = f"{'' if rounds == 30 else f'ROUNDS={rounds} '}{'' if doc['cohort_build'] == 'jit' else 'COHORT_BIN=AOT_BINARY '}bench/flower/round-overhead.sh HARNESS {pairs} {options}".strip()
doc["rounds_measured_each_side"] = rounds
doc["background_load_processes"] = load
doc["warm_up_rounds_left_out"] = WARM_UP
doc["pairs"] = rows
for k in keys: doc["median_" + k] = summary[k]
doc["flower"] = "Flower 1.3.0 from source, Debian python3-grpcio, 4 clients, empty fit (runner.py --model noop); intervals between aggregate_fit completions"
json.dump(doc, open(out, "w"), indent=2)
PY
