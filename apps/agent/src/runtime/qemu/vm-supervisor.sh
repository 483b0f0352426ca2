#!/bin/sh
# The parent of one VM's QEMU process, started detached from the agent so the VM outlives
# agent restarts. It records QEMU's exit status in exit.json the moment QEMU exits (the agent
# reads it, even after its own restart) and runs the VM's dead man's switch: when the agent's
# heartbeat file has not been touched for FENCE_SECONDS (0 = off), it stops QEMU, so a VM whose
# node lost the control plane can be run elsewhere without ever running twice.
#
# usage: vm-supervisor.sh RUN_DIR HEARTBEAT_FILE FENCE_SECONDS -- qemu-system-x86_64 ARGS...
set -u
run_dir=$1 heartbeat=$2 fence=$3
shift 4

"$@" </dev/null >>"$run_dir/qemu.log" 2>&1 &
qemu=$!
echo "$qemu" >"$run_dir/child.pid"

fence_watch() {
  while kill -0 "$qemu" 2>/dev/null; do
    sleep 1
    [ -e "$heartbeat" ] || continue
    age=$(( $(date +%s) - $(stat -c %Y "$heartbeat") ))
    if [ "$age" -gt "$fence" ]; then
      echo "supervisor: agent heartbeat is ${age}s old (limit ${fence}s): stopping the VM" >>"$run_dir/qemu.log"
      : >"$run_dir/fenced"
      kill -TERM "$qemu" 2>/dev/null
      return
    fi
  done
}
watcher=
if [ "$fence" -gt 0 ]; then
  fence_watch &
  watcher=$!
fi

wait "$qemu"
code=$?
[ -n "$watcher" ] && kill "$watcher" 2>/dev/null
fenced=false
[ -e "$run_dir/fenced" ] && fenced=true
printf '{"code":%d,"fenced":%s,"at":"%s"}\n' "$code" "$fenced" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$run_dir/exit.json.tmp"
mv "$run_dir/exit.json.tmp" "$run_dir/exit.json"
