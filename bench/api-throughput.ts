/**
 * The API as clients use it, over keep-alive HTTP at the baseline's concurrency: creates, gets,
 * whole lists (served from the watch cache), paged lists (served from etcd at one revision)
 * and merge-patches with nobody watching.
 */
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { call } from './http-client.js';
import { runLoad } from './load.js';
import { metered, type CpuFigures, type Processes } from './process-meter.js';
import { rate, summarize, type LatencySummary } from './stats.js';
import { VM_API, vmBody, vmName } from './vm-object.js';
import { etcdOpTotals } from './apiserver-metrics.js';
import type { Workload } from './interleave.js';

export const NAMESPACE = 'default';
export const WARMUP_NAMESPACE = 'bench-warmup';
export const VM_PREFIX = 'bench-vm';

export interface ListFigures {
  repeats: number;
  itemsPerList: number;
  responseBytes: number;
  /** Per whole list (all pages for a paged list), request sent to last byte received. */
  latency: LatencySummary;
  /** Items per list ÷ median list latency. */
  objectsPerSecond: number;
  cpu: CpuFigures;
  pages?: { limit: number; pagesPerList: number; perPage: LatencySummary };
}

const vmPath = (ns: string, name?: string) => `${VM_API}/${ns}/virtualmachines${name ? `/${name}` : ''}`;

/**
 * Creates, gets, patches, lists and deletes in a namespace of their own, so the measured phases
 * start warm (JIT, connections, etcd); the objects are deleted again so lists see only the measured ones.
 */
export async function warmUp(pool: Dispatcher, count: number, concurrency: number): Promise<void> {
  await call(pool, 'POST', '/apis/shoal.dev/v1alpha1/namespaces', {
    body: { apiVersion: 'shoal.dev/v1alpha1', kind: 'Namespace', metadata: { name: WARMUP_NAMESPACE } },
  });
  const name = (i: number) => vmName('warmup', i);
  await runLoad(count, concurrency, async (i) => void (await call(pool, 'POST', vmPath(WARMUP_NAMESPACE), { body: vmBody(name(i), i) })));
  await runLoad(count, concurrency, async (i) => void (await call(pool, 'GET', vmPath(WARMUP_NAMESPACE, name(i)))));
  await runLoad(count, concurrency, async (i) => {
    await call(pool, 'PATCH', vmPath(WARMUP_NAMESPACE, name(i)), {
      body: { metadata: { labels: { warm: 'yes' } } },
      contentType: 'application/merge-patch+json',
    });
  });
  await call(pool, 'GET', vmPath(WARMUP_NAMESPACE));
  await call(pool, 'GET', `${vmPath(WARMUP_NAMESPACE)}?limit=100`);
  await runLoad(count, concurrency, async (i) => void (await call(pool, 'DELETE', vmPath(WARMUP_NAMESPACE, name(i)))));
}

/**
 * The apiserver's watch cache learns etcd's revision only from changes under /registry/, and
 * consistent whole lists (and watches from a revision) wait until the cache has reached etcd's
 * current revision. Raw baseline writes elsewhere in etcd move that revision on without the cache
 * noticing, so such reads would wait 3 s and answer 504. One write through the API brings the
 * cache up to date; the benchmark makes it after its raw writes.
 */
export async function catchUpWatchCache(pool: Dispatcher): Promise<void> {
  await call(pool, 'POST', vmPath(WARMUP_NAMESPACE), { body: vmBody(`cache-sync-${Date.now()}`, 0) });
}

export function createWorkload(pool: Dispatcher, n: number): Workload {
  const bodies = Array.from({ length: n }, (_, i) => vmBody(vmName(VM_PREFIX, i), i));
  return {
    name: 'apiCreate',
    n,
    op: async (i) => void (await call(pool, 'POST', vmPath(NAMESPACE), { body: bodies[i] })),
    etcdTotals: () => etcdOpTotals(pool),
    sampleEveryMs: 200,
  };
}

export function getWorkload(pool: Dispatcher, n: number): Workload {
  return {
    name: 'apiGet',
    n,
    op: async (i) => void (await call(pool, 'GET', vmPath(NAMESPACE, vmName(VM_PREFIX, i)))),
    etcdTotals: () => etcdOpTotals(pool),
  };
}

/** A merge-patch of labels that really changes the object (an unchanged object is not written, so makes no event). */
export function labelPatch(round: string, i: number) {
  return { metadata: { labels: { 'bench-round': round, 'bench-seq': String(i) } } };
}

/** Patches object i mod n; returns the new resourceVersion. */
export async function patchOne(pool: Dispatcher, n: number, round: string, i: number): Promise<string> {
  const { text } = await call(pool, 'PATCH', vmPath(NAMESPACE, vmName(VM_PREFIX, i % n)), {
    body: labelPatch(round, i),
    contentType: 'application/merge-patch+json',
  });
  return (JSON.parse(text) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
}

export function patchWorkload(pool: Dispatcher, n: number, m: number): Workload {
  return { name: 'apiPatch', n: m, op: async (i) => void (await patchOne(pool, n, 'quiet', i)), etcdTotals: () => etcdOpTotals(pool) };
}

export async function fullLists(pool: Dispatcher, procs: Processes, repeats: number): Promise<ListFigures> {
  const times: number[] = [];
  let bytes = 0;
  let items = 0;
  const { cpu } = await metered(procs, async () => {
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      const { text } = await call(pool, 'GET', vmPath(NAMESPACE));
      times.push(performance.now() - t0);
      bytes = Buffer.byteLength(text);
      items = (JSON.parse(text) as { items: unknown[] }).items.length;
    }
  });
  const latency = summarize(times);
  return { repeats, itemsPerList: items, responseBytes: bytes, latency, objectsPerSecond: rate(items, latency.p50Ms), cpu };
}

export async function pagedLists(pool: Dispatcher, procs: Processes, repeats: number, limit: number): Promise<ListFigures> {
  const perList: number[] = [];
  const perPage: number[] = [];
  let bytes = 0;
  let items = 0;
  let pages = 0;
  const { cpu } = await metered(procs, async () => {
    for (let r = 0; r < repeats; r++) {
      let cont: string | undefined;
      let listItems = 0;
      let listBytes = 0;
      let listPages = 0;
      let requestMs = 0;
      do {
        const path = `${vmPath(NAMESPACE)}?limit=${limit}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`;
        const t0 = performance.now();
        const { text } = await call(pool, 'GET', path);
        const dt = performance.now() - t0;
        perPage.push(dt);
        requestMs += dt;
        listBytes += Buffer.byteLength(text);
        listPages++;
        // Parsing for the continue token is the client's work: outside the timed requests.
        const page = JSON.parse(text) as { items: unknown[]; metadata: { continue?: string } };
        listItems += page.items.length;
        cont = page.metadata.continue;
      } while (cont);
      perList.push(requestMs);
      items = listItems;
      bytes = listBytes;
      pages = listPages;
    }
  });
  const latency = summarize(perList);
  return {
    repeats,
    itemsPerList: items,
    responseBytes: bytes,
    latency,
    objectsPerSecond: rate(items, latency.p50Ms),
    cpu,
    pages: { limit, pagesPerList: pages, perPage: summarize(perPage) },
  };
}
