/**
 * The watch fan-out aim's capacity figure, over plain phase figures. Part of `npm test`; alone:
 *   node --import tsx --test bench/fanout-capacity.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeFanoutCapacity, fanoutCapacity } from './fanout-capacity.js';
import type { CpuFigures } from './process-meter.js';

const cpu = (cpuSeconds: Record<string, number>, machineCores = 2): CpuFigures => ({
  wallSeconds: 1,
  cpuSeconds,
  averageCores: cpuSeconds,
  machineBusyFraction: 1,
  otherCores: 0,
  machineCores,
});

test('the cost of an event is the watched phase less its patches at their unwatched cost; the aim needs its events and patches at those costs', () => {
  const c = fanoutCapacity({
    watchers: 1000,
    // 2,000 patches in 1 s unwatched: 0.5 ms of CPU each (apiserver 0.3, etcd 0.05, load generator 0.15).
    quiet: { patches: 2000, perSecond: 2000, cpu: cpu({ apiserver: 0.6, etcd: 0.1, loadgen: 0.3 }) },
    // The same 2,000 patches watched: 2,000,000 events; apiserver 0.6 + 3 s, load generator 0.3 + 5 s.
    watched: { patches: 2000, events: 2_000_000, cpu: cpu({ apiserver: 3.6, etcd: 0.1, loadgen: 5.3 }) },
    watcherProcess: 'loadgen',
  });
  assert.deepEqual(c.cpuMicrosPerEvent, { apiserver: 1.5, watchers: 2.5 });
  assert.equal(c.patchesPerSecondAtAim, 1600);
  assert.equal(c.eventsPerSecondAtAim, 1_600_000);
  // 1.6 M events × 4 µs = 6.4 cores, the watchers' part 4; 1,600 patches × 0.5 ms = 0.8.
  assert.deepEqual(c.coresNeeded, { events: 6.4, watchersAlone: 4, patches: 0.8, total: 7.2 });
  assert.equal(c.feasibleHere, false);
  assert.match(describeFanoutCapacity(c), /1600000 events\/s .* need 7\.2 cores \(the watchers alone 4\); this machine has 2: no apiserver meets it here$/);
});

test('few watchers on a big machine fit; an event never costs less than nothing', () => {
  const c = fanoutCapacity({
    watchers: 10,
    quiet: { patches: 1000, perSecond: 1000, cpu: cpu({ apiserver: 0.4, loadgen: 0.2 }, 16) },
    // Less apiserver CPU watched than unwatched (noise): counted as 0 per event, not negative.
    watched: { patches: 1000, events: 10_000, cpu: cpu({ apiserver: 0.35, loadgen: 0.3 }, 16) },
    watcherProcess: 'loadgen',
  });
  assert.equal(c.cpuMicrosPerEvent.apiserver, 0);
  assert.equal(c.cpuMicrosPerEvent.watchers, 10);
  assert.equal(c.feasibleHere, true);
  assert.doesNotMatch(describeFanoutCapacity(c), /no apiserver/);
});
