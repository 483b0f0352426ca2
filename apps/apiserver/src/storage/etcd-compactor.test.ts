/**
 * The apiservers compact etcd's history, against real etcd:
 *  - the protocol, round by round, with two compactors as two replicas: one compacts per round,
 *    to the revision seen one round before, and the other learns of it; a revision etcd was
 *    compacted past already (by someone else) is done, not an error;
 *  - two real apiservers with --etcd-compaction-interval 2: a watch from a resourceVersion older
 *    than an interval gets 410 Expired on either of them (though their watch caches still held
 *    it), a relist and a watch from it work, the replicas take one round each interval between
 *    them, and /metrics has etcd's database size.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { http, openWatch, startCluster, startEtcd, waitFor, type EtcdMember, type TestCluster } from '@shoal/testing';
import { connectEtcd } from './etcd-client.js';
import { COMPACT_REV_KEY, EtcdCompactor, type CompactorLog } from './etcd-compactor.js';

class Lines implements CompactorLog {
  readonly lines: { level: 'debug' | 'warn'; msg: string; obj: object }[] = [];
  debug(obj: object, msg: string) {
    this.lines.push({ level: 'debug', msg, obj });
  }
  warn(obj: object, msg: string) {
    this.lines.push({ level: 'warn', msg, obj });
  }
}

let etcd: EtcdMember;
let clientA: Etcd3;
let clientB: Etcd3;

before(async () => {
  etcd = await startEtcd();
  clientA = connectEtcd({ servers: [etcd.endpoint] });
  clientB = connectEtcd({ servers: [etcd.endpoint] });
});

after(async () => {
  clientA?.close();
  clientB?.close();
  await etcd?.stop();
});

/** Whether etcd still has history at `revision`. */
async function readableAt(revision: number): Promise<boolean> {
  try {
    await clientA.get('/registry/').revision(String(revision)).exec();
    return true;
  } catch (err) {
    if (/compacted/.test((err as Error).message)) return false;
    throw err;
  }
}

test('one replica compacts each round, to the revision it saw a round before; the other learns it; compacted-past is done', async () => {
  const [logA, logB] = [new Lines(), new Lines()];
  const [learntA, learntB] = [[] as number[], [] as number[]];
  // Never started: the test plays the timer, one round at a time.
  const a = new EtcdCompactor(clientA, { intervalMs: 60_000, log: logA, onCompacted: (r) => learntA.push(r) });
  const b = new EtcdCompactor(clientB, { intervalMs: 60_000, log: logB, onCompacted: (r) => learntB.push(r) });

  for (let i = 0; i < 5; i++) await clientA.put(`/registry/test/k${i}`).value(String(i));
  assert.deepEqual(await a.tick(), { compacted: undefined, firstRound: true }, "the first round starts the clock and compacts nothing (kube-apiserver's rule)");
  const firstRound = (await clientA.get(COMPACT_REV_KEY).exec()).kvs[0]!;
  assert.equal(firstRound.version, '1');
  const seenByA = Number(firstRound.mod_revision);
  assert.deepEqual(await b.tick(), { compacted: undefined, lostTo: 0 }, 'b lost the round: the key moved on since it last looked');

  for (let i = 0; i < 5; i++) await clientB.put(`/registry/test/k${i}`).value(`again-${i}`);
  assert.deepEqual(await a.tick(), { compacted: seenByA, alreadyCompacted: false }, 'a compacts to what it saw one round before');
  assert.equal(await readableAt(seenByA - 1), false, 'history before that revision is gone');
  assert.equal(await readableAt(seenByA), true, 'the revision itself is kept');
  assert.deepEqual(await b.tick(), { compacted: undefined, lostTo: seenByA }, 'b lost this round too, and learns what a compacted to');
  assert.deepEqual(learntB, [seenByA]);

  // Someone compacts further than b will (another replica, a restore, an operator with etcdctl).
  await clientA.put('/registry/test/late').value('x');
  const current = Number((await clientA.get('/registry/').exec()).header.revision);
  await clientA.kv.compact({ revision: String(current), physical: true });
  const bRound = await b.tick();
  assert.equal(
    bRound.compacted !== undefined && bRound.alreadyCompacted,
    true,
    `b won this round and found etcd compacted past its revision: ${JSON.stringify(bRound)}`,
  );
  assert.ok(
    logB.lines.some((l) => l.level === 'debug' && /compacted past/.test(l.msg)),
    'said at debug level',
  );
  assert.deepEqual(await a.tick(), { compacted: undefined, lostTo: bRound.compacted }, 'a takes its turn from the key');
  assert.equal(Number((await clientA.get(COMPACT_REV_KEY).exec()).kvs[0]!.version), 3, 'three rounds, one compaction each');
  assert.deepEqual(
    [...logA.lines, ...logB.lines].filter((l) => l.level !== 'debug'),
    [],
    'nothing worse than debug: no replica fought another',
  );
  assert.deepEqual(learntA, [seenByA, bRound.compacted]);
});

