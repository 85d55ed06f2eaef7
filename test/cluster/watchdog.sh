#!/usr/bin/env bash
# Tears a test cluster down when its owner dies without doing so (a test run killed by SIGKILL, a crashed
# vitest): waits while the owner lives and the cluster's pids file exists, then runs `cluster-cli.ts down`.
# An orderly stop removes the pids file (or kills this script), and it exits without doing anything.
# Usage: watchdog.sh OWNER_PID RUN_DIR NODE CLUSTER_CLI
set -u
owner="$1" run_dir="$2" node="$3" cli="$4"
while kill -0 "$owner" 2>/dev/null && [[ -f "$run_dir/pids" ]]; do
  sleep 1
done
if [[ -f "$run_dir/pids" ]]; then
  exec "$node" "$cli" down --run-dir "$run_dir" >/dev/null 2>&1
fi
