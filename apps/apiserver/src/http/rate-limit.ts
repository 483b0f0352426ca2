/**
 * Per-user rate limiting: a token bucket per user (the authenticated user once authentication
 * names one, else the client address), refilled at `perSecond` up to `burst`. A request that
 * finds its bucket empty is answered as Kubernetes' API Priority and Fairness answers a
 * rejected request: 429 Status, reason TooManyRequests, a Retry-After header and
 * details.retryAfterSeconds. Health endpoints are never limited, so probes keep answering
 * while a client floods the server. Off unless `perSecond` is set.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import { ApiError } from '@shoal/api';

export interface RateLimitOptions {
  /** Tokens added per second to each user's bucket. */
  perSecond: number;
  /** Most tokens a bucket holds: the requests a user may send at once after being idle. */
  burst: number;
  /** Who sent the request; defaults to requestUser. */
  userOf?: (req: FastifyRequest) => string;
}

/** Liveness and readiness probes, and their named checks: never limited, so they answer while a client floods the server. */
export const PROBE_PATH = /^\/(healthz|readyz|livez)(\/|$|\?)/;

/** Buckets not touched for this long are full again, so they are dropped (a new one starts full). */
const IDLE_SWEEP_MS = 60_000;

const rejected = new Counter({
  name: 'shoal_apiserver_rate_limited_requests_total',
  help: 'Requests refused with 429 TooManyRequests by the per-user rate limit.',
});

/** Kubernetes' name for the unauthenticated: not one user, so such requests are told apart by address. */
const ANONYMOUS = 'system:anonymous';

/**
 * The one place that says who sent a request. The authenticated user (auth/user.ts UserInfo,
 * when authentication has put it on the request as `req.user`) wins; otherwise, and for
 * system:anonymous, the client's address is the user, so anonymous clients are limited per host.
 */
export function requestUser(req: FastifyRequest): string {
  const user = (req as FastifyRequest & { user?: { name?: unknown; username?: unknown } }).user;
  const name = user?.name ?? user?.username;
  if (typeof name === 'string' && name !== '' && name !== ANONYMOUS) return `user:${name}`;
  return `ip:${req.ip}`;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Token buckets keyed by user; `now` is injectable so the arithmetic is tested without sleeping. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweepMs = 0;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
  ) {
    if (!(perSecond > 0)) throw new Error('rate limit: perSecond must be positive');
    if (!(burst >= 1)) throw new Error('rate limit: burst must be at least 1');
  }

  /** Takes a token: 0 when granted, else the seconds until one will be there (at least 1, as Retry-After is whole seconds). */
  take(user: string, nowMs: number): number {
    this.sweep(nowMs);
    let b = this.buckets.get(user);
    if (!b) this.buckets.set(user, (b = { tokens: this.burst, updatedMs: nowMs }));
    else {
      b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.updatedMs) / 1000) * this.perSecond);
      b.updatedMs = nowMs;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweepMs < IDLE_SWEEP_MS) return;
    this.lastSweepMs = nowMs;
    const fullAfterMs = Math.max(IDLE_SWEEP_MS, (this.burst / this.perSecond) * 1000);
    for (const [user, b] of this.buckets) if (nowMs - b.updatedMs >= fullAfterMs) this.buckets.delete(user);
  }
}

export function tooManyRequests(retryAfterSeconds: number): ApiError {
  return new ApiError(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds });
}

/**
 * Registers the limit on the root instance. It runs in preParsing, after every onRequest hook
 * (authentication included), so the user is known, and before a body is read or parsed, so a
 * flood of large bodies costs the server nothing but the refusal.
 */
export function registerRateLimit(app: FastifyInstance, opts: RateLimitOptions): TokenBuckets {
  const buckets = new TokenBuckets(opts.perSecond, opts.burst);
  const userOf = opts.userOf ?? requestUser;
  app.addHook('preParsing', (req, _reply, payload, done) => {
    if (PROBE_PATH.test(req.url)) return done(null, payload);
    const wait = buckets.take(userOf(req), Date.now());
    if (wait === 0) return done(null, payload);
    rejected.inc();
    // The error handler (errors.ts) sends the Status and the Retry-After header.
    done(tooManyRequests(wait));
  });
  return buckets;
}
