/**
 * Leader election on a Lease object, the way client-go's tools/leaderelection does it: a
 * candidate reads the Lease every retry period and writes itself in as holder when the Lease
 * is missing, free or expired; the leader rewrites renewTime every retry period; every write
 * carries the resourceVersion it read, so of two candidates racing for one expired Lease the
 * apiserver lets exactly one win and answers the other 409 (it backs off and reads again).
 * The leader steps down — aborts the signal acquire() answered — once no renewal has
 * succeeded for the renew deadline, or as soon as a read shows somebody else holding the
 * Lease. The timing rules, and why they keep two leaders from running at once, are in
 * lease-record.ts.
 *
 *   candidate ──read──► missing ───────────────► create (holder = me)          ─┐ 409: lost the race,
 *       ▲               free or expired ────────► update (resourceVersion read) ─┤ wait a retry period
 *       │               held by someone else ──► wait a retry period            │
 *       └────────────────────────────────────────────────────────────────────────┘
 *   leader ──every retry period──► read, update renewTime
 *       no success for renewDeadline, or held by another ──► lost (signal aborts)
 *   release() (clean stop) ──► holder cleared, duration 1 s: a standby takes over at once
 *
 * Deleting a held Lease by hand breaks the promise for up to a retry period (a candidate
 * creates a new one while the leader has not read yet), as it does in client-go.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { ApiError, type Lease, type LeaseSpec } from '@shoal/api';
import { sleep, type ShoalClient } from '@shoal/client';
import pino, { type Logger } from 'pino';
import type { LeaderElector } from './leader-election.js';
import {
  checkTiming,
  decide,
  DEFAULT_ELECTION_TIMING,
  jittered,
  LEADER_ELECTION_NAMESPACE,
  leadershipLeftMs,
  recordKey,
  releasedSpec,
  type ElectionTiming,
} from './lease-record.js';

export interface LeaseElectorOptions {
  client: ShoalClient;
  /** The Lease's name, e.g. `shoal-controller-manager-scheduler`. */
  name: string;
  /** Default: shoal-system. */
  namespace?: string;
  /** Who we are in holderIdentity; unique per process. Default: defaultIdentity(). */
  identity?: string;
  /** Default: DEFAULT_ELECTION_TIMING (4 s / 3 s / 0.4 s); checked with checkTiming. */
  timing?: Partial<ElectionTiming>;
  log?: Logger;
}

/** `${hostname}_${random}`, as kube-controller-manager names its candidates. */
export function defaultIdentity(): string {
  return `${hostname()}_${randomUUID()}`;
}

/** The reason of the signal acquire() answered, once leadership ends. */
export class LeadershipLostError extends Error {
  override readonly name = 'LeadershipLostError';
}

type AttemptOutcome =
  /** We hold the Lease as written, from a write that started at startedMs (monotonic). */
  | { outcome: 'held'; lease: Lease; startedMs: number; takeover: boolean }
  /** Someone else holds it and it has not expired. */
  | { outcome: 'waiting'; holder: string; expiresInMs: number }
  /** While leading: the Lease names somebody else, or is gone. */
  | { outcome: 'taken'; holder: string }
  /** Could not read or write, or lost a race (conflict). */
  | { outcome: 'failed'; conflict: boolean; error: string };

interface Term {
  lost: AbortController;
  /** The Lease as our last successful write left it: its resourceVersion is the one to write on. */
  lease: Lease;
  lastRenewStartedMs: number;
  /** The last attempt was a conflict retried at once: the next one waits a retry period. */
  retriedConflict?: boolean;
  deadline?: NodeJS.Timeout;
  next?: NodeJS.Timeout;
}

const now = () => performance.now();

export class LeaseElector implements LeaderElector {
  readonly identity: string;
  readonly name: string;
  readonly namespace: string;
  readonly timing: ElectionTiming;
  private readonly client: ShoalClient;
  private readonly log: Logger;
  private readonly closed = new AbortController();
  /** The record last read and when we first saw it so (client-go's observedRawRecord/observedTime). */
  private observed = { key: '', atMs: 0, holder: '' };
  private term?: Term;

  constructor(opts: LeaseElectorOptions) {
    this.client = opts.client;
    this.name = opts.name;
    this.namespace = opts.namespace ?? LEADER_ELECTION_NAMESPACE;
    this.identity = opts.identity ?? defaultIdentity();
    this.timing = { ...DEFAULT_ELECTION_TIMING, ...opts.timing };
    checkTiming(this.timing);
    this.log = (opts.log ?? pino({ level: 'silent' })).child({ lease: `${this.namespace}/${this.name}`, identity: this.identity });
  }

  get isLeader(): boolean {
    return this.term !== undefined;
  }

