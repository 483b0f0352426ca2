/** Leader election's timing decisions on plain records and made-up clocks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LeaseSpec } from '@shoal/api';
import {
  checkTiming,
  decide,
  DEFAULT_ELECTION_TIMING,
  expiresInMs,
  isFree,
  jittered,
  leadershipLeftMs,
  recordKey,
  releasedSpec,
  type DecideInput,
} from './lease-record.js';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** A lease "other" renewed at wall time T0 + renewedAt (ms), lasting 15 s. */
const heldByOther = (renewedAt = 0, extra: LeaseSpec = {}): LeaseSpec => ({
  holderIdentity: 'other',
  leaseDurationSeconds: 15,
  acquireTime: iso(T0 - 60_000),
  renewTime: iso(T0 + renewedAt),
  leaseTransitions: 3,
  ...extra,
});

/** A candidate "me" that first saw `current` at monotonic observedAtMs and decides at monotonic/wall offset `at` (ms after T0). */
const input = (current: LeaseSpec | undefined, at: number, observedAtMs = 0): DecideInput => ({
  current,
  identity: 'me',
  leaseDurationSeconds: 15,
  observedAtMs,
  nowMs: at,
  now: new Date(T0 + at),
});

test("the defaults are kube-controller-manager's, and bad timings are refused with the reason", () => {
  assert.deepEqual(DEFAULT_ELECTION_TIMING, { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 400 });
  checkTiming(DEFAULT_ELECTION_TIMING);
  checkTiming({ leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 1000 });
  const bad: [Parameters<typeof checkTiming>[0], RegExp][] = [
    [{ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }, /renew deadline \(10 s\) must be less than the lease duration \(10 s\)/],
    [{ leaseDurationMs: 15_000, renewDeadlineMs: 2_000, retryPeriodMs: 2000 }, /must be more than 1.2 × the retry period/],
    [{ leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 500 }, /whole number of seconds/],
    [{ leaseDurationMs: 0, renewDeadlineMs: 1000, retryPeriodMs: 500 }, /at least 1/],
    [{ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 0 }, /retry period must be more than 0/],
    [{ leaseDurationMs: 15_000, renewDeadlineMs: Number.NaN, retryPeriodMs: 1000 }, /renew deadline must be more than 0/],
  ];
  for (const [timing, message] of bad) assert.throws(() => checkTiming(timing), message);
});

test('jitter adds up to a fifth of the retry period', () => {
  assert.equal(jittered(2000, 0), 2000);
  assert.equal(jittered(2000, 0.5), 2200);
  assert.ok(jittered(2000, 0.999) < 2400);
});

test('no lease: create it holding it, with no transitions yet', () => {
  const a = decide(input(undefined, 5));
  assert.deepEqual(a, {
    kind: 'create',
    spec: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: iso(T0 + 5), renewTime: iso(T0 + 5), leaseTransitions: 0 },
  });
});

test('a lease held by another that is still fresh: wait, and say for how long', () => {
  const a = decide(input(heldByOther(0), 5_000, 0));
  assert.deepEqual(a, { kind: 'wait', holder: 'other', expiresInMs: 10_000 });
});

test('a lease held by another expires only when both our observation and its renewTime are a lease duration old', () => {
  // Seen (by us) at monotonic 0, renewed at wall T0: at 15 001 both clocks agree it is expired.
  const taken = decide(input(heldByOther(0), 15_001, 0));
  assert.equal(taken.kind, 'update');
  assert.deepEqual(taken.kind === 'update' && taken, {
    kind: 'update',
    takeover: true,
    spec: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: iso(T0 + 15_001), renewTime: iso(T0 + 15_001), leaseTransitions: 4 },
  });
  // Its renewTime is long past (the holder's clock is behind, or it died before we started), but
  // we first saw this record only 1 s ago: wait out a whole duration from our observation.
  assert.deepEqual(decide(input(heldByOther(-3_600_000), 10_000, 9_000)), { kind: 'wait', holder: 'other', expiresInMs: 14_000 });
  // We saw it long ago, but its renewTime is in our future (the holder's clock is ahead): wait for that too.
  assert.deepEqual(decide(input(heldByOther(60_000), 20_000, 0)), { kind: 'wait', holder: 'other', expiresInMs: 55_000 });
});

