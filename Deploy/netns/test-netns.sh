#!/usr/bin/env bash
# Multi-host test on one machine (needs root): the coordinator and two workers
# each get their own network namespace and address, joined by veth pairs to a
# bridge that lives in a fourth ("switch") namespace, so nothing in the host's
# own network changes. The coordinator binds its non-loopback address, so
# CURVE is on; all keys are generated fresh for the run and the allow-list
# names exactly the two workers.
#
# Mid-run (once metrics.jsonl shows step >= CUT_STEP) worker2's link is cut
# (`ip link set eth0 down` inside its namespace): its process keeps running
# but can no longer be reached. The test passes when the run still completes
# (worker1 takes over worker2's micro-shards), the cut landed before the last
# step, and the run's `conaclip checkpoint digest` equals that of a
# single-process `conaclip train` of the same config, and metrics.jsonl
# records worker2 as dead.
#
#   bash Deploy/netns/test-netns.sh
#
# Environment: CONACLIP_BIN (default: a debug build of this checkout),
# CONACLIP_TEST_CONFIG (default configs/smoke.yaml; its steps are raised to
# STEPS and its metrics logged every step), STEPS (default 64), CUT_STEP
# (default 8), DEAD_AFTER (cluster.dead_after in seconds, default 3), SUBNET (first three octets, default 10.211.0), TIMEOUT
# (seconds for the whole distributed run, default 600). KEEP=1 keeps the
# scratch directory. Namespaces and processes are removed on every exit path.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "test-netns: run as root (it creates network namespaces)" >&2; exit 2; }
command -v ip >/dev/null || { echo "test-netns: needs iproute2 (apt-get install iproute2)" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/Deploy/lib.sh"
cd "$repo"
started=$(date +%s)
say() { echo "test-netns: $*"; }

steps=${STEPS:-64}
cut_step=${CUT_STEP:-8}
subnet=${SUBNET:-10.211.0}
timeout=${TIMEOUT:-600}
port=5555
coordinator_ip=$subnet.1
tag=$$
ns_switch=cc-sw-$tag ns_coord=cc-coord-$tag ns_w1=cc-w1-$tag ns_w2=cc-w2-$tag
namespaces=()
pids=()
ok=0
work=$(mktemp -d /tmp/conaclip-netns.XXXXXX)

cleanup() {
  local status=$? pid ns
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  remove_or_keep_work
  exit "$status"
}
on_exit_cleanup
find_conaclip

# ---- the config: the smoke config with more steps, every step logged --------
base=${CONACLIP_TEST_CONFIG:-configs/smoke.yaml}
config=$work/netns.yaml
sed -E -e "s/^steps: *[0-9]+/steps: $steps/" -e 's/^(  every_steps:) *4( |$)/\1 1\2/' "$base" >"$config"
grep -q "^steps: $steps" "$config" || { say "could not set steps in $config"; exit 1; }
# Declare a silent worker dead after DEAD_AFTER seconds (default 3; the
# cluster settings do not change the weights, so the digest comparison holds).
if ! grep -q '^cluster:' "$config"; then
  printf 'cluster:\n  heartbeat_interval: 0.5\n  dead_after: %s\n' "${DEAD_AFTER:-3}" >>"$config"
fi
(( cut_step < steps )) || { say "CUT_STEP ($cut_step) must be below STEPS ($steps)"; exit 2; }

single_process_reference "$config" "($steps steps)"

# ---- keys ----------------------------------------------------------------------
(umask 077 && mkdir -p "$work/keys")
for who in coordinator worker1 worker2; do "$bin" keys generate --out "$work/keys/$who" >/dev/null; done
grep -hv '^#' "$work/keys/worker1.public" "$work/keys/worker2.public" >"$work/keys/allow"

# ---- network: switch namespace with a bridge, one veth pair per host ----------
ip netns add "$ns_switch"; namespaces+=("$ns_switch")
ip -n "$ns_switch" link add br0 type bridge
ip -n "$ns_switch" link set br0 up
ip -n "$ns_switch" link set lo up
host_number=0
for pair in "$ns_coord:1" "$ns_w1:11" "$ns_w2:12"; do
  ns=${pair%%:*} octet=${pair##*:}
  ip netns add "$ns"; namespaces+=("$ns")
  host_number=$((host_number + 1))
  # Both ends are created in the switch namespace, then one end moves to the host.
  ip -n "$ns_switch" link add "port$host_number" type veth peer name eth0 netns "$ns"
  ip -n "$ns_switch" link set "port$host_number" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$subnet.$octet/24" dev eth0
  ip -n "$ns" link set eth0 up
done
say "namespaces: $ns_coord=$coordinator_ip $ns_w1=$subnet.11 $ns_w2=$subnet.12 (bridge in $ns_switch)"

# ---- the run --------------------------------------------------------------------
run=$work/run
ip netns exec "$ns_coord" "$bin" coordinator --config "$config" --bind "tcp://$coordinator_ip:$port" \
  --out "$run" --min-workers 1 --secret-key "$work/keys/coordinator.secret" --allow "$work/keys/allow" \
  >"$work/coordinator.log" 2>&1 &
coordinator_pid=$!; pids+=("$coordinator_pid")
for w in 1 2; do
  ns_var=ns_w$w
  ip netns exec "${!ns_var}" "$bin" worker --connect "tcp://$coordinator_ip:$port" --name "worker$w" \
    --secret-key "$work/keys/worker$w.secret" --coordinator-key "$work/keys/coordinator.public" \
    >"$work/worker$w.log" 2>&1 &
  pids+=("$!")
done
worker1_pid=${pids[1]} worker2_pid=${pids[2]}
deadline=$(( $(date +%s) + timeout ))

# The newest step in metrics.jsonl (0 before the first line).
last_step() {
  local line
  line=$(grep -o '^{"step":[0-9]*' "$run/metrics.jsonl" 2>/dev/null | tail -n 1) || true
  line=${line#\{\"step\":}
  echo "${line:-0}"
}
reached_cut() { (( $(last_step) >= cut_step )); }
coordinator_alive() { kill -0 "$coordinator_pid" 2>/dev/null; }
until reached_cut; do
  coordinator_alive || { say "FAIL: coordinator exited before step $cut_step (see $work/coordinator.log)"; tail -n 20 "$work/coordinator.log"; exit 1; }
  (( $(date +%s) < deadline )) || { say "FAIL: no step $cut_step within $timeout s"; tail -n 20 "$work/coordinator.log"; exit 1; }
  sleep 0.2
done
ip -n "$ns_w2" link set eth0 down
cut_at=$(last_step)
say "cut worker2's link at step $cut_at of $steps"
(( cut_at < steps )) || { say "FAIL: the run reached its last step before the cut; raise STEPS"; exit 1; }

while coordinator_alive; do
  (( $(date +%s) < deadline )) || { say "FAIL: run not finished within $timeout s (last step $(last_step))"; tail -n 20 "$work/coordinator.log"; exit 1; }
  sleep 0.2
done
coordinator_status=0
wait "$coordinator_pid" || coordinator_status=$?
[ "$coordinator_status" = 0 ] || { say "FAIL: coordinator exited with $coordinator_status"; tail -n 30 "$work/coordinator.log"; exit 1; }
kill -0 "$worker2_pid" 2>/dev/null && say "worker2 still running behind its cut link (as expected); stopping it"
# The coordinator must have noticed: a membership event declaring worker2 dead.
events=$(grep '^{"event":' "$run/metrics.jsonl" || true)
printf '%s\n' "$events" | sed 's/^/  event: /'
printf '%s\n' "$events" | grep -q '"event":"dead","worker":"worker2"' \
  || { say "FAIL: no 'dead' event for worker2 in metrics.jsonl"; exit 1; }
actual=$("$bin" checkpoint digest "$run")
say "digest single-process      $expected"
say "digest 2 workers, 1 cut    $actual"
[ "$actual" = "$expected" ] || { say "FAIL: digests differ"; exit 1; }
ok=1
say "PASS ($steps steps, worker2 cut at step $cut_at, $(( $(date +%s) - started )) s)"
