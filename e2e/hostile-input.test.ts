/**
 * Hostile input: well over 1,000 generated malformed or hostile requests against a real
 * apiserver over a real etcd (e2e/hostile/cases.ts says what each one is and what a correct
 * server answers). Every answer must be the expected 4xx Status (or, for the few requests
 * Kubernetes answers otherwise, exactly that answer); the whole etcd keyspace — every key,
 * value and revision, nothing excluded — must be what it was before; the server must stay up
 * and answer throughout. A second apiserver on the same etcd with a low per-user rate limit
 * is flooded and must answer 429 TooManyRequests with Retry-After, while its health
 * endpoints keep answering.
 *
 * HOSTILE_SEED=<n> replays another deterministic set of requests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { http, startCluster, waitFor, type ApiserverProcess, type TestCluster } from '@shoal/testing';
import { generateCases, type HostileCase, type Seeded } from './hostile/cases.js';
import { keyspaceChanges, snapshotKeyspace, type KeyspaceSnapshot } from './hostile/keyspace.js';
import { judge, openPool, sendAll, type Outcome } from './hostile/send.js';

const SEED = Number(process.env.HOSTILE_SEED ?? 20_240_601);
const MAX_REQUEST_BYTES = 3 * 1024 * 1024;
const G = '/apis/shoal.dev/v1alpha1';
const NS = 'hostile-a';
const OTHER_NS = 'hostile-b';

let cluster: TestCluster;
let api: ApiserverProcess;
let seeded: Seeded;
let apiExited = false;
let snapshot: KeyspaceSnapshot;
const totals = { sent: 0, correct: 0 };

async function must(method: string, path: string, body?: unknown): Promise<any> {
  const res = await http(api.url, method, path, body);
  if (res.status >= 300) throw new Error(`seeding ${method} ${path}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A snapshot of a keyspace nobody is writing to: the revision is the same on two reads in a row. */
async function quietSnapshot(): Promise<KeyspaceSnapshot> {
  let last = await snapshotKeyspace(cluster.etcd.endpoint);
  await waitFor(
    async () => {
      const now = await snapshotKeyspace(cluster.etcd.endpoint);
      const same = now.revision === last.revision;
      last = now;
      return same;
    },
    { timeoutMs: 10_000, intervalMs: 300, message: 'etcd to stop changing after seeding' },
  );
  return last;
}

before(async () => {
  // The rate limit is on, set far above what this suite sends, so limiting itself is exercised without interfering.
  // No compaction rounds: each writes the apiserver's own key (compact_rev_key), which the keyspace comparisons would count.
  cluster = await startCluster({
    apiserverArgs: [
      '--max-request-bytes',
      String(MAX_REQUEST_BYTES),
      '--max-requests-per-second-per-user',
      '1000000',
      '--rate-limit-burst',
      '1000000',
      '--etcd-compaction-interval',
      '0',
    ],
  });
  api = cluster.apiserver;
  void api.exited.then(() => (apiExited = true));
  for (const name of [NS, OTHER_NS]) await must('POST', `${G}/namespaces`, { metadata: { name } });
  const pc = await must('POST', `${G}/priorityclasses`, { metadata: { name: 'gold' }, spec: { value: 100, description: 'seeded' } });
  const vms = [];
  for (let i = 0; i < 5; i++)
    vms.push(
      await must('POST', `${G}/namespaces/${NS}/virtualmachines`, {
        metadata: { name: `vm-${i}`, labels: { app: 'web', idx: String(i) }, annotations: { note: 'seeded' } },
        spec: {
          resources: { vcpus: 1, memoryMiB: 64 },
          priorityClassName: 'gold',
          command: ['sleep', '1'],
          tolerations: [{ key: 'k', operator: 'Exists' }],
          nodeSelector: { zone: 'a' },
        },
      }),
    );
  await must('POST', `${G}/namespaces/${OTHER_NS}/virtualmachines`, { metadata: { name: 'vm-0' }, spec: { resources: { vcpus: 1, memoryMiB: 64 } } });
  const nodes = [];
  for (const name of ['node-a', 'node-b']) nodes.push(await must('POST', `${G}/nodes`, { metadata: { name, labels: { zone: 'a' } }, spec: {} }));
  seeded = { namespace: NS, otherNamespace: OTHER_NS, vm: vms[0], pc, node: nodes[0], maxRequestBytes: MAX_REQUEST_BYTES };
  snapshot = await quietSnapshot();
});

