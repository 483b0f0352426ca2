/**
 * Counts, from one watch of every VM, when each of the benchmark's VMs was first seen bound
 * (spec.nodeName set) and first seen Running. Watching instead of polling lists keeps the
 * observer cheap and the timestamps exact to the event's arrival. Should the watch end with an
 * error (410 Expired after a compaction, say), it relists page by page and watches again.
 */
import type { VirtualMachine } from '@shoal/api';
import { performance } from 'node:perf_hooks';
import type { ShoalClient } from '@shoal/client';

interface Seen {
  boundAt?: number;
  runningAt?: number;
}

export class PlacementWatch {
  private readonly seen = new Map<string, Seen>();
  private readonly abort = new AbortController();
  bound = 0;
  running = 0;
  events = 0;
  relists = 0;
  /** performance.now() of each first bind and first Running, in the order seen. */
  readonly boundTimes: number[] = [];
  readonly runningTimes: number[] = [];
  /** Per VM, from its bind to its Running as this watch saw them. */
  readonly bindToRunningMs: number[] = [];
  /** performance.now() of the last first-bind or first-Running seen. */
  lastChangeAt = performance.now();
  lastError?: string;
  private loop?: Promise<void>;

  constructor(
    private readonly client: ShoalClient,
    keys: Iterable<string>,
  ) {
    for (const k of keys) this.seen.set(k, {});
  }

  get expected(): number {
    return this.seen.size;
  }

  /** Starts from a list's resourceVersion; `items` is that list (so VMs already bound count). */
  start(items: VirtualMachine[], resourceVersion: string): void {
    for (const vm of items) this.observe(vm);
    this.loop = this.run(resourceVersion);
  }

  private async run(resourceVersion: string): Promise<void> {
    let rv = resourceVersion;
    while (!this.abort.signal.aborted) {
      try {
        for await (const ev of this.client.watch<VirtualMachine>(
          'vm',
          { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 600 },
          this.abort.signal,
        )) {
          this.events++;
          if (ev.type === 'ADDED' || ev.type === 'MODIFIED') this.observe(ev.object);
          rv = ev.object?.metadata?.resourceVersion ?? rv;
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.lastError = (err as Error).message;
        this.relists++;
        try {
          const list = await this.client.listAll<VirtualMachine>('vm', { pageSize: 500, signal: this.abort.signal });
          for (const vm of list.items) this.observe(vm);
          rv = list.metadata.resourceVersion!;
        } catch (listErr) {
          if (this.abort.signal.aborted) return;
          this.lastError = (listErr as Error).message;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
  }

  private observe(vm: VirtualMachine): void {
    const s = this.seen.get(`${vm.metadata.namespace}/${vm.metadata.name}`);
    if (!s) return;
    const now = performance.now();
    let changed = false;
    if (s.boundAt === undefined && vm.spec?.nodeName) {
      s.boundAt = now;
      this.bound++;
      this.boundTimes.push(now);
      changed = true;
    }
    if (s.runningAt === undefined && vm.status?.phase === 'Running') {
      s.runningAt = now;
      this.running++;
      this.runningTimes.push(now);
      if (s.boundAt !== undefined) this.bindToRunningMs.push(now - s.boundAt);
      changed = true;
    }
    if (changed) this.lastChangeAt = now;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop?.catch(() => undefined);
  }
}
