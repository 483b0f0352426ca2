/**
 * LeaseElector against a real etcd and apiserver: one leader of two, renewals that hang (a
 * proxy that stops forwarding, so requests neither fail nor answer), release on a clean stop,
 * and candidates racing for one Lease with optimistic concurrency.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ShoalClient } from '@shoal/client';
import { startCluster, waitFor, type TestCluster } from '@shoal/testing';
import pino from 'pino';
import { LeaseElector } from './lease-elector.js';
import type { Lease } from '@shoal/api';
import { LEADER_ELECTION_NAMESPACE, releasedSpec } from './lease-record.js';

const TIMING = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 };

let cp: TestCluster;
let admin: ShoalClient;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

before(async () => {
  cp = await startCluster();
  admin = cp.client;
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  await cp?.stop();
});

const getLease = (name: string) => admin.get<Lease>('lease', name, { namespace: LEADER_ELECTION_NAMESPACE });

/** An elector with its own client (its own connections), and its log lines kept. */
function elector(name: string, identity: string, server = cp.url) {
  const client = new ShoalClient({ server });
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const e = new LeaseElector({ client, name, identity, timing: TIMING, log });
  const stop = new AbortController();
  cleanups.push(async () => {
    stop.abort();
    await e.release();
    await client.close();
  });
  return { e, client, lines, stop };
}

/** Samples isLeader of every elector every few ms and remembers if two ever led at once. */
function watchOverlap(electors: LeaseElector[]) {
  let worst = 0;
  const timer = setInterval(() => {
    worst = Math.max(worst, electors.filter((e) => e.isLeader).length);
  }, 2);
  return {
    get maxLeaders() {
      return worst;
    },
    stop: () => clearInterval(timer),
  };
}

/** A TCP proxy to the apiserver that can freeze: data stops flowing both ways, requests hang. */
async function startFreezableProxy(target: string) {
  const url = new URL(target);
  const pairs = new Set<{ client: Socket; upstream?: Socket }>();
  let frozen = false;
  const server: Server = createServer((client) => {
    const pair: { client: Socket; upstream?: Socket } = { client };
    pairs.add(pair);
    client.on('error', () => undefined);
    client.on('close', () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (frozen) return; // accepted and never answered
    const upstream = connect(Number(url.port), url.hostname);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    freeze() {
      frozen = true;
      for (const { client, upstream } of pairs) {
        client.unpipe();
        upstream?.unpipe();
        client.pause();
        upstream?.pause();
      }
    },
    /** Drops the frozen connections (their requests fail) and forwards new ones again. */
    thaw() {
      frozen = false;
      for (const { client } of pairs) client.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { client } of pairs) client.destroy();
        server.close(() => resolve());
      }),
  };
}

