/**
 * The timing decisions of leader election on a Lease, as pure functions of what a candidate
 * read and what its clocks say (client-go's tools/leaderelection/leaderelection.go,
 * `tryAcquireOrRenew` and `renew`). lease-elector.ts does the I/O around them.
 *
 * Why two leaders never run at once, without trusting clocks to agree across machines:
 *
 *   leader      ──write renewTime (started at s)──────────── steps down at s + renewDeadline
 *   candidate            sees that record change at o ≥ s ── may take over at o + leaseDuration
 *
 * A leader measures its renew deadline from the *start* of its last successful write, by its
 * own monotonic clock; a candidate measures the lease duration from the moment *it* saw the
 * record change, by its own monotonic clock (client-go's `observedTime`). The candidate's
 * moment is never earlier than the write, so leaseDuration − renewDeadline is the margin left
 * for the old leader's running reconciles to finish and for timers that fire late. The
 * record's own renewTime + leaseDurationSeconds (the other machine's wall clock) must have
 * passed as well: with both rules a skewed clock can only delay a takeover, never hasten it.
 * The price is client-go's too: a fresh candidate waits a whole lease duration before it
 * takes over a lease whose holder it has never seen renew.
 *
 * Where this differs from client-go: client-go starts a renew deadline at the beginning of
 * each renew cycle, a retry period after the last success, so its leader may run for
 * retryPeriod + renewDeadline past its last renewal; with the e2e's 1 s / 3 s / 4 s that is
 * the whole lease. Counting from the last success keeps the margin the flags promise.
 */
import { SYSTEM_NAMESPACE, type Lease, type LeaseSpec } from '@shoal/api';

/** Leases for controller leader election live in the built-in system namespace. */
export const LEADER_ELECTION_NAMESPACE = SYSTEM_NAMESPACE;

export interface ElectionTiming {
  /** How long a candidate waits, after it last saw the holder renew, before it takes over. */
  leaseDurationMs: number;
  /** How long a leader keeps leading without a successful renewal. */
  renewDeadlineMs: number;
  /** How often a leader renews and a candidate tries to acquire. */
  retryPeriodMs: number;
}

/**
 * Sized for a failover under 5 s (kube-controller-manager's 15 s / 10 s / 2 s take 15–17 s).
 * A standby takes over at most lease + 2 × retry × 1.2 after the leader's last renewal: 4.96 s.
 * The leader gets 3 s — seven renewal attempts, a retry period apart — to get one renewal
 * through before it steps down: a saturated 2-core host (32 writers, apiserver and etcd busy on
 * both cores) was seen to take over 2 s at times (bench/faults.ts measures both the failover and
 * that no lease changes hands under load). The lease is whole seconds (Lease
 * leaseDurationSeconds). The leader steps down a whole second before a standby may take over:
 * room for its running reconciles to finish and its timers to fire late.
 */
export const DEFAULT_ELECTION_TIMING: ElectionTiming = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 400 };

/** Candidates wait retryPeriod × [1, 1.2) between attempts, so they do not knock in step (client-go's JitterFactor). */
export const JITTER_FACTOR = 1.2;

/** Throws with a message naming what is wrong; the rules client-go's NewLeaderElector enforces. */
export function checkTiming(t: ElectionTiming): void {
  const s = (ms: number) => `${ms / 1000} s`;
  if (!(t.leaseDurationMs >= 1000) || t.leaseDurationMs % 1000 !== 0)
    throw new Error(`lease duration must be a whole number of seconds, at least 1 (it is recorded as leaseDurationSeconds), got ${s(t.leaseDurationMs)}`);
  if (!(t.renewDeadlineMs > 0)) throw new Error(`renew deadline must be more than 0, got ${s(t.renewDeadlineMs)}`);
  if (!(t.retryPeriodMs > 0)) throw new Error(`retry period must be more than 0, got ${s(t.retryPeriodMs)}`);
  if (t.renewDeadlineMs >= t.leaseDurationMs)
    throw new Error(
      `renew deadline (${s(t.renewDeadlineMs)}) must be less than the lease duration (${s(t.leaseDurationMs)}), or two leaders could run at once`,
    );
  if (t.renewDeadlineMs <= JITTER_FACTOR * t.retryPeriodMs)
    throw new Error(
      `renew deadline (${s(t.renewDeadlineMs)}) must be more than ${JITTER_FACTOR} × the retry period (${s(t.retryPeriodMs)}), or one slow renewal loses leadership`,
    );
}

/** A retry period with up to 20% added, drawn from `random` in [0, 1). */
export function jittered(retryPeriodMs: number, random: number): number {
  return retryPeriodMs * (1 + (JITTER_FACTOR - 1) * random);
}