const VMS = '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines';
const MERGE = { 'content-type': 'application/merge-patch+json' };

let cluster: TestCluster | undefined;
after(async () => {
  await cluster?.stop();
});

/** The first event of a watch from `rv` on `url`, once it has one. */
async function firstWatchEvent(url: string, rv: string) {
  const w = await openWatch(url, `${VMS}?watch=1&resourceVersion=${rv}`);
  try {
    return await waitFor(() => w.events[0], { timeoutMs: 5_000, message: `an event on a watch from ${rv}` });
  } finally {
    w.close();
  }
}

const INTERVAL_S = 2;

test('apiservers with --etcd-compaction-interval: old watches get 410 Expired on every replica, a relist works, and /metrics has the db size', async () => {
  cluster = await startCluster({ apiservers: 2, apiserverArgs: ['--etcd-compaction-interval', String(INTERVAL_S), '--etcd-db-metric-poll-interval', '1'] });
  const [one, two] = cluster.apiservers.map((a) => a.url) as [string, string];
  const created = await http(one, 'POST', VMS, { metadata: { name: 'old' }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const oldRv: string = created.body.metadata.resourceVersion;
  for (let i = 0; i < 3; i++) await http(one, 'PATCH', `${VMS}/old`, { metadata: { labels: { n: String(i) } } }, MERGE);
  // Both caches hold every change since oldRv (the first compaction is two intervals after the
  // start): only the compaction makes it Expired.
  assert.equal((await firstWatchEvent(two, oldRv)).type, 'MODIFIED', 'before any compaction the history is served');

  const rounds = async () => Number((await clientOf(cluster!).get(COMPACT_REV_KEY).exec()).kvs[0]?.version ?? 0);
  const startRounds = await rounds();
  const startedAt = Date.now();
  for (const url of [one, two]) {
    const expired = await waitFor(
      async () => {
        const e = await firstWatchEvent(url, oldRv);
        return e.type === 'ERROR' ? e : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, message: `a watch from ${oldRv} on ${url} to be Expired` },
    );
    assert.equal(expired.object.code, 410);
    assert.equal(expired.object.reason, 'Expired');
    assert.equal(expired.object.kind, 'Status');
  }
  // The replicas share the work: one round per interval between them, not one each.
  await waitFor(async () => (await rounds()) >= startRounds + 3, { timeoutMs: 20_000, message: 'three more compaction rounds' });
  const intervals = (Date.now() - startedAt) / 1000 / INTERVAL_S;
  const done = (await rounds()) - startRounds;
  assert.ok(done <= Math.ceil(intervals) + 2, `at most one round an interval between two replicas (${done} in ${intervals.toFixed(1)} intervals)`);

  // Relist, then watch from the list: what an informer does after a 410.
  const list = await http(one, 'GET', VMS);
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.body.items.map((v: { metadata: { name: string } }) => v.metadata.name),
    ['old'],
  );
  const fresh = await openWatch(two, `${VMS}?watch=1&resourceVersion=${list.body.metadata.resourceVersion}`);
  await http(two, 'PATCH', `${VMS}/old`, { metadata: { labels: { relisted: 'yes' } } }, MERGE);
  const afterRelist = await waitFor(() => fresh.events.find((e) => e.type !== 'BOOKMARK'), { message: 'the watch from the relist to see the change' });
  fresh.close();
  assert.equal(afterRelist.type, 'MODIFIED');

  for (const url of [one, two]) {
    const metrics = String((await http(url, 'GET', '/metrics')).body);
    const size = Number(/^shoal_etcd_db_size_bytes (\d+)/m.exec(metrics)?.[1]);
    const inUse = Number(/^shoal_etcd_db_size_in_use_bytes (\d+)/m.exec(metrics)?.[1]);
    assert.ok(
      size > 0,
      `shoal_etcd_db_size_bytes on ${url}:\n${metrics
        .split('\n')
        .filter((l) => l.includes('etcd_db'))
        .join('\n')}`,
    );
    assert.ok(inUse > 0 && inUse <= size, `shoal_etcd_db_size_in_use_bytes ${inUse} of ${size}`);
  }
  for (const a of cluster.apiservers) assert.doesNotMatch(a.output(), /compaction failed/, 'no replica failed a compaction');
});

let direct: Etcd3 | undefined;
function clientOf(c: TestCluster): Etcd3 {
  return (direct ??= connectEtcd({ servers: [c.etcd.endpoint] }));
}
after(() => direct?.close());
