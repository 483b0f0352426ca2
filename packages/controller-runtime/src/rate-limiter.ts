/**
 * How long an item waits before it is retried: client-go's workqueue rate limiters
 * (util/workqueue/default_rate_limiters.go), which controller-runtime uses unchanged.
 *
 *   per item:  5 ms, 10 ms, 20 ms, ... capped at 1000 s — one failing key backs off alone
 *   overall:   a token bucket, 50/s with a burst of 300 — many failing keys cannot flood the API
 *   combined:  the longer of the two
 */

/** Milliseconds since some fixed point; injectable so tests need no real time. */
export type Clock = () => number;

export interface RateLimiter<K = string> {
  /** How long to wait before the item is processed again; counts one more failure for it. */
  when(item: K): number;
  /** Stops tracking the item's failures (after a success). */
  forget(item: K): void;
  /** How many times the item has failed since it was last forgotten. */
  retries(item: K): number;
}

/** base × 2^failures, capped: client-go's ItemExponentialFailureRateLimiter. */
export class ItemExponentialRateLimiter<K = string> implements RateLimiter<K> {
  private readonly failures = new Map<K, number>();

  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1_000_000,
  ) {}

  when(item: K): number {
    const n = this.failures.get(item) ?? 0;
    this.failures.set(item, n + 1);
    // 2^n overflows to Infinity long before n gets large; min() caps it either way.
    return Math.min(this.maxMs, this.baseMs * 2 ** n);
  }

  forget(item: K): void {
    this.failures.delete(item);
  }

  retries(item: K): number {
    return this.failures.get(item) ?? 0;
  }
}

/**
 * A token bucket shared by every item (golang.org/x/time/rate's Reserve): each call takes a
 * token; when none is left the caller is told how long until its token will exist. Tokens may
 * go negative, so callers queue up behind each other instead of all retrying at once.
 */
export class TokenBucketRateLimiter<K = string> implements RateLimiter<K> {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond = 50,
    private readonly burst = 300,
    private readonly clock: Clock = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = clock();
  }

  when(_item: K): number {
    const now = this.clock();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.perSecond;
  }

  forget(_item: K): void {}

  retries(_item: K): number {
    return 0;
  }
}

/** The longest wait any of its limiters asks for: client-go's MaxOfRateLimiter. */
export class MaxOfRateLimiter<K = string> implements RateLimiter<K> {
  private readonly limiters: RateLimiter<K>[];

  constructor(...limiters: RateLimiter<K>[]) {
    this.limiters = limiters;
  }

  when(item: K): number {
    // Every limiter must see the call (each counts it), so no short-circuit.
    return this.limiters.map((l) => l.when(item)).reduce((a, b) => Math.max(a, b), 0);
  }

  forget(item: K): void {
    for (const l of this.limiters) l.forget(item);
  }

  retries(item: K): number {
    return this.limiters.map((l) => l.retries(item)).reduce((a, b) => Math.max(a, b), 0);
  }
}

export interface DefaultRateLimiterOptions {
  baseMs?: number;
  maxMs?: number;
  perSecond?: number;
  burst?: number;
  clock?: Clock;
}

/** STYLE.md 4: per-item exponential backoff 5 ms → 1000 s, combined with a 50/s burst-300 bucket. */
export function defaultControllerRateLimiter<K = string>(o: DefaultRateLimiterOptions = {}): RateLimiter<K> {
  return new MaxOfRateLimiter<K>(
    new ItemExponentialRateLimiter<K>(o.baseMs ?? 5, o.maxMs ?? 1_000_000),
    new TokenBucketRateLimiter<K>(o.perSecond ?? 50, o.burst ?? 300, o.clock),
  );
}
