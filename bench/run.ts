/**
 * `npm run bench`: API throughput against a real etcd member and a real apiserver process,
 * next to a raw-etcd baseline measured in the same run on the same machine. It measures and
 * writes JSON (bench/results/api-<ISO time>.json and api-latest.json); it asserts nothing.
 *
 * Environment (defaults in brackets):
 *   BENCH_N [5000]            objects created, read, listed; raw etcd keys written
 *   BENCH_CONCURRENCY [64]    requests in flight, for etcd and for the apiserver alike
 *   BENCH_WATCHERS [100]      concurrent watches in the fan-out phase
 *   BENCH_UPDATES [2000]      merge-patches while they watch (and again with nobody watching)
 *   BENCH_LIST_REPEATS [5]    whole lists and paged traversals, each
 *   BENCH_PAGE_LIMIT [500]    page size of the paged list
 *   BENCH_WARMUP [2000]       unmeasured operations first, per operation kind
 *   BENCH_SLICES [10]          raw etcd and apiserver workloads alternate in this many slices
 */
import { readFileSync } from 'node:fs';
import { startCluster, type ApiserverProcess, type EtcdMember, type TestCluster } from '@shoal/testing';
import type { Etcd3 } from 'etcd3';
import type { Pool } from 'undici';
import { connectEtcd } from '../apps/apiserver/src/storage/etcd-client.js';
import { etcdBaseline, BASELINE_PREFIX } from './etcd-baseline.js';
import { interleave } from './interleave.js';
import { apiPool, call } from './http-client.js';
import { catchUpWatchCache, createWorkload, fullLists, getWorkload, pagedLists, patchWorkload, warmUp, NAMESPACE, VM_PREFIX } from './api-throughput.js';
import { watchFanout } from './watch-fanout.js';
import { describeFanoutCapacity, fanoutCapacity } from './fanout-capacity.js';
import { processMemory, type MemoryFigures } from './process-meter.js';
import { cpuMsPerOperation, printTable, ratio, writeResults } from './report.js';
import { vmName } from './vm-object.js';
import { describeMachine, machineAtEnd } from './machine.js';
import { envInt } from './env-int.js';

const params = {
  n: envInt('BENCH_N', 5000),
  concurrency: envInt('BENCH_CONCURRENCY', 64),
  watchers: envInt('BENCH_WATCHERS', 100),
  updates: envInt('BENCH_UPDATES', 2000),
  listRepeats: envInt('BENCH_LIST_REPEATS', 5),
  pageLimit: envInt('BENCH_PAGE_LIMIT', 500),
  warmup: envInt('BENCH_WARMUP', 2000),
  slices: envInt('BENCH_SLICES', 10),
  watchDeadlineMs: 60_000,
};

let cluster: TestCluster | undefined;
let etcdMember: EtcdMember | undefined;
let apiserver: ApiserverProcess | undefined;
let etcdClient: Etcd3 | undefined;
let pool: Pool | undefined;

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await pool?.destroy().catch(() => undefined);
    etcdClient?.close();
    await cluster?.stop().catch(() => undefined);
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`bench: ${sig}, stopping etcd and the apiserver\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

async function etcdInfo(member: EtcdMember) {
  const version = (await (await fetch(`${member.endpoint}/version`)).json()) as { etcdserver: string; etcdcluster: string };
  const args = readFileSync(`/proc/${member.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  return {
    version: version.etcdserver,
    clusterVersion: version.etcdcluster,
    members: 1,
    unsafeNoFsync: args.includes('--unsafe-no-fsync'),
    note: args.includes('--unsafe-no-fsync')
      ? 'etcd ran with --unsafe-no-fsync (as @shoal/testing starts it): the WAL is written but never fsynced, so these figures leave out disk sync latency that a production member pays on every write.'
      : 'etcd fsyncs its WAL on every write.',
    flags: args.slice(1).filter((a) => !/^--(data-dir|name|listen|advertise|initial)/.test(a)),
  };
}

const totalCpu = (perOp: Record<string, number>) => Object.values(perOp).reduce((a, b) => a + b, 0);

