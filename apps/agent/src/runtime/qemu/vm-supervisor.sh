#!/bin/sh
# The parent of one VM's QEMU process, started detached from the agent (its own session) so the
# VM outlives agent restarts. It records QEMU's exit status in exit.json the moment QEMU exits
# (the agent reads it, even after its own restart) and runs the VM's dead man's switch:
#
#   - every second it looks at the agent's heartbeat file, which the agent touches on each
#     SUCCESSFUL lease renewal only (mtime = the renewal's renewTime). Older than FENCE_SECONDS,
#     or missing: it stops QEMU (SIGTERM, SIGKILL if still there 1 s later) and says "fenced"
#     in exit.json. This works whatever state the agent is in — killed, SIGSTOPped, stuck —
#     because nothing here depends on it, so a VM whose node lost the control plane can be run
#     elsewhere (the health controller waits for lease expiry + FENCE_SECONDS) without ever
#     running twice.
#   - it never launches QEMU on a heartbeat that is already that stale: the agent decided to
#     start the VM on the strength of a lease it may no longer hold.
#
# Ages are measured in milliseconds (GNU stat's %.3Y, date's %3N): whole seconds would let a
# VM live up to a second longer than the timeout on rounding alone.
#
# usage: vm-supervisor.sh RUN_DIR HEARTBEAT_FILE FENCE_SECONDS -- qemu-system-x86_64 ARGS...
set -u
run_dir=$1 heartbeat=$2 fence=$3
shift 4
fence_ms=$((fence * 1000))

# Milliseconds since the heartbeat file was touched; a missing file is as stale as can be.
heartbeat_age_ms() {
  mtime=$(stat -c %.3Y "$heartbeat" 2>/dev/null) || { echo 9999999999999; return; }
  now=$(date +%s%3N)
  echo $((now - ${mtime%.*}${mtime#*.}))
}

# Prints the age and succeeds when the heartbeat is older than the fence timeout.
stale() {
  age=$(heartbeat_age_ms)
  [ "$age" -gt "$fence_ms" ]
}

record_exit() {
  fenced=false
  [ -e "$run_dir/fenced" ] && fenced=true
  printf '{"code":%d,"fenced":%s,"at":"%s"}\n' "$1" "$fenced" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$run_dir/exit.json.tmp"
  mv "$run_dir/exit.json.tmp" "$run_dir/exit.json"
}

if stale; then
  echo "supervisor: agent heartbeat is ${age} ms old (limit ${fence_ms} ms): not starting the VM" >>"$run_dir/qemu.log"
  : >"$run_dir/fenced"
  record_exit -1
  exit 0
fi

"$@" </dev/null >>"$run_dir/qemu.log" 2>&1 &
qemu=$!
echo "$qemu" >"$run_dir/child.pid"

fence_watch() {
  while kill -0 "$qemu" 2>/dev/null; do
    sleep 1
    if stale; then
      echo "supervisor: agent heartbeat is ${age} ms old (limit ${fence_ms} ms): stopping the VM" >>"$run_dir/qemu.log"
      : >"$run_dir/fenced"
      # QEMU quits at once on SIGTERM (flushing its disks); one that does not is killed.
      kill -TERM "$qemu" 2>/dev/null
      i=0
      while [ "$i" -lt 10 ] && kill -0 "$qemu" 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
      done
      kill -KILL "$qemu" 2>/dev/null
      return
    fi
  done
}
fence_watch &
watcher=$!

wait "$qemu"
code=$?
kill "$watcher" 2>/dev/null
record_exit "$code"