/** Nobody holds the lease (never held, or released on a clean stop). */
export function isFree(spec: LeaseSpec | undefined): boolean {
  return !spec?.holderIdentity;
}

/** The record as a comparable string: a change of any field is a sign of life of its holder. */
export function recordKey(spec: LeaseSpec | undefined): string {
  if (!spec) return '';
  const { holderIdentity, leaseDurationSeconds, acquireTime, renewTime, leaseTransitions } = spec;
  return JSON.stringify([holderIdentity ?? '', leaseDurationSeconds ?? null, acquireTime ?? '', renewTime ?? '', leaseTransitions ?? 0]);
}

export interface ExpiryInput {
  spec: LeaseSpec;
  /** Monotonic ms when this candidate first saw the record as it is now. */
  observedAtMs: number;
  /** Monotonic ms now. */
  nowMs: number;
  /** Wall-clock ms now (Date.now()). */
  wallNowMs: number;
  /** Used when the record names no duration. */
  fallbackDurationMs: number;
}

/**
 * Milliseconds until the lease is expired for this candidate: ≤ 0 means expired. Both the
 * candidate's own observation and the record's renewTime must be a lease duration old; a free
 * lease is expired at once.
 */
export function expiresInMs(e: ExpiryInput): number {
  if (isFree(e.spec)) return 0;
  const durationMs = e.spec.leaseDurationSeconds !== undefined ? e.spec.leaseDurationSeconds * 1000 : e.fallbackDurationMs;
  const byObservation = e.observedAtMs + durationMs - e.nowMs;
  const renewedAt = e.spec.renewTime ? Date.parse(e.spec.renewTime) : Number.NaN;
  const byRenewTime = Number.isNaN(renewedAt) ? Number.NEGATIVE_INFINITY : renewedAt + durationMs - e.wallNowMs;
  return Math.max(byObservation, byRenewTime);
}

export type Attempt =
  /** No Lease yet: create it, holding it. */
  | { kind: 'create'; spec: LeaseSpec }
  /** Write the record (with the resourceVersion read): a renewal of ours, or a takeover of a free or expired lease. */
  | { kind: 'update'; spec: LeaseSpec; takeover: boolean }
  /** Someone else holds it and it has not expired yet. */
  | { kind: 'wait'; holder: string; expiresInMs: number };

export interface DecideInput {
  /** The record read; undefined when the Lease does not exist. */
  current: LeaseSpec | undefined;
  identity: string;
  leaseDurationSeconds: number;
  /** Monotonic ms when this candidate first saw `current` as it is. */
  observedAtMs: number;
  nowMs: number;
  /** Wall clock now: the time written into acquireTime and renewTime. */
  now: Date;
}

/** What one attempt to acquire or renew should write, if anything (client-go's tryAcquireOrRenew). */
export function decide(d: DecideInput): Attempt {
  const stamp = d.now.toISOString();
  const mine = (acquireTime: string, leaseTransitions: number): LeaseSpec => ({
    holderIdentity: d.identity,
    leaseDurationSeconds: d.leaseDurationSeconds,
    acquireTime,
    renewTime: stamp,
    leaseTransitions,
  });
  if (!d.current) return { kind: 'create', spec: mine(stamp, 0) };
  const transitions = d.current.leaseTransitions ?? 0;
  // Ours already (we renew, or we come back after a restart with the same identity): keep when we got it.
  if (d.current.holderIdentity === d.identity) return { kind: 'update', spec: mine(d.current.acquireTime ?? stamp, transitions), takeover: false };
  const left = expiresInMs({
    spec: d.current,
    observedAtMs: d.observedAtMs,
    nowMs: d.nowMs,
    wallNowMs: d.now.getTime(),
    fallbackDurationMs: d.leaseDurationSeconds * 1000,
  });
  if (left > 0) return { kind: 'wait', holder: d.current.holderIdentity!, expiresInMs: left };
  return { kind: 'update', spec: mine(stamp, transitions + 1), takeover: true };
}

/**
 * What a clean stop writes (client-go's `release`): nobody holds it and it lasts a second, so a
 * standby takes over at its next attempt. The transition count stays; the next holder adds one.
 */
export function releasedSpec(current: LeaseSpec, now: Date): LeaseSpec {
  const stamp = now.toISOString();
  return { leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp, leaseTransitions: current.leaseTransitions ?? 0 };
}

/**
 * Milliseconds a leader may still lead: its renew deadline counted from the start of its last
 * successful write. ≤ 0 means it must step down now.
 */
export function leadershipLeftMs(lastRenewStartedMs: number, nowMs: number, renewDeadlineMs: number): number {
  return lastRenewStartedMs + renewDeadlineMs - nowMs;
}
