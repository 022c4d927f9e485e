#!/usr/bin/env bash
# Submission and polling overhead of `--executor slurm` on whatever cluster SLURM_CONF points at
# (e.g. `scripts/slurm-local.sh start; eval "$(scripts/slurm-local.sh env)"`): a sweep of N trivial
# stages (grain sampling of one 8×8 structure), each its own Slurm job, from an empty cache.
# Prints mexp's own summary (sbatch calls/s, squeue cost per poll) and the end-to-end jobs per second.
#   benches/slurm_overhead.sh [N=100] [--max-jobs K]
set -euo pipefail
n="${1:-100}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
mexp="$root/target/release/mexp"
[[ -x "$mexp" ]] || (cd "$root" && cargo build --release --quiet)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/experiments"
values=$(seq -s, 1 "$n")
cat >"$work/experiments/overhead.toml" <<TOML
[experiment]
name = "overhead"
seed = 1

[stages.grains]
kind = "grain_sampling"
count = 1
nx = 8
ny = 8
preview = 1

[sweep]
mode = "grid"
"grains.count" = [$values]
TOML
start=$(date +%s.%N)
"$mexp" run "$work/experiments/overhead.toml" --executor slurm "$@" >"$work/out.log" 2>&1 ||
  { tail -n 20 "$work/out.log"; exit 1; }
grep -E "^slurm: [0-9]+ submissions|ran, " "$work/out.log"
end=$(date +%s.%N)
echo "$n jobs end to end in $(echo "$end - $start" | bc) s: $(echo "scale=2; $n / ($end - $start)" | bc) jobs/s"