test("the record's own leaseDurationSeconds decides its expiry, not ours", () => {
  const short = heldByOther(0, { leaseDurationSeconds: 2 });
  assert.equal(decide(input(short, 2_001, 0)).kind, 'update');
  const long = heldByOther(0, { leaseDurationSeconds: 60 });
  assert.deepEqual(decide(input(long, 20_000, 0)), { kind: 'wait', holder: 'other', expiresInMs: 40_000 });
  // No duration on record: ours.
  const none = heldByOther(0, { leaseDurationSeconds: undefined });
  assert.equal(expiresInMs({ spec: none, observedAtMs: 0, nowMs: 1000, wallNowMs: T0 + 1000, fallbackDurationMs: 15_000 }), 14_000);
  // No renewTime: only the observation counts.
  const noRenew = heldByOther(0, { renewTime: undefined });
  assert.equal(expiresInMs({ spec: noRenew, observedAtMs: 0, nowMs: 1000, wallNowMs: T0 + 1000, fallbackDurationMs: 15_000 }), 14_000);
});

test('a released (free) lease is taken at once, counting a transition', () => {
  const released = releasedSpec(heldByOther(0), new Date(T0));
  assert.ok(isFree(released));
  assert.deepEqual(released, { leaseDurationSeconds: 1, acquireTime: iso(T0), renewTime: iso(T0), leaseTransitions: 3 });
  const a = decide(input(released, 10, 5));
  assert.equal(a.kind, 'update');
  assert.equal(a.kind === 'update' && a.takeover, true);
  assert.equal(a.kind === 'update' && a.spec.leaseTransitions, 4);
  assert.ok(isFree({ holderIdentity: '' }));
  assert.ok(isFree(undefined));
});

test('our own lease is renewed: acquireTime and transitions stay, renewTime moves', () => {
  const mine: LeaseSpec = { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: iso(T0 - 5000), renewTime: iso(T0), leaseTransitions: 7 };
  const a = decide(input(mine, 2000, 0));
  assert.deepEqual(a, {
    kind: 'update',
    takeover: false,
    spec: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: iso(T0 - 5000), renewTime: iso(T0 + 2000), leaseTransitions: 7 },
  });
});

test('any change of the record is a sign of life; the same record is not', () => {
  const a = heldByOther(0);
  assert.equal(recordKey(a), recordKey({ ...a }));
  assert.notEqual(recordKey(a), recordKey(heldByOther(1)));
  assert.notEqual(recordKey(a), recordKey({ ...a, holderIdentity: 'third' }));
  assert.notEqual(recordKey(a), recordKey({ ...a, leaseTransitions: 4 }));
  assert.equal(recordKey(undefined), '');
});

test('a leader steps down a renew deadline after its last successful write started', () => {
  assert.equal(leadershipLeftMs(1000, 1000, 10_000), 10_000);
  assert.equal(leadershipLeftMs(1000, 8000, 10_000), 3000);
  assert.equal(leadershipLeftMs(1000, 11_000, 10_000), 0);
  assert.ok(leadershipLeftMs(1000, 11_001, 10_000) < 0);
});

test("no two leaders: a candidate that saw the leader's last write can only take over after that leader stepped down", () => {
  // Worst case for the candidate: it saw the write the instant it started.
  const timing = { leaseDurationMs: 4000, renewDeadlineMs: 3000 };
  for (const writeStartedAt of [0, 1234, 99_999]) {
    const leaderStopsAt = writeStartedAt + leadershipLeftMs(writeStartedAt, writeStartedAt, timing.renewDeadlineMs);
    const spec = heldByOther(writeStartedAt, { leaseDurationSeconds: timing.leaseDurationMs / 1000 });
    const candidateMayAt =
      writeStartedAt + expiresInMs({ spec, observedAtMs: writeStartedAt, nowMs: writeStartedAt, wallNowMs: T0 + writeStartedAt, fallbackDurationMs: 0 });
    assert.equal(candidateMayAt - leaderStopsAt, timing.leaseDurationMs - timing.renewDeadlineMs);
  }
});