  /** The holder this elector last read or wrote ('' when free or not read yet). */
  get observedHolder(): string {
    return this.observed.holder;
  }

  async acquire(signal: AbortSignal): Promise<AbortSignal> {
    if (this.closed.signal.aborted) throw new Error(`leader election for ${this.name} was released; it cannot be acquired again`);
    if (this.term) return this.term.lost.signal;
    const stop = scopedSignal([signal, this.closed.signal]);
    try {
      return await this.campaign(stop.signal);
    } finally {
      stop.dispose();
    }
  }

  private async campaign(stop: AbortSignal): Promise<AbortSignal> {
    let waitingFor = '';
    for (;;) {
      stop.throwIfAborted();
      // An attempt slower than the renew deadline could not lead anyway: give up on it.
      const scope = scopedSignal([stop], this.timing.renewDeadlineMs);
      const r = await this.attempt(scope.signal, false).finally(scope.dispose);
      stop.throwIfAborted();
      if (r.outcome === 'held') {
        const lost = this.startTerm(r);
        if (lost) return lost;
      } else if (r.outcome === 'waiting' && r.holder !== waitingFor) {
        waitingFor = r.holder;
        this.log.info({ holder: r.holder, expiresInMs: Math.round(r.expiresInMs) }, 'another candidate leads; standing by');
      } else if (r.outcome === 'failed') {
        this.log.debug({ err: r.error, conflict: r.conflict }, 'could not acquire the leader lease; retrying');
      }
      await sleep(jittered(this.timing.retryPeriodMs, Math.random()), stop);
    }
  }

