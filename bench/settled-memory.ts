/**
 * The apiserver's resident memory once it has settled: what it takes to hold its objects, as
 * against right after a burst of work (its heap then still full of that burst's garbage, which
 * V8 collects only when allocation makes it). A light trickle of writes runs meanwhile, as in any
 * live cluster (a status patch, a lease renewal): it is what gives the collector a reason to run.
 * Settled means: two sweeps of the watch cache (--watch-cache-compact-interval) and then a full
 * (major) collection have passed, plus a few seconds for V8 to hand freed pages back.
 */
import type { Pool } from 'undici';
import { call } from './http-client.js';
import { patchOne } from './api-throughput.js';
import { processMemory } from './process-meter.js';
import { parseMetrics, total } from './prometheus-text.js';
import { round3 } from './stats.js';

export interface SettledMemory {
  rssMiB: number;
  heapUsedMiB: number;
  /** From the start of the trickle to the measurement. */
  seconds: number;
  /** Merge patches of the trickle (to the first TRICKLE_OBJECTS benchmark VMs), per second. */
  trickleWritesPerSecond: number;
}

const TRICKLE_PER_SECOND = 50;
const TRICKLE_OBJECTS = 50;
const AFTER_COLLECTION_MS = 5_000;

async function apiserverGauges(pool: Pool): Promise<{ majorCollections: number; heapUsedMiB: number }> {
  const samples = parseMetrics((await call(pool, 'GET', '/metrics')).text);
  return {
    majorCollections: total(samples, 'shoal_apiserver_nodejs_gc_duration_seconds_count', { kind: 'major' }),
    heapUsedMiB: total(samples, 'shoal_apiserver_nodejs_heap_size_used_bytes') / 2 ** 20,
  };
}

/** Trickles writes until the apiserver (pid) has settled, or `deadlineMs` has passed (then measures anyway). */
export async function settledMemory(pool: Pool, pid: number, compactIntervalMs: number, deadlineMs = 180_000): Promise<SettledMemory> {
  const started = Date.now();
  const sweptAt = started + 2 * compactIntervalMs;
  let collectionsAtSweep: number | undefined;
  let collectedAt: number | undefined;
  let writes = 0;
  for (;;) {
    const second = Date.now();
    const settled = collectedAt !== undefined && second - collectedAt >= AFTER_COLLECTION_MS;
    if (settled || second - started >= deadlineMs) break;
    await Promise.all(Array.from({ length: TRICKLE_PER_SECOND }, () => patchOne(pool, TRICKLE_OBJECTS, 'settle', writes++)));
    const { majorCollections } = await apiserverGauges(pool);
    if (Date.now() >= sweptAt) {
      collectionsAtSweep ??= majorCollections;
      if (collectedAt === undefined && majorCollections > collectionsAtSweep) collectedAt = Date.now();
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - second))));
  }
  const seconds = (Date.now() - started) / 1000;
  return {
    rssMiB: processMemory(pid).rssMiB,
    heapUsedMiB: round3((await apiserverGauges(pool)).heapUsedMiB),
    seconds: round3(seconds),
    trickleWritesPerSecond: round3(writes / seconds),
  };
}