async function main(): Promise<void> {
  const startedAt = new Date();
  const machine = describeMachine();
  log(`N=${params.n} concurrency=${params.concurrency} watchers=${params.watchers} updates=${params.updates} on ${machine.cpus} CPUs, node ${machine.node}`);

  cluster = await startCluster();
  etcdMember = cluster.etcd;
  apiserver = cluster.apiserver;
  const etcd = await etcdInfo(etcdMember);
  etcdClient = connectEtcd({ servers: [etcdMember.endpoint] });
  const procs = { etcd: etcdMember.pid, apiserver: apiserver.pid, loadgen: process.pid };
  const memory: Record<string, { apiserver: MemoryFigures; etcd: MemoryFigures }> = {};
  const mem = (at: string) => (memory[at] = { apiserver: processMemory(procs.apiserver), etcd: processMemory(procs.etcd) });
  mem('apiserverStarted');

  pool = apiPool(apiserver.url, params.concurrency);
  const raw = etcdBaseline(etcdClient, params.n);
  log('warm-up of the etcd client and the apiserver (not measured)');
  await raw.warmUp(params.warmup, params.concurrency);
  await warmUp(pool, params.warmup, params.concurrency);
  mem('beforeCreates');

  log(`${params.n} raw etcd puts, ${params.n} raw create transactions and ${params.n} apiserver creates, interleaved in ${params.slices} slices`);
  const writes = await interleave([raw.put, createWorkload(pool, params.n), raw.txnCreate], params.slices, params.concurrency, procs);
  const rawPuts = writes.etcdPut!;
  const rawTxnCreates = writes.etcdTxnCreate!;
  const createPhase = writes.apiCreate!;
  mem('afterCreates');
  await catchUpWatchCache(pool);
  const storedKey = `/registry/shoal.dev/virtualmachines/${NAMESPACE}/${vmName(VM_PREFIX, 0)}`;
  const storedValueBytes = (await etcdClient.get(storedKey).buffer())?.length ?? NaN;

  log(`${params.n} raw etcd gets and ${params.n} apiserver gets, interleaved`);
  const reads = await interleave([raw.get, getWorkload(pool, params.n)], params.slices, params.concurrency, procs);
  const rawGets = reads.etcdGet!;
  const getPhase = reads.apiGet!;

  log(`${params.listRepeats} whole lists and ${params.listRepeats} paged traversals (limit=${params.pageLimit})`);
  const fullList = await fullLists(pool, procs, params.listRepeats);
  const pagedList = await pagedLists(pool, procs, params.listRepeats, params.pageLimit);
  mem('afterLists');

  log(`${params.updates} merge-patches with nobody watching`);
  const quietUpdates = (await interleave([patchWorkload(pool, params.n, params.updates)], 1, params.concurrency, procs)).apiPatch!;

  const { text } = await call(pool, 'GET', `/apis/shoal.dev/v1alpha1/namespaces/${NAMESPACE}/virtualmachines?limit=1`);
  const fromRv = (JSON.parse(text) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  log(`${params.watchers} watches from resourceVersion ${fromRv}, then ${params.updates} merge-patches`);
  const watch = await watchFanout(
    apiserver.url,
    pool,
    procs,
    { watchers: params.watchers, updates: params.updates, concurrency: params.concurrency, objects: params.n, deadlineMs: params.watchDeadlineMs },
    fromRv,
  );
  mem('afterWatch');

  const cpuPerOp = {
    rawEtcdPut: cpuMsPerOperation(rawPuts.cpu, rawPuts.succeeded),
    rawEtcdTxnCreate: cpuMsPerOperation(rawTxnCreates.cpu, rawTxnCreates.succeeded),
    rawEtcdGet: cpuMsPerOperation(rawGets.cpu, rawGets.succeeded),
    apiCreate: cpuMsPerOperation(createPhase.cpu, createPhase.succeeded),
    apiGet: cpuMsPerOperation(getPhase.cpu, getPhase.succeeded),
    apiPatchQuiet: cpuMsPerOperation(quietUpdates.cpu, quietUpdates.succeeded),
    apiPatchWatched: cpuMsPerOperation(watch.cpu, watch.writes.succeeded),
    watchEventDelivered: cpuMsPerOperation(watch.cpu, watch.eventsReceived),
  };

  const ratios = {
    createsPerSecondVsRawEtcdPutsPerSecond: ratio(
      createPhase,
      rawPuts,
      0.6,
      'apiserver creates/s over HTTP ÷ raw etcd puts/s from one Node process; same concurrency and value size, interleaved in the same run',
    ),
    createsPerSecondVsRawEtcdTxnCreatesPerSecond: ratio(
      createPhase,
      rawTxnCreates,
      null,
      'apiserver creates/s ÷ raw etcd create-if-absent transactions/s (the etcd operation a create makes)',
    ),
    getsPerSecondVsRawEtcdGetsPerSecond: ratio(getPhase, rawGets, null, 'apiserver gets/s (each one read from etcd) ÷ raw etcd gets/s, interleaved'),
    quietUpdatesPerSecondVsRawEtcdPutsPerSecond: ratio(
      quietUpdates,
      rawPuts,
      null,
      'merge-patches/s (a get, then a compare-and-swap txn) ÷ raw etcd puts/s (not interleaved)',
    ),
    watchedUpdatesPerSecondVsQuietUpdatesPerSecond: ratio(
      watch.writes,
      quietUpdates,
      null,
      `merge-patches/s while ${params.watchers} watchers receive every change ÷ with nobody watching`,
    ),
    rawPutCpuVsCreateCpu: ratio(
      { perSecond: 1 / totalCpu(cpuPerOp.apiCreate) },
      { perSecond: 1 / totalCpu(cpuPerOp.rawEtcdPut) },
      null,
      'CPU ms per raw put ÷ CPU ms per apiserver create, each summed over etcd, apiserver and load generator: less sensitive to other load on the host than throughput; 1.0 would mean a create costs no more CPU than a raw put',
    ),
  };

  // The project's fan-out aim is for 1,000 watchers: event latency p99 <= 50 ms, and patches with
  // them at >= 0.8 x their rate without. Judged from a run with that many (BENCH_WATCHERS=1000);
  // the capacity figure says, from this run's CPU per event, what the aim would take.
  const fanoutAimWatchers = 1000;
  const watchRatio = ratios.watchedUpdatesPerSecondVsQuietUpdatesPerSecond.value;
  const fanoutAim = {
    watchers: params.watchers,
    judged: params.watchers >= fanoutAimWatchers,
    latencyP99Ms: { value: watch.fanoutLatencyFromAck.p99Ms, aim: 50, met: watch.fanoutLatencyFromAck.p99Ms <= 50 },
    watchedUpdatesOverQuiet: { value: watchRatio, aim: 0.8, met: watchRatio >= 0.8 },
    capacity: fanoutCapacity({
      watchers: fanoutAimWatchers,
      quiet: { patches: quietUpdates.succeeded, perSecond: quietUpdates.perSecond, cpu: quietUpdates.cpu },
      watched: { patches: watch.writes.succeeded, events: watch.eventsReceived, cpu: watch.cpu },
      watcherProcess: 'loadgen',
    }),
  };

  const results = {
    benchmark: 'api',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineAtEnd(machine),
    etcd,
    apiserver: { pid: procs.apiserver, note: 'one shoal-apiserver process (node, TypeScript through tsx), default flags' },
    loadGenerator: {
      note: 'this Node process: undici Pool (keep-alive, one connection per request in flight) for the API, the etcd3 client for the baseline, and all the watchers. It shares the CPUs with etcd, the apiserver and whatever else runs on the host (cpu.otherCores in each phase; it also holds kernel time for loopback traffic).',
    },
    method:
      "Raw etcd puts, raw create transactions and apiserver creates run interleaved in slices (rotating order), as do raw and apiserver gets, so each side of a ratio sees the same background load. Per-slice ratios show the spread. After the raw writes, one write through the API lets the watch cache catch up with etcd's revision (it only advances on /registry/ changes; without that, consistent whole lists answer 504).",
    parameters: { ...params, storedVmValueBytes: storedValueBytes, baselineValueBytes: raw.valueBytes },
    baseline: { keyPrefix: BASELINE_PREFIX, valueBytes: raw.valueBytes, puts: rawPuts, txnCreates: rawTxnCreates, gets: rawGets },
    api: { creates: createPhase, gets: getPhase, fullList, pagedList, updatesWithoutWatchers: quietUpdates, watch },
    ratios,
    fanoutAim,
    cpuMsPerOperation: cpuPerOp,
    memory,
  };
  const { file, latest } = await writeResults('api', startedAt, results);

  console.log('');
  console.log(
    `Shoal API benchmark — ${machine.cpus} CPUs (${machine.cpuModel}), node ${machine.node}, etcd ${etcd.version}${etcd.unsafeNoFsync ? ' (--unsafe-no-fsync)' : ''}`,
  );
  console.log(
    `N=${params.n}, ${params.concurrency} in flight, ${params.watchers} watchers × ${params.updates} updates; values ≈${raw.valueBytes.mean} B raw, ${storedValueBytes} B stored by the apiserver`,
  );
  console.log('');
  printTable(
    [
      {
        phase: 'etcd put (raw)',
        ops: rawPuts.succeeded,
        perSecond: rawPuts.perSecond,
        p50Ms: rawPuts.latency.p50Ms,
        p99Ms: rawPuts.latency.p99Ms,
        cpu: rawPuts.cpu,
      },
      {
        phase: 'etcd txn create (raw)',
        ops: rawTxnCreates.succeeded,
        perSecond: rawTxnCreates.perSecond,
        p50Ms: rawTxnCreates.latency.p50Ms,
        p99Ms: rawTxnCreates.latency.p99Ms,
        cpu: rawTxnCreates.cpu,
      },
      {
        phase: 'etcd get (raw)',
        ops: rawGets.succeeded,
        perSecond: rawGets.perSecond,
        p50Ms: rawGets.latency.p50Ms,
        p99Ms: rawGets.latency.p99Ms,
        cpu: rawGets.cpu,
      },
      {
        phase: 'api create',
        ops: createPhase.succeeded,
        perSecond: createPhase.perSecond,
        p50Ms: createPhase.latency.p50Ms,
        p99Ms: createPhase.latency.p99Ms,
        cpu: createPhase.cpu,
      },
      {
        phase: 'api get',
        ops: getPhase.succeeded,
        perSecond: getPhase.perSecond,
        p50Ms: getPhase.latency.p50Ms,
        p99Ms: getPhase.latency.p99Ms,
        cpu: getPhase.cpu,
      },
      {
        phase: `api list (all ${fullList.itemsPerList})`,
        ops: fullList.repeats,
        perSecond: `${fullList.objectsPerSecond} obj/s`,
        p50Ms: fullList.latency.p50Ms,
        p99Ms: fullList.latency.maxMs,
        cpu: fullList.cpu,
      },
      {
        phase: `api list (limit=${params.pageLimit})`,
        ops: pagedList.repeats,
        perSecond: `${pagedList.objectsPerSecond} obj/s`,
        p50Ms: pagedList.latency.p50Ms,
        p99Ms: pagedList.latency.maxMs,
        cpu: pagedList.cpu,
      },
      {
        phase: 'api patch (no watchers)',
        ops: quietUpdates.succeeded,
        perSecond: quietUpdates.perSecond,
        p50Ms: quietUpdates.latency.p50Ms,
        p99Ms: quietUpdates.latency.p99Ms,
        cpu: quietUpdates.cpu,
      },
      {
        phase: `api patch (${params.watchers} watchers)`,
        ops: watch.writes.succeeded,
        perSecond: watch.writes.perSecond,
        p50Ms: watch.writes.latency.p50Ms,
        p99Ms: watch.writes.latency.p99Ms,
        cpu: watch.cpu,
      },
      {
        phase: 'watch events delivered',
        ops: watch.eventsReceived,
        perSecond: watch.eventsDeliveredPerSecond,
        p50Ms: watch.fanoutLatencyFromAck.p50Ms,
        p99Ms: watch.fanoutLatencyFromAck.p99Ms,
      },
    ],
    Object.keys(procs),
  );
  console.log('(list rows: ops = repeats, p99 column = slowest; watch row: latency from write ack to receipt)');
  console.log('');
  for (const [name, r] of Object.entries(ratios)) {
    const spread = r.perSlice ? ` [per slice ${r.perSlice.min}..${r.perSlice.max}, median ${r.perSlice.median}]` : '';
    console.log(`${name}: ${r.value}${r.aim === null ? '' : ` (aim ≥ ${r.aim}: ${r.met ? 'met' : 'not met'})`}${spread}`);
  }
  const judged = (m: { value: number; met: boolean }, unit: string) => `${m.value}${unit}${fanoutAim.judged ? ` (${m.met ? 'met' : 'not met'})` : ''}`;
  console.log(
    `watch fan-out with ${params.watchers} watchers: event p99 ${judged(fanoutAim.latencyP99Ms, ' ms')} (aim ≤ 50 ms with ${fanoutAimWatchers}), patches ${judged(fanoutAim.watchedUpdatesOverQuiet, ' ×')} unwatched (aim ≥ 0.8 × with ${fanoutAimWatchers})${fanoutAim.judged ? '' : `; judged with BENCH_WATCHERS=${fanoutAimWatchers}`}`,
  );
  console.log(describeFanoutCapacity(fanoutAim.capacity));
  console.log(
    `CPU ms per create: apiserver ${cpuPerOp.apiCreate.apiserver}, etcd ${cpuPerOp.apiCreate.etcd}, loadgen ${cpuPerOp.apiCreate.loadgen}; per raw put: etcd ${cpuPerOp.rawEtcdPut.etcd}, loadgen ${cpuPerOp.rawEtcdPut.loadgen}`,
  );
  console.log(
    `apiserver RSS: ${memory.apiserverStarted!.apiserver.rssMiB} MiB at start, ${memory.beforeCreates!.apiserver.rssMiB} before creates, ${memory.afterCreates!.apiserver.rssMiB} after, ${memory.afterWatch!.apiserver.rssMiB} at the end (peak ${memory.afterWatch!.apiserver.peakRssMiB})`,
  );
  if (!watch.complete) console.log(`watch: INCOMPLETE, ${watch.eventsReceived}/${watch.eventsExpected} events within ${params.watchDeadlineMs} ms`);
  const failures = [rawPuts, rawTxnCreates, rawGets, createPhase, getPhase, quietUpdates, watch.writes].reduce((a, p) => a + p.failed, 0);
  if (failures) console.log(`${failures} operations failed; see failureSamples in the JSON`);
  console.log(`\nwrote ${file}\n  and ${latest}`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench: failed: ${(err as Error).stack ?? err}\n`);
  if (apiserver) process.stderr.write(`apiserver output:\n${apiserver.output().slice(-4000)}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
