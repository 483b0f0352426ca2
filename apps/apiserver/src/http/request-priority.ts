/**
 * What the apiserver serves first when more requests arrive than it can work on at once.
 *
 * The apiserver's one thread is shared by every request it has started, so past a point taking
 * more in only makes each wait longer. At most `maxInflight` requests are worked on at once (the
 * seats); the others wait, and a freed seat goes to the longest-waiting request of the highest
 * priority that has one waiting:
 *
 *  - `high`: Lease writes. A node's or a controller's lease says it is alive; one that waits
 *    behind a flood of other work expires, and a healthy node is fenced or a leader replaced.
 *  - `normal`: everything else.
 *  - `low`: Event writes. An Event tells what happened to an object; it is worth less than the
 *    state it describes, so under load it comes after it (Kubernetes' event clients drop Events
 *    under pressure for the same reason).
 *
 * This is the part of Kubernetes' API Priority and Fairness a single-threaded server needs: its
 * levels are fixed rather than configured, and a level has no seats of its own (a level with
 * nothing waiting leaves every seat to the others). A request that waits longer than
 * `queueTimeoutMs` is answered as APF answers one: 429 TooManyRequests with Retry-After.
 * Long-running requests (watches, and routes that say `longRunning`: a VM's log, an etcd
 * snapshot) and the health and metrics endpoints never take a seat: the first would hold it for
 * as long as they stream, the others must answer while the server is saturated.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram } from 'prom-client';
import { queryFlag } from './query-flag.js';
import { PROBE_PATH, tooManyRequests } from './rate-limit.js';

/** Highest first: a freed seat goes to the first level with a request waiting. */
export const PRIORITY_LEVELS = ['high', 'normal', 'low'] as const;
export type PriorityLevel = (typeof PRIORITY_LEVELS)[number];

export interface RequestPriorityOptions {
  /** Requests worked on at once; more wait for a seat. */
  maxInflight: number;
  /** How long a request may wait for a seat before it is refused with 429. */
  queueTimeoutMs: number;
}

/** Retry-After of a request refused for waiting too long: soon, the seats turn over in milliseconds. */
const RETRY_AFTER_SECONDS = 1;

/** The seats of every app registered in this process (one, but for tests), read when /metrics is. */
const allSeats = new Set<Seats>();

new Gauge({
  name: 'shoal_apiserver_inflight_requests',
  help: 'Requests holding a seat (--max-requests-inflight): being worked on.',
  collect() {
    let used = 0;
    for (const seats of allSeats) used += seats.inUse;
    this.set(used);
  },
});
const waiting = new Gauge({
  name: 'shoal_apiserver_queued_requests',
  help: 'Requests waiting for a seat, by priority (high: Lease writes, low: Event writes, normal: the rest).',
  labelNames: ['priority'],
});
const waited = new Histogram({
  name: 'shoal_apiserver_request_queue_wait_seconds',
  help: 'How long requests that found every seat taken waited for one, by priority.',
  labelNames: ['priority'],
  buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2, 10, 30],
});
const timedOut = new Counter({
  name: 'shoal_apiserver_request_queue_timeouts_total',
  help: 'Requests refused with 429 for waiting longer than --request-queue-timeout for a seat, by priority.',
  labelNames: ['priority'],
});

export interface Waiter {
  grant(): void;
  /** Seated once granted; gone once it gave up (timed out, or its client went away): a freed seat skips it. */
  state: 'waiting' | 'seated' | 'gone';
}

/** Seats and, per priority level, a first-come queue of the requests waiting for one. */
export class Seats {
  private used = 0;
  private readonly queues = new Map<PriorityLevel, Waiter[]>(PRIORITY_LEVELS.map((level) => [level, []]));

  constructor(readonly limit: number) {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new Error('request priority: the seat limit must be a whole number, at least 1');
  }

  get inUse(): number {
    return this.used;
  }

  /** Takes a seat at once (answers undefined), or queues `grant` for the next one and answers the Waiter. */
  take(level: PriorityLevel, grant: () => void): Waiter | undefined {
    // Seats are handed from request to request while anyone waits, so a free seat means nobody does.
    if (this.used < this.limit) {
      this.used++;
      return undefined;
    }
    const w: Waiter = { grant, state: 'waiting' };
    this.queues.get(level)!.push(w);
    return w;
  }

  /** A request is done with its seat: it passes straight to the first live waiter of the highest level. */
  release(): void {
    for (const q of this.queues.values())
      while (q.length) {
        const w = q.shift()!;
        if (w.state === 'gone') continue;
        w.state = 'seated';
        w.grant();
        return;
      }
    this.used--;
  }
}

/** Scraped while the server is saturated, like the probes. */
const METRICS_PATH = /^\/metrics(\/|$|\?)/;

/** Streams would hold a seat for as long as they last: watches, and routes that say so. */
function longRunning(req: FastifyRequest): boolean {
  const { verb, longRunning } = req.routeOptions.config;
  return Boolean(longRunning) || (verb === 'list' && queryFlag((req.query as { watch?: unknown } | undefined)?.watch));
}

/** The level of a request that takes a seat. */
export function priorityOf(req: FastifyRequest): PriorityLevel {
  const { resource, verb } = req.routeOptions.config;
  if (verb === 'get' || verb === 'list') return 'normal';
  if (resource === 'leases') return 'high';
  if (resource === 'events') return 'low';
  return 'normal';
}

/**
 * Registers the seats on the root instance, in preParsing: after authentication (onRequest) and
 * after the per-user rate limit, so a refused request never takes a seat; before the body is read,
 * so the bodies of waiting requests cost nothing but their socket buffers. A seat is given back
 * when the response is done or its connection closes, whichever comes first.
 */
export function registerRequestPriority(app: FastifyInstance, opts: RequestPriorityOptions): Seats {
  const seats = new Seats(opts.maxInflight);
  allSeats.add(seats);
  app.addHook('onClose', async () => void allSeats.delete(seats));
  app.addHook('preParsing', (req, reply, payload, done) => {
    if (PROBE_PATH.test(req.url) || METRICS_PATH.test(req.url) || longRunning(req)) return done(null, payload);
    const proceed = () => {
      reply.raw.once('close', () => seats.release());
      done(null, payload);
    };
    const priority = priorityOf(req);
    // Called by a later release(), never before this hook returns: `timer` and `since` are set by then.
    const w = seats.take(priority, () => {
      clearTimeout(timer);
      waiting.dec({ priority });
      waited.observe({ priority }, (performance.now() - since) / 1000);
      proceed();
    });
    if (!w) return proceed();
    // Only a request that waits pays for the bookkeeping below.
    const since = performance.now();
    waiting.inc({ priority });
    // The error handler (errors.ts) sends the Status and the Retry-After header.
    const giveUp = () => {
      if (w.state !== 'waiting') return false;
      w.state = 'gone';
      clearTimeout(timer);
      waiting.dec({ priority });
      done(tooManyRequests(RETRY_AFTER_SECONDS));
      return true;
    };
    const timer = setTimeout(() => giveUp() && timedOut.inc({ priority }), opts.queueTimeoutMs);
    // A client that went away while waiting has nothing left to serve (and no answer reaches it).
    reply.raw.once('close', giveUp);
  });
  return seats;
}
