/**
 * Runs `reconcile(key)` for queued keys: a key is queued once however often it is added, never
 * runs twice at once (an add during its run re-queues it after), and failures retry with
 * capped exponential backoff. The shape of controller-runtime's workqueue, sized for one agent.
 */
export interface KeyedQueueOptions {
  workers: number;
  reconcile(key: string): Promise<{ requeueAfterMs?: number } | void>;
  onError(key: string, err: unknown): void;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class KeyedQueue {
  private readonly pending = new Set<string>();
  private readonly order: string[] = [];
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = 0;
  private stopped = false;

  constructor(private readonly opts: KeyedQueueOptions) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.pending.has(key)) return;
    this.pending.add(key);
    this.order.push(key);
    this.pump();
  }

  addAfter(key: string, ms: number): void {
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.add(key);
      }, ms),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
  }

  /** Keys queued or running, for readiness and metrics. */
  get depth(): number {
    return this.pending.size + this.active.size;
  }

  private pump(): void {
    while (this.running < this.opts.workers && this.order.length) {
      const key = this.order.shift()!;
      this.pending.delete(key);
      this.active.add(key);
      this.running++;
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    try {
      const result = await this.opts.reconcile(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.opts.onError(key, err);
      this.addAfter(key, Math.min((this.opts.baseDelayMs ?? 50) * 2 ** (n - 1), this.opts.maxDelayMs ?? 30_000));
    } finally {
      this.active.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
