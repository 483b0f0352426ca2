#!/bin/sh
# The parent of one VM's QEMU process, started detached from the agent (its own session) so the
# VM outlives agent restarts. It records QEMU's exit status in exit.json the moment QEMU exits
# (the agent reads it, even after its own restart) and runs the VM's dead man's switch:
#
#   - every second it looks at the agent's heartbeat file, which the agent touches on each
#     SUCCESSFUL lease renewal only (mtime = the renewal's renewTime). Older than FENCE_SECONDS,
#     missing (the data dir was removed), or unreadable: it stops QEMU (SIGTERM, SIGKILL if
#     still there 1 s later) and says "fenced" in exit.json. This works whatever state the agent
#     is in — killed, SIGSTOPped, stuck — because nothing here depends on it, so a VM whose node
#     lost the control plane can be run elsewhere (the health controller waits for lease expiry
#     + FENCE_SECONDS) without ever running twice.
#   - it never launches QEMU on a heartbeat that is already that stale: the agent decided to
#     start the VM on the strength of a lease it may no longer hold.
#
# The fence never depends on a write. The run dir may be gone (an operator removed the data
# dir), full, or read-only (remounted after an I/O error); a redirection that fails on `:` or
# any other special built-in ends a POSIX shell, and with it the watcher, which is how a VM once
# ran on for 15 minutes without a heartbeat. So QEMU is signalled FIRST, and every file this
# script writes goes through write_file/append_log, in a subshell of its own, whose failure
# loses only the record. The watcher tells the main shell that it fenced through its exit
# status, not through a file.
#
# Ages are measured in milliseconds (GNU stat's %.3Y, date's %3N): whole seconds would let a
# VM live up to a second longer than the timeout on rounding alone.
#
# The fence timeout may change while the VM runs (a reload of the agent's config file): the agent
# rewrites FENCE_FILE (whole seconds), which is read at every look. It writes a shorter timeout
# there before it tells the control plane and a longer one only after (fencing/
# fence-timeout-change.ts), so the health controller never counts on a shorter wait than the one
# kept here. A FENCE_FILE that is missing, unreadable or not a number means the shortest
# timeout seen so far, the launch's included: when in doubt, sooner.
#
# usage: vm-supervisor.sh RUN_DIR HEARTBEAT_FILE FENCE_SECONDS [FENCE_FILE] -- qemu-system-x86_64 ARGS...
set -u
run_dir=$1 heartbeat=$2 fence=$3
if [ "$4" = -- ]; then
  fence_file=
  shift 4
else
  fence_file=$4
  shift 5
fi
fence_ms=$((fence * 1000))
floor_ms=$fence_ms
# The watcher's exit status when it stopped QEMU.
FENCED_STATUS=3
# The age of a heartbeat that cannot be read: as stale as can be.
UNKNOWN_AGE_MS=9999999999999

# write_file FILE TEXT: best effort, atomically (a reader never sees half a file).
write_file() {
  (printf '%s' "$2" >"$1.tmp" && mv -f "$1.tmp" "$1") 2>/dev/null || rm -f "$1.tmp" 2>/dev/null
}

# append_log LINE: to qemu.log beside QEMU's own output, best effort.
append_log() {
  (printf 'supervisor: %s\n' "$1" >>"$run_dir/qemu.log") 2>/dev/null
}

# Milliseconds since the heartbeat file was touched. A missing or unreadable file, or a clock
# that cannot be read, is as stale as can be: when in doubt, the VM stops.
heartbeat_age_ms() {
  mtime=$(stat -c %.3Y "$heartbeat" 2>/dev/null) || mtime=
  now=$(date +%s%3N 2>/dev/null) || now=
  case $mtime in *[!0-9.]* | '') echo "$UNKNOWN_AGE_MS" && return ;; esac
  case $mtime in [0-9]*.[0-9][0-9][0-9]) ;; *) echo "$UNKNOWN_AGE_MS" && return ;; esac
  case $now in *[!0-9]* | '') echo "$UNKNOWN_AGE_MS" && return ;; esac
  echo $((now - ${mtime%.*}${mtime#*.}))
}

# Sets $fence_ms from FENCE_FILE. Only 1-9 digits without a leading zero are taken: anything
# else (or an octal-looking 08) in $(( )) would be an arithmetic error, which ends the shell.
read_fence_ms() {
  [ -n "$fence_file" ] || return 0
  v=$(cat "$fence_file" 2>/dev/null) || v=
  case $v in
    '' | *[!0-9]* | 0* | ??????????*) fence_ms=$floor_ms ;;
    *)
      fence_ms=$((v * 1000))
      [ "$fence_ms" -lt "$floor_ms" ] && floor_ms=$fence_ms
      ;;
  esac
  return 0
}

# Sets $age and $fence_ms, and succeeds when the heartbeat is older than the fence timeout.
stale() {
  read_fence_ms
  age=$(heartbeat_age_ms)
  [ "$age" -gt "$fence_ms" ]
}

# record_exit CODE FENCED(true|false): exit.json, for the agent. The `fenced` marker is the
# agent's own fence (qemu-driver.ts fence()), which may have stopped QEMU instead of us. The
# time is to the millisecond: the agent's crash-loop back-off counts from it.
record_exit() {
  fenced=$2
  [ -e "$run_dir/fenced" ] && fenced=true
  write_file "$run_dir/exit.json" "$(printf '{"code":%d,"fenced":%s,"at":"%s"}\n' "$1" "$fenced" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)")"
}

if stale; then
  append_log "agent heartbeat is ${age} ms old (limit ${fence_ms} ms): not starting the VM"
  write_file "$run_dir/fenced" ''
  record_exit -1 true
  exit 0
fi

"$@" </dev/null >>"$run_dir/qemu.log" 2>&1 &
qemu=$!
write_file "$run_dir/child.pid" "$qemu"

# Runs in the background; exits FENCED_STATUS once it has stopped QEMU.
fence_watch() {
  while kill -0 "$qemu" 2>/dev/null; do
    sleep 1
    if stale; then
      # From here on the main shell's TERM (sent once QEMU is gone) must not cut the record short.
      trap '' TERM
      # Kill first: QEMU quits at once on SIGTERM (flushing its disks); one that does not is killed.
      kill -TERM "$qemu" 2>/dev/null
      i=0
      while [ "$i" -lt 10 ] && kill -0 "$qemu" 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
      done
      kill -KILL "$qemu" 2>/dev/null
      # Record after, each write on its own: none of them can undo the kill.
      append_log "agent heartbeat is ${age} ms old (limit ${fence_ms} ms): stopped the VM"
      write_file "$run_dir/fenced" ''
      exit "$FENCED_STATUS"
    fi
  done
  exit 0
}
fence_watch &
watcher=$!

wait "$qemu"
code=$?
# A watcher only watching ends here; one that is fencing ignores this and finishes first.
kill -TERM "$watcher" 2>/dev/null
wait "$watcher"
[ $? -eq "$FENCED_STATUS" ] && fenced=true || fenced=false
record_exit "$code" "$fenced"
