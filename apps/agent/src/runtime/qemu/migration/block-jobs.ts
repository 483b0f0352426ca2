/**
 * Mirror jobs of one migration, watched through their events: a job that ends (completed with or
 * without an error, or cancelled) disappears from query-block-jobs (auto-dismiss), so how it
 * ended is only known from BLOCK_JOB_COMPLETED / BLOCK_JOB_CANCELLED, which this records as they
 * come.
 */
import type { QmpSession } from './qmp-session.js';
import type { BlockJobInfo } from './progress.js';

export interface JobEnd {
  kind: 'completed' | 'cancelled';
  error?: string;
}

export class MirrorJobs {
  readonly ids: string[] = [];
  private readonly ended = new Map<string, JobEnd>();
  private readonly off: () => void;

  constructor(
    private readonly session: QmpSession,
    private readonly onChange: () => void,
  ) {
    this.off = session.onEvent((e) => {
      const id = e.data?.device as string | undefined;
      if (!id || !this.ids.includes(id)) return;
      if (e.event === 'BLOCK_JOB_COMPLETED') this.ended.set(id, { kind: 'completed', ...(e.data?.error ? { error: String(e.data.error) } : {}) });
      else if (e.event === 'BLOCK_JOB_CANCELLED') this.ended.set(id, { kind: 'cancelled' });
      else if (e.event !== 'BLOCK_JOB_READY' && e.event !== 'BLOCK_JOB_ERROR') return;
      this.onChange();
    });
  }

  /** Starts a full mirror of `device` onto `targetNode`, every guest write also sent to the target as it happens. */
  async start(id: string, device: string, targetNode: string): Promise<void> {
    this.ids.push(id);
    // write-blocking: a guest write completes once it reached the target too, so the job
    // converges whatever the guest's write rate (background mode can fall behind forever).
    await this.session.execute('blockdev-mirror', { 'job-id': id, device, target: targetNode, sync: 'full', 'copy-mode': 'write-blocking' });
  }

  end(id: string): JobEnd | undefined {
    return this.ended.get(id);
  }

  /** The first job that ended with an error or was cancelled by someone, if any. */
  failure(): { id: string; end: JobEnd } | undefined {
    for (const id of this.ids) {
      const end = this.ended.get(id);
      if (end && (end.error || end.kind === 'cancelled')) return { id, end };
    }
    return undefined;
  }

  /** This migration's jobs still in QEMU. */
  async list(): Promise<BlockJobInfo[]> {
    const jobs = await this.session.execute<BlockJobInfo[]>('query-block-jobs');
    return jobs.filter((j) => this.ids.includes(j.device));
  }

  dispose(): void {
    this.off();
  }
}