after(async () => {
  await cluster?.stop();
});

function summarise(label: string, outcomes: Outcome[]): string[] {
  const byCategory = new Map<string, { sent: number; correct: number }>();
  for (const o of outcomes) {
    const c = byCategory.get(o.c.category) ?? { sent: 0, correct: 0 };
    c.sent++;
    if (!o.wrong) c.correct++;
    byCategory.set(o.c.category, c);
  }
  const lines = [...byCategory].map(
    ([cat, c]) => `  ${label}${cat.padEnd(20)} sent ${String(c.sent).padStart(4)}, answered correctly ${String(c.correct).padStart(4)}`,
  );
  return lines;
}

function describeWrong(outcomes: Outcome[]): string {
  const wrong = outcomes.filter((o) => o.wrong);
  return (
    wrong
      .slice(0, 400)
      .map((o) => `[${o.c.category}] ${o.c.what} — ${o.c.method} ${o.c.path.slice(0, 100)}: ${o.wrong}`)
      .join('\n') + (wrong.length > 400 ? `\n… and ${wrong.length - 400} more` : '')
  );
}

/** Probes /healthz while requests run: every probe must answer 200 within 5 s. */
function healthProbe(url: string) {
  let stop = false;
  const failures: string[] = [];
  let probes = 0;
  const done = (async () => {
    while (!stop) {
      probes++;
      const t0 = Date.now();
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
        if (res.status !== 200) failures.push(`/healthz answered ${res.status}`);
      } catch (err) {
        failures.push(`/healthz: ${(err as Error).message} after ${Date.now() - t0} ms`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      stop = true;
      await done;
      return { probes, failures };
    },
  };
}

test('every hostile request gets the right Status and changes nothing; the server stays up', async () => {
  const cases = generateCases(SEED, seeded);
  assert.ok(cases.length >= 1000, `only ${cases.length} cases generated`);
  const pool = openPool(api.url, 16);
  const probe = healthProbe(api.url);
  const t0 = Date.now();
  const outcomes = await sendAll(pool, cases, 16);
  const elapsed = Date.now() - t0;
  const health = await probe.stop();
  await pool.close();

  const after = await snapshotKeyspace(cluster.etcd.endpoint);
  const changes = keyspaceChanges(snapshot, after);
  const correct = outcomes.filter((o) => !o.wrong).length;
  totals.sent += outcomes.length;
  totals.correct += correct;
  const slow = [...outcomes].sort((a, b) => b.ms - a.ms).slice(0, 3);
  console.log(
    [
      `hostile input (seed ${SEED}), ${outcomes.length} requests in ${(elapsed / 1000).toFixed(1)} s, ${health.probes} /healthz probes during them:`,
      ...summarise('', outcomes),
      `  slowest: ${slow.map((o) => `${o.c.what} ${o.ms} ms`).join('; ')}`,
      `hostile input: sent ${outcomes.length}, rejected correctly ${correct}, state changes ${changes.length}`,
    ].join('\n'),
  );

  if (correct < outcomes.length) console.log(`wrong answers:\n${describeWrong(outcomes)}`);
  assert.deepEqual(changes, [], 'etcd changed');
  assert.equal(apiExited, false, `the apiserver exited:\n${api.output().slice(-2000)}`);
  assert.deepEqual(health.failures, [], 'the server stopped answering /healthz during the run');
  for (const path of ['/healthz', '/readyz', '/livez']) assert.equal((await http(api.url, 'GET', path)).status, 200, path);
  assert.equal(correct, outcomes.length, `${outcomes.length - correct} wrong answers:\n${describeWrong(outcomes)}`);
});

test('a flood against a low per-user rate limit is answered 429 with Retry-After; probes and later requests still work', async () => {
  const limited = await cluster.startApiserver({
    args: ['--max-request-bytes', String(MAX_REQUEST_BYTES), '--max-requests-per-second-per-user', '5', '--rate-limit-burst', '10'],
  });
  const hostile = generateCases(SEED + 1, seeded).filter((c) => !Buffer.isBuffer(c.body) && (c.body?.length ?? 0) < 100_000 && c.expect.code !== 504);
  const flood: HostileCase[] = [];
  for (let i = 0; i < 400; i++)
    flood.push(
      i % 4 === 0
        ? { category: 'flood', what: 'list', method: 'GET', path: `${G}/namespaces/${NS}/virtualmachines`, headers: {}, expect: { code: 200 } }
        : { ...hostile[(i * 7) % hostile.length]!, category: 'flood' },
    );
  const limitedOrExpected = (c: HostileCase, status: number, body: any, headers: Record<string, unknown>) => {
    if (status === 429) return judge({ code: 429, reason: 'TooManyRequests', retryAfter: true }, status, body, headers);
    return judge(c.expect, status, body, headers);
  };
  const pool = openPool(limited.url, 32);
  const probe = healthProbe(limited.url);
  const t0 = Date.now();
  const outcomes = await sendAll(pool, flood, 32, limitedOrExpected);
  const elapsedS = (Date.now() - t0) / 1000;
  const health = await probe.stop();
  const readyz = await http(limited.url, 'GET', '/readyz');

  const refused = outcomes.filter((o) => o.status === 429);
  const correct = outcomes.filter((o) => !o.wrong).length;
  totals.sent += outcomes.length;
  totals.correct += correct;
  // Once refused, wait as told and try again: the request goes through.
  const retryAfterS = Number(refused[0]?.retryAfter ?? 1);
  await new Promise((r) => setTimeout(r, retryAfterS * 1000));
  const afterWait = await http(limited.url, 'GET', `${G}/namespaces/${NS}/virtualmachines`);
  // /metrics is limited like any other path: read it only now that the bucket has refilled.
  const metrics = String((await http(limited.url, 'GET', '/metrics')).body);
  const counted = Number(/^shoal_apiserver_rate_limited_requests_total (\d+)/m.exec(metrics)?.[1] ?? -1);
  await pool.close();

  const changes = keyspaceChanges(snapshot, await snapshotKeyspace(cluster.etcd.endpoint));
  console.log(
    [
      `rate limit flood: ${outcomes.length} requests in ${elapsedS.toFixed(1)} s at 5/s, burst 10: ${refused.length} answered 429 (Retry-After ${retryAfterS} s), ${outcomes.length - refused.length} let through and answered as without a limit; ${health.probes} /healthz probes all 200: ${health.failures.length === 0}`,
      `hostile input: sent ${totals.sent}, rejected correctly ${totals.correct}, state changes ${changes.length}`,
    ].join('\n'),
  );
  const allowed = 10 + Math.ceil(5 * elapsedS) + 1;
  assert.ok(outcomes.length - refused.length <= allowed, `${outcomes.length - refused.length} requests got through, the bucket allows ${allowed}`);
  assert.ok(refused.length >= outcomes.length - allowed);
  assert.equal(correct, outcomes.length, describeWrong(outcomes));
  assert.equal(counted, refused.length, 'every 429 is counted in shoal_apiserver_rate_limited_requests_total');
  assert.deepEqual(health.failures, [], 'health endpoints are exempt from the limit');
  assert.equal(readyz.status, 200);
  assert.equal(afterWait.status, 200, 'after Retry-After the user is served again');
  assert.deepEqual(changes, [], 'etcd changed');
});

test('after all of it the server still does its job: a valid create, get and delete work', async () => {
  // Compared above, before this write: the keyspace comparison is not disturbed by it.
  const created = await http(api.url, 'POST', `${G}/namespaces/${NS}/virtualmachines`, {
    metadata: { name: 'still-works' },
    spec: { resources: { vcpus: 1, memoryMiB: 64 } },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal((await http(api.url, 'GET', `${G}/namespaces/${NS}/virtualmachines/still-works`)).status, 200);
  assert.equal((await http(api.url, 'DELETE', `${G}/namespaces/${NS}/virtualmachines/still-works`)).status, 200);
  for (const path of ['/healthz', '/readyz']) assert.equal((await http(api.url, 'GET', path)).status, 200, path);
});
