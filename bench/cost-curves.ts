/**
 * How cost grows with the work, measured in one run (bench/results/cost-curves-*.json, and a
 * table on stdout):
 *  - scheduling decision time against 100 / 1,000 / 5,000 nodes (the scheduler's framework over
 *    plain objects, as the controller runs it: a sample of the nodes, decide, then assume, for
 *    VMs half of which carry a zone spread constraint, on nodes already a quarter full);
 *  - the apiserver's resident memory and whole-list latency against 1,000 / 10,000 / 50,000 VMs
 *    beside 1,000 Nodes (one real apiserver and etcd, the objects created through the API): right
 *    after the lists, and settled (bench/settled-memory.ts);
 *  - watch event latency against 10 / 100 / 1,000 concurrent watchers (the same fan-out as
 *    bench/run.ts: every watcher must see every merge-patch).
 *
 * Environment: BENCH_CURVE_OBJECTS [1000,10000,50000], BENCH_CURVE_NODES [100,1000,5000],
 * BENCH_CURVE_WATCHERS [10,100,1000], BENCH_CURVE_DECISIONS [2000], BENCH_CURVE_UPDATES [200],
 * BENCH_CURVE_NODE_OBJECTS [1000] (Nodes held beside the VMs), BENCH_CURVE_COMPACT_INTERVAL [10]
 * (the apiserver's --watch-cache-compact-interval, seconds: 30 by default; shorter only so that
 * the memory settles sooner, since the objects sit unread for far longer in a live cluster).
 */
import { performance } from 'node:perf_hooks';
import { HOSTNAME_LABEL, ZONE_LABEL } from '@shoal/api';
import { ClusterState, defaultProfile, feasibleNodesToFind, schedule } from '@shoal/scheduler';
import { startCluster, type TestCluster } from '@shoal/testing';
import { node, vm } from '../packages/scheduler/src/test-support/fixtures.js';
import { createWorkload, fullLists, NAMESPACE } from './api-throughput.js';
import { apiPool, call } from './http-client.js';
import { runSlice } from './load.js';
import { describeMachine, machineAtEnd } from './machine.js';
import { processMemory } from './process-meter.js';
import { registerNode } from './node-object.js';
import { settledMemory } from './settled-memory.js';
import { writeResults } from './report.js';
import { round3, summarize, type LatencySummary } from './stats.js';
import { watchFanout } from './watch-fanout.js';

const list = (name: string, fallback: number[]) => (process.env[name] ? process.env[name]!.split(',').map(Number) : fallback);
const NODE_COUNTS = list('BENCH_CURVE_NODES', [100, 1000, 5000]);
const OBJECT_COUNTS = list('BENCH_CURVE_OBJECTS', [1000, 10_000, 50_000]);
const WATCHER_COUNTS = list('BENCH_CURVE_WATCHERS', [10, 100, 1000]);
const DECISIONS = Number(process.env.BENCH_CURVE_DECISIONS ?? 2000);
const UPDATES = Number(process.env.BENCH_CURVE_UPDATES ?? 200);
const NODE_OBJECTS = Number(process.env.BENCH_CURVE_NODE_OBJECTS ?? 1000);
const COMPACT_INTERVAL_S = Number(process.env.BENCH_CURVE_COMPACT_INTERVAL ?? 10);
const CONCURRENCY = 64;

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

/** Decision times on `nodes` nodes in 3 zones of racks of 20, a third of their room taken already. */
function decisionCurvePoint(nodes: number): { nodes: number; decisions: number; latency: LatencySummary } {
  const zone = (i: number) => `zone-${i % 3}`;
  const all = Array.from({ length: nodes }, (_, i) =>
    node(`n${i}`, { vcpus: 32, memoryMiB: 131072, labels: { [ZONE_LABEL]: zone(i), [HOSTNAME_LABEL]: `n${i}`, 'shoal.dev/rack': `r${Math.floor(i / 20)}` } }),
  );
  const existing = all.flatMap((n, i) =>
    Array.from({ length: 4 }, (_, k) =>
      vm(`old-${i}-${k}`, { nodeName: n.metadata.name, vcpus: 2, memoryMiB: 8192, phase: 'Running', labels: { app: `a${k}` } }),
    ),
  );
  const state = ClusterState.from(all, existing);
  const times: number[] = [];
  // The scheduler controller's walk (apps/controller-manager/src/scheduler/reconcile.ts): a sample
  // of the nodes, each decision starting where the last one stopped.
  let startIndex = 0;
  for (let d = 0; d < DECISIONS; d++) {
    const spread = d % 2 === 0;
    const v = vm(`new-${d}`, {
      vcpus: 1,
      memoryMiB: 1024,
      labels: { app: spread ? 'spread' : 'plain' },
      spec: spread
        ? {
            topologySpreadConstraints: [
              { topologyKey: ZONE_LABEL, maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'spread' } } },
            ],
          }
        : {},
    });
    state.upsertVm(v);
    const t0 = performance.now();
    const r = schedule(v, state, defaultProfile, { sample: { feasibleNodesToFind: feasibleNodesToFind(nodes), startIndex } });
    times.push(performance.now() - t0);
    startIndex = (startIndex + r.evaluated) % nodes;
    if (!r.ok) throw new Error(`no node for ${v.metadata.name} among ${nodes}: ${JSON.stringify(r)}`);
    state.assume(v, r.nodeName);
  }
  return { nodes, decisions: DECISIONS, latency: summarize(times) };
}

