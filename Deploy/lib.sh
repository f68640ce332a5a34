# Shell functions shared by the Deploy test scripts (slurm/test-slurm.sh,
# netns/test-netns.sh, kubernetes/test-pods.sh). Sourced, not run:
#   repo=$(cd "$(dirname "$0")/../.." && pwd)
#   . "$repo/Deploy/lib.sh"
# The sourcing script defines `say` (its messages, with its own prefix) and,
# for on_exit_cleanup, a `cleanup` function; it sets `work` (its scratch
# directory) and `ok` (1 once the test passed).

# Wait up to $1 seconds for the command that follows to succeed.
wait_for() {
  local limit=$1; shift
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.2
  done
}

# Calls `cleanup` on every exit path; INT and TERM become exits 130 and 143,
# so that it runs for them too.
on_exit_cleanup() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# The last step of a cleanup: removes $work when the test passed and KEEP is
# unset, else says where its logs are.
remove_or_keep_work() {
  if [ "$ok" = 1 ] && [ -z "${KEEP:-}" ]; then rm -rf "$work"; else say "logs and run kept in $work"; fi
}

# Sets `bin` to $CONACLIP_BIN, else to a debug build of the checkout at $repo
# (built now; when the build fails its errors are shown and the script exits).
find_conaclip() {
  bin=${CONACLIP_BIN:-}
  if [ -z "$bin" ]; then
    swift build --package-path "$repo" --product conaclip >/dev/null 2>&1 \
      || { swift build --package-path "$repo" --product conaclip; exit 1; }
    bin="$(swift build --package-path "$repo" --show-bin-path)/conaclip"
  fi
}

# Trains the config $1 in one process into $work/single and sets `expected`
# to its `conaclip checkpoint digest`: the weights every distributed run of
# the same config must reproduce bit for bit. $2, if given, is said after the
# command (e.g. "(64 steps)").
single_process_reference() {
  local config=$1
  say "single-process reference: conaclip train --config $config${2:+ $2}"
  "$bin" train --config "$config" --out "$work/single" --progress none >"$work/single.log" 2>&1 \
    || { say "single-process train failed (see $work/single.log)"; exit 1; }
  expected=$("$bin" checkpoint digest "$work/single")
}
