/**
 * Several apiserver processes on one host: apiservers are stateless, so clients may spread over
 * them (each keeps its own watch cache of the one etcd). Does that pay on this machine? For 1, then
 * up to BENCH_PROCESSES_MAX apiserver processes on one etcd member, the same work spread evenly
 * over them:
 *
 *  - creates, interleaved in slices with raw etcd puts from this process (the baseline of every
 *    write ratio in `npm run bench`), 64 in flight;
 *  - a watch fan-out: BENCH_PROCESSES_WATCHERS watchers of every VM, spread over the apiservers,
 *    while merge-patches (16 in flight) change the VMs.
 *
 * Each figure sits next to the CPU every process used and how busy the machine was: more
 * processes only help while cores are idle. It measures and writes JSON
 * (bench/results/apiserver-processes-<ISO time>.json); it asserts nothing.
 *
 * Environment (defaults in brackets):
 *   BENCH_PROCESSES_MAX [2]          the most apiserver processes tried
 *   BENCH_PROCESSES_CREATES [20000]  creates (and raw puts) per run
 *   BENCH_PROCESSES_WATCHERS [1000]  watchers in the fan-out
 *   BENCH_PROCESSES_UPDATES [1000]   merge-patches while they watch
 */
import { startCluster, type TestCluster } from '@shoal/testing';
import { connectEtcd } from '../apps/apiserver/src/storage/etcd-client.js';
import { catchUpWatchCache, createWorkload, warmUp, NAMESPACE } from './api-throughput.js';
import { etcdBaseline } from './etcd-baseline.js';
import { call, spreadPool } from './http-client.js';
import { interleave } from './interleave.js';
import { describeMachine, machineAtEnd } from './machine.js';
import { envInt } from './env-int.js';
import type { Processes } from './process-meter.js';
import { cpuMsPerOperation, ratio, writeResults } from './report.js';
import { watchFanout } from './watch-fanout.js';

const params = {
  maxApiservers: envInt('BENCH_PROCESSES_MAX', 2),
  creates: envInt('BENCH_PROCESSES_CREATES', 20_000),
  watchers: envInt('BENCH_PROCESSES_WATCHERS', 1000),
  updates: envInt('BENCH_PROCESSES_UPDATES', 1000),
  concurrency: 64,
  patchConcurrency: 16,
  warmup: 2000,
  slices: 6,
};

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

async function measure(cluster: TestCluster, apiservers: number) {
  const urls = cluster.apiservers.map((a) => a.url);
  const procs: Processes = { etcd: cluster.etcd.pid, loadgen: process.pid };
  cluster.apiservers.forEach((a, i) => (procs[`apiserver${i}`] = a.pid));
  const etcd = connectEtcd({ servers: [cluster.etcd.endpoint] });
  const pool = spreadPool(urls, params.concurrency);
  try {
    const raw = etcdBaseline(etcd, params.creates);
    await raw.warmUp(params.warmup, params.concurrency);
    await warmUp(pool, params.warmup, params.concurrency);
    log(`${apiservers} apiserver(s): ${params.creates} creates spread over them, interleaved with as many raw etcd puts`);
    // Without the apiserver's etcd totals: they would be read from whichever apiserver answered.
    const writes = await interleave([raw.put, { ...createWorkload(pool, params.creates), etcdTotals: undefined }], params.slices, params.concurrency, procs);
    const creates = writes.apiCreate!;
    const puts = writes.etcdPut!;
    await catchUpWatchCache(pool);

    log(`${apiservers} apiserver(s): ${params.watchers} watchers spread over them, ${params.updates} merge-patches`);
    const { text } = await call(pool, 'GET', `/apis/shoal.dev/v1alpha1/namespaces/${NAMESPACE}/virtualmachines?limit=1`);
    const fromRv = (JSON.parse(text) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const watch = await watchFanout(
      urls,
      pool,
      procs,
      { watchers: params.watchers, updates: params.updates, concurrency: params.patchConcurrency, objects: params.creates, deadlineMs: 120_000 },
      fromRv,
    );
    return {
      apiservers,
      creates: {
        perSecond: creates.perSecond,
        rawEtcdPutsPerSecond: puts.perSecond,
        createsVsRawEtcdPuts: ratio(creates, puts, null, 'creates/s spread over the apiservers ÷ raw etcd puts/s from this process, interleaved'),
        latency: creates.latency,
        failed: creates.failed,
        cpuMsPerCreate: cpuMsPerOperation(creates.cpu, creates.succeeded),
        averageCores: creates.cpu.averageCores,
        machineBusyFraction: creates.cpu.machineBusyFraction,
      },
      watch: {
        complete: watch.complete,
        eventLatencyFromSend: watch.fanoutLatencyFromSend,
        writesPerSecond: watch.writes.perSecond,
        eventsDeliveredPerSecond: watch.eventsDeliveredPerSecond,
        averageCores: watch.cpu.averageCores,
        machineBusyFraction: watch.cpu.machineBusyFraction,
      },
    };
  } finally {
    await pool.destroy().catch(() => undefined);
    etcd.close();
  }
}

const startedAt = new Date();
const machine = describeMachine();
const runs = [];
for (let apiservers = 1; apiservers <= params.maxApiservers; apiservers++) {
  const cluster = await startCluster({ apiservers });
  try {
    runs.push(await measure(cluster, apiservers));
  } finally {
    await cluster.stop();
  }
}
const written = await writeResults('apiserver-processes', startedAt, { startedAt: startedAt.toISOString(), machine: machineAtEnd(machine), params, runs });

const sum = (cores: Record<string, number>, prefix: string) =>
  Object.entries(cores)
    .filter(([name]) => name.startsWith(prefix))
    .reduce((a, [, c]) => a + c, 0);
console.log('\napiservers  creates/s  ÷ raw puts  apiserver cores  machine busy  |  watch p50 / p99 ms  patches/s  machine busy');
for (const r of runs)
  console.log(
    `${String(r.apiservers).padStart(10)} ${r.creates.perSecond.toFixed(0).padStart(10)} ${r.creates.createsVsRawEtcdPuts.value.toFixed(2).padStart(11)} ${sum(r.creates.averageCores, 'apiserver').toFixed(2).padStart(16)} ${r.creates.machineBusyFraction.toFixed(2).padStart(13)}  | ${`${r.watch.eventLatencyFromSend.p50Ms.toFixed(0)} / ${r.watch.eventLatencyFromSend.p99Ms.toFixed(0)}`.padStart(19)} ${r.watch.writesPerSecond.toFixed(0).padStart(10)} ${r.watch.machineBusyFraction.toFixed(2).padStart(13)}`,
  );
console.log(`\nwrote ${written.file}`);