test('of two candidates one leads, records itself on the Lease and renews it; the other stands by; release hands over at once', async (t) => {
  const name = 'elect-two';
  const a = elector(name, 'alpha');
  const b = elector(name, 'beta');
  const overlap = watchOverlap([a.e, b.e]);
  const started = Date.now();
  const acquired = [a, b].map((c) => c.e.acquire(c.stop.signal).then((lost) => ({ c, lost })));
  const first = await Promise.race(acquired);
  const leader = first.c;
  const standby = leader === a ? b : a;
  const lease = await getLease(name);
  assert.equal(lease.spec?.holderIdentity, leader.e.identity);
  assert.equal(lease.spec?.leaseDurationSeconds, 2);
  assert.equal(lease.spec?.leaseTransitions, 0);
  assert.ok(Date.parse(lease.spec!.acquireTime!) >= started - 1000);
  assert.equal(lease.spec?.renewTime, lease.spec?.acquireTime);

  // Renewals move renewTime (and nothing else) for many lease durations; the standby never leads.
  const renewed = await waitFor(
    async () => {
      const l = await getLease(name);
      return Date.parse(l.spec!.renewTime!) - Date.parse(lease.spec!.renewTime!) > 2 * TIMING.leaseDurationMs ? l : undefined;
    },
    { timeoutMs: 10_000, message: 'renewals across two lease durations' },
  );
  assert.equal(renewed.spec?.holderIdentity, leader.e.identity);
  assert.equal(renewed.spec?.acquireTime, lease.spec?.acquireTime);
  assert.equal(renewed.spec?.leaseTransitions, 0);
  assert.equal(standby.e.isLeader, false);
  assert.equal(standby.e.observedHolder, leader.e.identity);
  assert.ok(standby.lines.some((l) => l.msg === 'another candidate leads; standing by' && l.holder === leader.e.identity));
  assert.equal(first.lost.aborted, false);

  // A clean stop: the Lease is freed, the standby takes it within a retry period (not a lease duration).
  const releasedAt = performance.now();
  await leader.e.release();
  assert.equal(first.lost.aborted, true, 'release ends our own leadership first');
  assert.equal(leader.e.isLeader, false);
  const second = await Promise.race(acquired.filter((p) => p !== acquired[[a, b].indexOf(leader)]));
  const handover = performance.now() - releasedAt;
  t.diagnostic(`handover after release: ${Math.round(handover)} ms`);
  assert.equal(second.c, standby);
  assert.ok(handover < TIMING.retryPeriodMs * 1.2 + 500, `handed over in ${Math.round(handover)} ms`);
  const handedOver = await getLease(name);
  assert.equal(handedOver.spec?.holderIdentity, standby.e.identity);
  assert.equal(handedOver.spec?.leaseTransitions, 1);
  assert.equal(handedOver.spec?.leaseDurationSeconds, 2);
  assert.ok(leader.lines.some((l) => l.msg === 'acquired leadership'));
  assert.ok(leader.lines.some((l) => l.msg === 'released the leader lease'));
  overlap.stop();
  assert.equal(overlap.maxLeaders, 1);
});

test('a leader whose renewals hang steps down at its renew deadline; the standby leads only once the Lease expired, then the old leader stands by', async (t) => {
  const name = 'elect-hang';
  const proxy = await startFreezableProxy(cp.url);
  cleanups.push(() => proxy.close());
  const a = elector(name, 'hangs', proxy.url);
  const b = elector(name, 'takes-over');
  const lostA = await a.e.acquire(a.stop.signal);
  const acquiringB = b.e.acquire(b.stop.signal);
  const overlap = watchOverlap([a.e, b.e]);

  // The last record A wrote before it went quiet, as anyone could read it.
  let lastByA: Lease | undefined;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const l = await getLease(name).catch(() => undefined);
      if (l?.spec?.holderIdentity === 'hangs') lastByA = l;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await waitFor(() => lastByA && Date.parse(lastByA.spec!.renewTime!) > Date.parse(lastByA.spec!.acquireTime!), { timeoutMs: 5000, message: 'a renewal by A' });

  const frozenAt = performance.now();
  proxy.freeze();
  let lostAt = 0;
  lostA.addEventListener('abort', () => (lostAt = performance.now()), { once: true });
  let acquiredAt = 0;
  void acquiringB.then(() => (acquiredAt = performance.now()));

  await waitFor(() => lostA.aborted, { timeoutMs: TIMING.renewDeadlineMs + 2000, message: 'A to step down' });
  assert.ok(lostAt - frozenAt <= TIMING.renewDeadlineMs + 400, `A stepped down ${Math.round(lostAt - frozenAt)} ms after its renewals started hanging`);
  assert.match(String((lostA.reason as Error).message), /no renewal succeeded within the renew deadline \(1.5 s\)/);
  assert.equal(acquiredAt, 0, 'B does not lead before A stepped down');

  const lostB = await acquiringB;
  assert.ok(acquiredAt > lostAt);
  polling = false;
  await poll;
  const taken = await getLease(name);
  assert.equal(taken.spec?.holderIdentity, 'takes-over');
  assert.equal(taken.spec?.leaseTransitions, 1);
  const quietFor = Date.parse(taken.spec!.acquireTime!) - Date.parse(lastByA!.spec!.renewTime!);
  assert.ok(quietFor >= TIMING.leaseDurationMs, `B took over ${quietFor} ms after A's last renewal (lease: ${TIMING.leaseDurationMs} ms)`);
  assert.ok(
    acquiredAt - frozenAt < TIMING.leaseDurationMs + 2 * TIMING.retryPeriodMs * 1.2 + 500,
    `B led ${Math.round(acquiredAt - frozenAt)} ms after A went quiet`,
  );

  t.diagnostic(
    `A stepped down ${Math.round(lostAt - frozenAt)} ms after freezing; B led ${Math.round(acquiredAt - frozenAt)} ms after, ${quietFor} ms after A's last renewTime`,
  );

  // A's network comes back: it campaigns again, finds B renewing, and stands by.
  proxy.thaw();
  const again = a.e.acquire(a.stop.signal);
  await waitFor(() => a.lines.some((l) => l.msg === 'another candidate leads; standing by' && l.holder === 'takes-over'), {
    timeoutMs: 5000,
    message: 'A to see B leading',
  });
  await waitFor(async () => Date.parse((await getLease(name)).spec!.renewTime!) - Date.parse(taken.spec!.renewTime!) > 2 * TIMING.leaseDurationMs, {
    timeoutMs: 10_000,
    message: 'B to keep renewing for two lease durations',
  });
  assert.equal(a.e.isLeader, false);
  assert.equal(lostB.aborted, false);
  overlap.stop();
  assert.equal(overlap.maxLeaders, 1);
  a.stop.abort();
  await assert.rejects(again);
});