async function objectsCurve(cluster: TestCluster) {
  const pool = apiPool(cluster.url, CONCURRENCY);
  const procs = { apiserver: cluster.apiserver.pid, etcd: cluster.etcd.pid };
  const points = [];
  let created = 0;
  const creates = createWorkload(pool, Math.max(...OBJECT_COUNTS));
  try {
    log(`registering ${NODE_OBJECTS} Nodes`);
    await runSlice(0, NODE_OBJECTS, CONCURRENCY, (i) => registerNode(pool, i));
    for (const target of [...OBJECT_COUNTS].sort((a, b) => a - b)) {
      log(`creating VMs up to ${target}`);
      await runSlice(created, target, CONCURRENCY, creates.op);
      created = target;
      const lists = await fullLists(pool, procs, 3);
      // Memory after the lists: what serving them at this size takes, as a client relisting would make it.
      const afterLists = processMemory(procs.apiserver).rssMiB;
      log(`${target} VMs: letting the apiserver's memory settle`);
      const settled = await settledMemory(pool, procs.apiserver, COMPACT_INTERVAL_S * 1000);
      points.push({
        objects: target,
        nodes: NODE_OBJECTS,
        apiserverRssMiB: afterLists,
        apiserverSettled: settled,
        etcdRssMiB: processMemory(procs.etcd).rssMiB,
        listP50Ms: lists.latency.p50Ms,
        listResponseMiB: round3(lists.responseBytes / 1024 ** 2),
      });
    }
    return points;
  } finally {
    await pool.destroy();
  }
}

async function watchersCurve(cluster: TestCluster) {
  const pool = apiPool(cluster.url, CONCURRENCY);
  const procs = { apiserver: cluster.apiserver.pid, etcd: cluster.etcd.pid, loadgen: process.pid };
  const points = [];
  try {
    for (const watchers of WATCHER_COUNTS) {
      log(`${watchers} watchers, ${UPDATES} patches`);
      const { text } = await call(pool, 'GET', `/apis/shoal.dev/v1alpha1/namespaces/${NAMESPACE}/virtualmachines?limit=1`);
      const fromRv = (JSON.parse(text) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
      const r = await watchFanout(
        cluster.url,
        pool,
        procs,
        { watchers, updates: UPDATES, concurrency: 16, objects: Math.min(...OBJECT_COUNTS), deadlineMs: 120_000, round: `watchers-${watchers}` },
        fromRv,
      );
      points.push({
        watchers,
        complete: r.complete,
        eventLatency: r.fanoutLatencyFromSend,
        eventsPerSecond: r.eventsDeliveredPerSecond,
        writes: r.writes.latency,
      });
    }
    return points;
  } finally {
    await pool.destroy();
  }
}

const startedAt = new Date();
const machine = describeMachine();
log(`decision time against ${NODE_COUNTS.join(' / ')} nodes`);
const decisions = NODE_COUNTS.map(decisionCurvePoint);
const cluster = await startCluster({ apiserverArgs: ['--watch-cache-compact-interval', String(COMPACT_INTERVAL_S)] });
let objects;
let watches;
try {
  objects = await objectsCurve(cluster);
  watches = await watchersCurve(cluster);
} finally {
  await cluster.stop();
}
const written = await writeResults('cost-curves', startedAt, {
  startedAt: startedAt.toISOString(),
  machine: machineAtEnd(machine),
  decisions,
  objects,
  watches,
});

console.log('\nscheduling decision (ms)   nodes     p50      p99');
for (const d of decisions)
  console.log(`${' '.repeat(27)}${String(d.nodes).padStart(5)} ${d.latency.p50Ms.toFixed(3).padStart(8)} ${d.latency.p99Ms.toFixed(3).padStart(8)}`);
console.log(`apiserver (+${NODE_OBJECTS} Nodes)   VMs  RSS MiB after lists  settled  list p50 ms`);
for (const o of objects)
  console.log(
    `${' '.repeat(25)}${String(o.objects).padStart(7)} ${o.apiserverRssMiB.toFixed(0).padStart(19)} ${o.apiserverSettled.rssMiB.toFixed(0).padStart(8)} ${o.listP50Ms.toFixed(1).padStart(12)}`,
  );
console.log('watch events            watchers  p50 ms   p99 ms  complete');
for (const w of watches)
  console.log(
    `${' '.repeat(24)}${String(w.watchers).padStart(8)} ${w.eventLatency.p50Ms.toFixed(1).padStart(8)} ${w.eventLatency.p99Ms.toFixed(1).padStart(8)}  ${w.complete}`,
  );
console.log(`results in ${written.file}`);