  async release(): Promise<void> {
    if (this.closed.signal.aborted) return;
    this.closed.abort(new Error('released'));
    const term = this.term;
    if (term) this.endTerm(term, 'released');
    const scope = scopedSignal([], this.timing.renewDeadlineMs);
    const signal = scope.signal;
    let lease: Lease | undefined = term?.lease;
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        lease ??= await this.read(signal);
        if (!lease?.spec || lease.spec.holderIdentity !== this.identity) return;
        try {
          await this.client.update<Lease>('lease', { ...lease, spec: releasedSpec(lease.spec, new Date()) }, { namespace: this.namespace, signal });
          this.log.info('released the leader lease');
          return;
        } catch (err) {
          if (!isConflict(err)) throw err;
          lease = undefined; // written meanwhile (a renewal that landed late?): read again
        }
      }
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'could not release the leader lease; a standby takes over when it expires');
    } finally {
      scope.dispose();
    }
  }

  /** Becomes leader on a successful write, unless that write took so long its deadline has passed already. */
  private startTerm(r: Extract<AttemptOutcome, { outcome: 'held' }>): AbortSignal | undefined {
    if (leadershipLeftMs(r.startedMs, now(), this.timing.renewDeadlineMs) <= 0) {
      this.log.warn('acquired the leader lease too late to lead; trying again');
      return undefined;
    }
    const term: Term = { lost: new AbortController(), lease: r.lease, lastRenewStartedMs: r.startedMs };
    this.term = term;
    this.armDeadline(term);
    this.scheduleRenewal(term, this.timing.retryPeriodMs);
    this.log.info({ takeover: r.takeover, leaseTransitions: r.lease.spec?.leaseTransitions ?? 0 }, 'acquired leadership');
    return term.lost.signal;
  }

  private armDeadline(term: Term): void {
    clearTimeout(term.deadline);
    const left = leadershipLeftMs(term.lastRenewStartedMs, now(), this.timing.renewDeadlineMs);
    term.deadline = setTimeout(
      () => this.lose(term, `no renewal succeeded within the renew deadline (${this.timing.renewDeadlineMs / 1000} s)`),
      Math.max(0, left),
    );
  }

  private scheduleRenewal(term: Term, afterMs: number): void {
    clearTimeout(term.next);
    term.next = setTimeout(() => void this.renew(term), afterMs);
  }

  private async renew(term: Term): Promise<void> {
    if (this.term !== term) return;
    const left = leadershipLeftMs(term.lastRenewStartedMs, now(), this.timing.renewDeadlineMs);
    // The request dies with the term: a renewal cannot outlive the deadline it is racing.
    const scope = scopedSignal([term.lost.signal], Math.max(1, left));
    const r = await this.attempt(scope.signal, true).finally(scope.dispose);
    if (this.term !== term) return;
    switch (r.outcome) {
      case 'held':
        term.retriedConflict = false;
        term.lease = r.lease;
        term.lastRenewStartedMs = Math.max(term.lastRenewStartedMs, r.startedMs);
        this.armDeadline(term);
        this.scheduleRenewal(term, this.timing.retryPeriodMs);
        return;
      case 'taken':
        this.lose(term, r.holder ? `the lease is held by ${r.holder}` : 'the lease was deleted');
        return;
      case 'failed':
        this.log.warn(
          { err: r.error, leftMs: Math.round(leadershipLeftMs(term.lastRenewStartedMs, now(), this.timing.renewDeadlineMs)) },
          'failed to renew the leader lease',
        );
        // A conflict means somebody else wrote the Lease: read it again at once (once) to find out who.
        term.retriedConflict = r.conflict && !term.retriedConflict;
        this.scheduleRenewal(term, term.retriedConflict ? 0 : this.timing.retryPeriodMs);
        return;
      case 'waiting':
        // attempt() answers 'taken' rather than 'waiting' while leading.
        this.lose(term, `the lease is held by ${r.holder}`);
    }
  }

  private lose(term: Term, why: string): void {
    if (this.term !== term) return;
    this.log.warn({ why }, 'lost leadership');
    this.endTerm(term, why);
  }

  private endTerm(term: Term, why: string): void {
    this.term = undefined;
    clearTimeout(term.deadline);
    clearTimeout(term.next);
    term.lost.abort(new LeadershipLostError(`leadership of ${this.namespace}/${this.name} lost: ${why}`));
  }

  /** One read and, if the decision says so, one write (client-go's tryAcquireOrRenew). */
  private async attempt(signal: AbortSignal, leading: boolean): Promise<AttemptOutcome> {
    let current: Lease | undefined;
    try {
      current = await this.read(signal);
    } catch (err) {
      return { outcome: 'failed', conflict: false, error: errorMessage(err) };
    }
    this.observe(current?.spec);
    // A leader that finds the Lease gone or in other hands has been replaced: it never writes over that.
    if (leading && current?.spec?.holderIdentity !== this.identity) return { outcome: 'taken', holder: current?.spec?.holderIdentity ?? '' };
    const decision = decide({
      current: current ? (current.spec ?? {}) : undefined,
      identity: this.identity,
      leaseDurationSeconds: this.timing.leaseDurationMs / 1000,
      observedAtMs: this.observed.atMs,
      nowMs: now(),
      now: new Date(),
    });
    if (decision.kind === 'wait') return { outcome: 'waiting', holder: decision.holder, expiresInMs: decision.expiresInMs };
    const startedMs = now();
    try {
      const lease =
        decision.kind === 'create'
          ? await this.client.create<Lease>(
              'lease',
              { metadata: { name: this.name, namespace: this.namespace }, spec: decision.spec },
              { namespace: this.namespace, signal },
            )
          : await this.client.update<Lease>('lease', { ...current!, spec: decision.spec }, { namespace: this.namespace, signal });
      this.observe(lease.spec);
      return { outcome: 'held', lease, startedMs, takeover: decision.kind === 'update' && decision.takeover };
    } catch (err) {
      // 409 on create (AlreadyExists) or update (Conflict): another candidate wrote first.
      return { outcome: 'failed', conflict: isConflict(err), error: errorMessage(err) };
    }
  }

  private async read(signal: AbortSignal): Promise<Lease | undefined> {
    try {
      return await this.client.get<Lease>('lease', this.name, { namespace: this.namespace, signal });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  private observe(spec: LeaseSpec | undefined): void {
    const key = recordKey(spec);
    if (key !== this.observed.key) this.observed = { key, atMs: now(), holder: spec?.holderIdentity ?? '' };
  }
}

/**
 * A signal that aborts when any parent does or after timeoutMs, and lets go of its parents and
 * timer on dispose(). (AbortSignal.any on Node 20 keeps every child of a long-lived parent
 * until collected; a leader makes one every retry period for as long as it runs.)
 */
function scopedSignal(parents: AbortSignal[], timeoutMs?: number): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  const dispose = () => {
    for (const c of cleanups.splice(0)) c();
  };
  const abort = (reason: unknown) => {
    dispose();
    controller.abort(reason);
  };
  for (const parent of parents) {
    if (parent.aborted) {
      abort(parent.reason);
      return { signal: controller.signal, dispose };
    }
    const onAbort = () => abort(parent.reason);
    parent.addEventListener('abort', onAbort, { once: true });
    cleanups.push(() => parent.removeEventListener('abort', onAbort));
  }
  if (timeoutMs !== undefined) {
    const timer = setTimeout(() => abort(new DOMException(`no answer within ${Math.round(timeoutMs)} ms`, 'TimeoutError')), timeoutMs);
    cleanups.push(() => clearTimeout(timer));
  }
  return { signal: controller.signal, dispose };
}

function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.code === 409;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.name === 'AbortError' || err.name === 'TimeoutError' ? `timed out or aborted (${err.message})` : err.message;
  return String(err);
}