test('candidates racing for a missing or a freed Lease: one create or update wins, the rest get 409 and stand by', async (t) => {
  let conflicts = 0;
  for (const [round, freed] of [false, true, false, true, false, true].entries()) {
    const name = `elect-race-${round}`;
    if (freed) {
      // A Lease released by somebody long gone: free, so every candidate tries to take it at once.
      const ghost = await admin.create<Lease>(
        'lease',
        { metadata: { name }, spec: { holderIdentity: 'ghost', leaseDurationSeconds: 15, leaseTransitions: 5 } },
        { namespace: LEADER_ELECTION_NAMESPACE },
      );
      await admin.update<Lease>('lease', { ...ghost, spec: releasedSpec(ghost.spec!, new Date()) }, { namespace: LEADER_ELECTION_NAMESPACE });
    }
    const candidates = Array.from({ length: 5 }, (_, i) => elector(name, `racer-${round}-${i}`));
    // Connections first, so the first attempts leave together.
    await Promise.all(candidates.map((c) => c.client.get('namespace', LEADER_ELECTION_NAMESPACE)));
    const overlap = watchOverlap(candidates.map((c) => c.e));
    const acquiring = candidates.map((c) => c.e.acquire(c.stop.signal).then(() => c));
    acquiring.forEach((p) => p.catch(() => undefined));
    const winner = await Promise.race(acquiring);
    // Several retry periods: nobody else ever leads meanwhile.
    await waitFor(
      async () => Date.parse((await getLease(name)).spec!.renewTime!) - Date.parse((await getLease(name)).spec!.acquireTime!) > 4 * TIMING.retryPeriodMs,
      {
        timeoutMs: 5000,
        message: 'four renewals',
      },
    );
    overlap.stop();
    assert.equal(overlap.maxLeaders, 1, `round ${round}: one leader at a time`);
    assert.deepEqual(
      candidates.filter((c) => c.e.isLeader).map((c) => c.e.identity),
      [winner.e.identity],
    );
    const lease = await getLease(name);
    assert.equal(lease.spec?.holderIdentity, winner.e.identity);
    assert.equal(lease.spec?.leaseTransitions, freed ? 6 : 0);
    conflicts += candidates.flatMap((c) => c.lines).filter((l) => l.msg === 'could not acquire the leader lease; retrying' && l.conflict === true).length;
    for (const c of candidates) c.stop.abort();
    await Promise.allSettled(acquiring);
    await Promise.all(candidates.map((c) => c.e.release()));
  }
  t.diagnostic(`409s seen by losing candidates over 6 rounds: ${conflicts}`);
  assert.ok(conflicts > 0, 'the race was real: some writes were refused with 409');
});
