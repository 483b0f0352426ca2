/**
 * Watches every QEMU process on this machine — all the test's "hosts" share it — and records
 * whether one VM (by uid: QEMU runs with `-name shoal-vm:<uid>`) ever ran twice at the same
 * time. It reads /proc directly, not any Shoal state: it is the ground truth the fault tests
 * check the control plane against.
 *
 * A live migration has two QEMUs for one VM by design — the source, and the target paused
 * until the source has stopped — so in `unpaused` mode two processes are allowed and what
 * counts is how many of them run the guest: each one's own answer to QMP query-status, asked
 * on the observer monitor every agent-started QEMU has (never the agent's own socket).
 */
import { readdir, readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';

const NAME = /shoal-vm:([0-9a-f-]+)/;
const OBSERVER_SOCKET = /^unix:(.*qmp-observer\.sock),/;

/** uid → pids of the QEMU processes running it now. */
export async function runningVmProcesses(): Promise<Map<string, number[]>> {
  const byUid = new Map<string, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.split('\0', 1)[0]!.includes('qemu-system')) continue;
    const m = NAME.exec(cmdline.replaceAll('\0', ' '));
    if (!m) continue;
    // A zombie (exited, not yet reaped) has an empty cmdline, so it never gets here.
    const pids = byUid.get(m[1]!) ?? [];
    pids.push(Number(entry));
    byUid.set(m[1]!, pids);
  }
  return byUid;
}

/** What a QEMU says of its guest: running, or one of QEMU's paused states (inmigrate, postmigrate, paused, ...). */
export async function qemuRunState(pid: number, timeoutMs = 1_000): Promise<{ running: boolean; status: string } | undefined> {
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  const socket = argv.map((a) => OBSERVER_SOCKET.exec(a)?.[1]).find(Boolean);
  if (!socket) return undefined;
  const answer = await qmpQueryStatus(socket, timeoutMs).catch(() => undefined);
  return answer && { running: answer.running, status: answer.status };
}

function qmpQueryStatus(socket: string, timeoutMs: number): Promise<{ running: boolean; status: string }> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    const timer = setTimeout(() => conn.destroy(new Error(`QMP at ${socket}: no answer within ${timeoutMs} ms`)), timeoutMs);
    let buffer = '';
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    conn.on('data', (chunk) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const msg = JSON.parse(buffer.slice(0, nl)) as { QMP?: unknown; return?: { running?: boolean; status?: string } };
        buffer = buffer.slice(nl + 1);
        if (msg.QMP) conn.write('{"execute":"qmp_capabilities"}\n{"execute":"query-status"}\n');
        else if (msg.return && 'running' in msg.return) {
          clearTimeout(timer);
          conn.end();
          resolve({ running: msg.return.running!, status: msg.return.status! });
        }
      }
    });
  });
}

export type WatchMode = 'one-process' | 'unpaused';

export class VmProcessWatcher {
  /** Each time a uid was seen in more than one process at once (`unpaused`: more than one running its guest). */
  readonly duplicates: { uid: string; pids: number[]; at: string; states?: string[] }[] = [];
  /**
   * `unpaused` mode: samples that found a VM with two or more QEMUs, one running its guest and
   * the others paused (a live migration's source and target): proof the watcher looked.
   */
  overlapsChecked = 0;
  private scans = 0;

  /**
   * `one-process` (the default): a VM may never have two QEMUs at once. `unpaused`: it may (a
   * live migration's target waits beside its source), but never two running its guest.
   */
  constructor(private readonly mode: WatchMode = 'one-process') {}
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  /** Scans every `intervalMs` until stop(). */
  start(intervalMs = 100): this {
    const tick = () => {
      this.running = this.scan().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
    return this;
  }

  async stop(): Promise<{ scans: number; duplicates: VmProcessWatcher['duplicates'] }> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    return { scans: this.scans, duplicates: this.duplicates };
  }

  private async scan(): Promise<void> {
    const byUid = await runningVmProcesses();
    this.scans++;
    for (const [uid, pids] of byUid) {
      if (pids.length < 2) continue;
      if (this.mode === 'one-process') {
        this.duplicates.push({ uid, pids, at: new Date().toISOString() });
        continue;
      }
      // Asked together, so the answers describe one moment as nearly as they can.
      const states = await Promise.all(pids.map((pid) => qemuRunState(pid)));
      const running = pids.filter((_, i) => states[i]?.running);
      if (running.length > 1) this.duplicates.push({ uid, pids: running, at: new Date().toISOString(), states: states.map((s) => s?.status ?? '?') });
      if (states.every(Boolean) && running.length === 1) this.overlapsChecked++;
    }
  }
}
