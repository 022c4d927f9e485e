#!/bin/bash
# Issue 13, hole 9: 4 concurrent tiny runs of vae_nd2fe14b on ONE cache and ONE results folder,
# `mexp verify` after each round; 5 rounds from an empty cache, then 20 on the complete one.
# Usage: scripts/concurrent-runs.sh [path/to/mexp]   (default: target/release/mexp)
set -u
cd "$(dirname "$0")/.."
M=${1:-target/release/mexp}; X=experiments/vae_nd2fe14b.toml
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
A="--profile tiny --threads 1 --cache $W/c --results $W/r -q"
ok=0; bad=0; failed=0
round() {
  local pids=() p
  for _ in 1 2 3 4; do "$M" run $X $A >/dev/null 2>&1 & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  if "$M" verify --cache "$W/c" >/dev/null; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
}
for _ in 1 2 3 4 5; do rm -rf "$W/c" "$W/r"; round; done
for _ in $(seq 20); do round; done
echo "rounds verified clean: $ok, corrupt: $bad, runs failed: $failed of 100"
[[ $bad == 0 && $failed == 0 ]]
