#!/bin/sh
# The parent of one VM's QEMU process, started detached from the agent so the VM outlives
# agent restarts. It records QEMU's exit status in exit.json (the agent reads it, even after
# its own restart) and is the VM's dead man's switch: when the agent's heartbeat file has not
# been touched for SHOAL_FENCE_SECONDS (0 = off), it stops QEMU so a VM whose node lost the
# control plane can be run elsewhere without ever running twice.
#
# usage: vm-supervisor.sh RUN_DIR HEARTBEAT_FILE FENCE_SECONDS -- qemu-system-x86_64 ARGS...
set -u
run_dir=$1 heartbeat=$2 fence=$3
shift 4

"$@" </dev/null >>"$run_dir/qemu.log" 2>&1 &
qemu=$!
echo "$qemu" >"$run_dir/child.pid"

fenced=0
while kill -0 "$qemu" 2>/dev/null; do
  if [ "$fence" -gt 0 ] && [ -e "$heartbeat" ]; then
    age=$(( $(date +%s) - $(stat -c %Y "$heartbeat") ))
    if [ "$age" -gt "$fence" ] && [ "$fenced" = 0 ]; then
      fenced=1
      echo "supervisor: agent heartbeat is ${age}s old (limit ${fence}s): stopping the VM" >>"$run_dir/qemu.log"
      kill -TERM "$qemu" 2>/dev/null
    fi
  fi
  sleep 0.2
done
wait "$qemu"
code=$?
printf '{"code":%d,"fenced":%s,"at":"%s"}\n' "$code" "$([ $fenced = 1 ] && echo true || echo false)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$run_dir/exit.json.tmp"
mv "$run_dir/exit.json.tmp" "$run_dir/exit.json"
