#!/usr/bin/env bash
# Regenerates the registry table in docs/strategies.md from `cohort strategies list --markdown`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
table="$(./cohort strategies list --markdown)"
python3 - "$table" <<'PY'
import sys
path = "docs/strategies.md"
text = open(path, encoding="utf-8").read()
begin, end = "<!-- registry:begin -->\n", "<!-- registry:end -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w", encoding="utf-8").write(head + begin + sys.argv[1].rstrip("\n") + "\n" + end + tail)
PY
