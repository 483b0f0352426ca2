/**
 * Watches every QEMU process on this machine — all the test's "hosts" share it — and records
 * whether one VM (by uid: QEMU runs with `-name shoal-vm:<uid>`) ever ran twice at the same
 * time. It reads /proc directly, not any Shoal state: it is the ground truth the fault tests
 * check the control plane against.
 */
import { readdir, readFile } from 'node:fs/promises';

const NAME = /shoal-vm:([0-9a-f-]+)/;

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

export class VmProcessWatcher {
  /** Each time a uid was seen in more than one process at once. */
  readonly duplicates: { uid: string; pids: number[]; at: string }[] = [];
  private scans = 0;
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
    for (const [uid, pids] of byUid) if (pids.length > 1) this.duplicates.push({ uid, pids, at: new Date().toISOString() });
  }
}
