/**
 * The controller workqueue: client-go's util/workqueue (queue.go, delaying_queue.go,
 * rate_limiting_queue.go) in one class.
 *
 *   add(k) ──► dirty? ──yes──► nothing (already waiting: dedupe)
 *                │no
 *                ▼
 *           processing? ──yes──► mark dirty only; done(k) puts it back (never twice at once)
 *                │no
 *                ▼
 *              queue ──get()──► processing ──done(k)──► dirty again? re-queue
 *
 * addAfter(k, ms) parks a key until its time (keeping the earliest time when parked twice);
 * addRateLimited(k) parks it for as long as the rate limiter says and counts a retry;
 * forget(k) tells the rate limiter the key succeeded, so its next failure starts at 5 ms again.
 *
 * Order: first in, first out — or, with `priorityOf`, higher priority first and first in, first
 * out among equals (kube-scheduler's activeQ; priority-fifo.ts). A key's priority is read when it
 * joins the queue, so a key already waiting keeps its place when added again. Keys that arrive
 * while workers wait are handed out on the next microtask, not one by one as they come, so a
 * batch added in one go (every waiting VM on a Node change) reaches the workers in priority
 * order instead of in the order the batch was listed.
 */
import { PriorityFifo } from './priority-fifo.js';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.js';

/** What a queue reports; see metrics.ts for the Prometheus side. */
export interface QueueMetrics {
  /** Keys waiting to be processed (parked ones not included). */
  depth(n: number): void;
  added(): void;
  retried(): void;
  /** Seconds a key waited in the queue before a worker took it. */
  waited(seconds: number): void;
}

export interface WorkQueueOptions<K> {
  rateLimiter?: RateLimiter<K>;
  metrics?: QueueMetrics;
  /** A key's priority, read as it joins the queue: higher is handed out first. Default: all equal (FIFO). */
  priorityOf?: (key: K) => number;
}

interface Parked {
  at: number;
  timer: NodeJS.Timeout;
}

export class WorkQueue<K = string> {
  /** Keys ready for a worker, in the order they are handed out. */
  private readonly items = new PriorityFifo<K>();
  /** Keys that need processing: queued, or re-added while being processed. */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly addedAt = new Map<K, number>();
  private readonly parked = new Map<K, Parked>();
  private readonly getters: ((key: K | undefined) => void)[] = [];
  private readonly rateLimiter: RateLimiter<K>;
  private readonly metrics?: QueueMetrics;
  private readonly priorityOf?: (key: K) => number;
  private handoffScheduled = false;
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions<K> = {}) {
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter<K>();
    this.metrics = opts.metrics;
    this.priorityOf = opts.priorityOf;
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics?.added();
    this.dirty.add(key);
    this.addedAt.set(key, performance.now());
    if (this.processing.has(key)) return;
    this.enqueue(key);
  }

  /** Adds the key once `ms` have passed; a key parked twice keeps the earlier time. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const at = performance.now() + ms;
    const existing = this.parked.get(key);
    if (existing) {
      if (existing.at <= at) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.parked.delete(key);
      this.add(key);
    }, ms);
    this.parked.set(key, { at, timer });
  }

  /** Adds the key after its backoff (per key) and the overall bucket allow it, and counts a retry. */
  addRateLimited(key: K): void {
    if (this.shuttingDown) return;
    this.metrics?.retried();
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** The key succeeded: its next failure backs off from the start again. */
  forget(key: K): void {
    this.rateLimiter.forget(key);
  }

  /** Failures counted for the key since it was last forgotten. */
  retries(key: K): number {
    return this.rateLimiter.retries(key);
  }

  /**
   * The next key to process, marked as processing until done(key); waits while the queue is
   * empty. Resolves undefined once the queue shuts down.
   */
  get(): Promise<K | undefined> {
    if (this.items.length > 0) return Promise.resolve(this.take());
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** The worker finished with the key; if it was added meanwhile, it is queued again now. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.enqueue(key);
  }

  /** Keys waiting for a worker. */
  get length(): number {
    return this.items.length;
  }

  /** Keys parked by addAfter or addRateLimited. */
  get parkedCount(): number {
    return this.parked.size;
  }

  isProcessing(key: K): boolean {
    return this.processing.has(key);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops handing out keys: waiting get()s resolve undefined, parked keys are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const p of this.parked.values()) clearTimeout(p.timer);
    this.parked.clear();
    for (const resolve of this.getters.splice(0)) resolve(undefined);
  }

  private enqueue(key: K): void {
    this.items.push(key, this.priorityOf?.(key) ?? 0);
    this.metrics?.depth(this.length);
    if (this.getters.length && !this.handoffScheduled) {
      this.handoffScheduled = true;
      queueMicrotask(() => this.handOff());
    }
  }

  /** Gives waiting workers the best keys queued by now (see the header: why not at once). */
  private handOff(): void {
    this.handoffScheduled = false;
    while (this.getters.length && this.items.length) this.getters.shift()!(this.take());
  }

  private take(): K {
    const key = this.items.shift()!;
    this.metrics?.depth(this.length);
    return this.claim(key);
  }

  private claim(key: K): K {
    this.dirty.delete(key);
    this.processing.add(key);
    const since = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (since !== undefined) this.metrics?.waited((performance.now() - since) / 1000);
    return key;
  }
}
