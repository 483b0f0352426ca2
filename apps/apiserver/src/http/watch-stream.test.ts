/** Watches: resumption without gaps or duplicates, selector transitions, bookmarks, and 410 Gone. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { Client } from 'undici';
import { http, openWatch, startCluster, waitFor, type TestCluster } from '@shoal/testing';

const VMS = '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines';
const MERGE = { 'content-type': 'application/merge-patch+json' };
let cp: TestCluster;

const create = async (base: string, name: string, labels: Record<string, string> = {}) => {
  const res = await http(base, 'POST', VMS, { metadata: { name, labels }, spec: {} });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
};

before(async () => {
  cp = await startCluster();
});
after(() => cp?.stop());

test('a watch from a resourceVersion delivers every later change once, in order', async () => {
  const rvs: string[] = [];
  for (let i = 0; i < 10; i++) rvs.push((await create(cp.url, `resume-${i}`)).metadata.resourceVersion);
  const w = await openWatch(cp.url, `${VMS}?watch=1&resourceVersion=${rvs[4]}`);
  await http(cp.url, 'PATCH', `${VMS}/resume-0`, { metadata: { labels: { touched: 'yes' } } }, MERGE);
  await http(cp.url, 'DELETE', `${VMS}/resume-1`);
  await waitFor(() => w.events.length >= 7, { message: '7 events' });
  w.close();
  assert.deepEqual(
    w.events.map((e) => `${e.type} ${e.object.metadata.name}`),
    ['ADDED resume-5', 'ADDED resume-6', 'ADDED resume-7', 'ADDED resume-8', 'ADDED resume-9', 'MODIFIED resume-0', 'DELETED resume-1'],
  );
  const versions = w.events.map((e) => Number(e.object.metadata.resourceVersion));
  assert.deepEqual(
    versions,
    [...versions].sort((a, b) => a - b),
    'resourceVersions increase',
  );
  assert.equal(new Set(versions).size, versions.length, 'no duplicates');
});

test('resourceVersion=0 starts with the current objects as ADDED', async () => {
  await create(cp.url, 'initial-a', { group: 'initial' });
  await create(cp.url, 'initial-b', { group: 'initial' });
  const w = await openWatch(cp.url, `${VMS}?watch=true&resourceVersion=0&labelSelector=group%3Dinitial`);
  await waitFor(() => w.events.length >= 2, { message: 'initial events' });
  w.close();
  assert.deepEqual(w.events.map((e) => `${e.type} ${e.object.metadata.name}`).sort(), ['ADDED initial-a', 'ADDED initial-b']);
});

test('objects entering and leaving a selector appear as ADDED and DELETED', async () => {
  const created = await create(cp.url, 'mover');
  const w = await openWatch(cp.url, `${VMS}?watch=1&resourceVersion=${created.metadata.resourceVersion}&labelSelector=team%3Dblue`);
  await http(cp.url, 'PATCH', `${VMS}/mover`, { metadata: { labels: { team: 'blue' } } }, MERGE);
  await http(cp.url, 'PATCH', `${VMS}/mover`, { spec: { cmdline: 'quiet' } }, MERGE);
  await http(cp.url, 'PATCH', `${VMS}/mover`, { metadata: { labels: { team: 'red' } } }, MERGE);
  await waitFor(() => w.events.length >= 3, { message: '3 events' });
  w.close();
  assert.deepEqual(
    w.events.map((e) => e.type),
    ['ADDED', 'MODIFIED', 'DELETED'],
  );
});

test('bookmarks carry the current resourceVersion when asked for', async () => {
  const created = await create(cp.url, 'bookmarked');
  const w = await openWatch(cp.url, `${VMS}?watch=1&allowWatchBookmarks=true&resourceVersion=${created.metadata.resourceVersion}&labelSelector=none%3Dmatch`);
  await create(cp.url, 'after-bookmark-start');
  const bookmark = await waitFor(() => w.events.find((e) => e.type === 'BOOKMARK'), { timeoutMs: 15_000, message: 'a BOOKMARK' });
  w.close();
  assert.ok(Number(bookmark.object.metadata.resourceVersion) > Number(created.metadata.resourceVersion));
});

test('a Table watch sends one-row tables (kubectl get -w)', async () => {
  const created = await create(cp.url, 'table-watch');
  const w = await openWatch(cp.url, `${VMS}?watch=1&resourceVersion=${created.metadata.resourceVersion}`, {
    accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
  });
  await http(cp.url, 'PATCH', `${VMS}/table-watch`, { metadata: { labels: { x: 'y' } } }, MERGE);
  await waitFor(() => w.events.length >= 1, { message: 'an event' });
  w.close();
  assert.equal(w.events[0]!.object.kind, 'Table');
  assert.equal(w.events[0]!.object.rows[0].cells[0], 'table-watch');
});

test('history older than the watch cache is read from etcd, and is 410 Gone once compacted', async () => {
  const small = await startCluster({ apiserverArgs: ['--watch-cache-size', '5'] });
  const etcd = new Etcd3({ hosts: small.etcd.endpoint });
  try {
    const first = await create(small.url, 'old-0');
    for (let i = 1; i < 20; i++) await create(small.url, `old-${i}`);
    // The window holds 5 changes: this watch reaches past it and is served from etcd, complete.
    const w = await openWatch(small.url, `${VMS}?watch=1&resourceVersion=${first.metadata.resourceVersion}`);
    await waitFor(() => w.events.length >= 19, { message: '19 events from etcd' });
    w.close();
    assert.deepEqual(
      w.events.map((e) => e.object.metadata.name),
      Array.from({ length: 19 }, (_, i) => `old-${i + 1}`),
    );

    const page = await http(small.url, 'GET', `${VMS}?limit=5`);
    await create(small.url, 'after-page');
    const latest = (await etcd.get('/registry/').exec()).header.revision;
    await etcd.kv.compact({ revision: latest, physical: true });

    const gone = await openWatch(small.url, `${VMS}?watch=1&resourceVersion=${first.metadata.resourceVersion}`);
    await gone.ended;
    assert.equal(gone.events.length, 1);
    assert.equal(gone.events[0]!.type, 'ERROR');
    assert.equal(gone.events[0]!.object.code, 410);
    assert.equal(gone.events[0]!.object.reason, 'Expired');

    const cont = await http(small.url, 'GET', `${VMS}?limit=5&continue=${encodeURIComponent(page.body.metadata.continue)}`);
    assert.equal(cont.status, 410, JSON.stringify(cont.body));
    assert.equal(cont.body.reason, 'Expired');
  } finally {
    etcd.close();
    await small.stop();
  }
});

test('a watch pipelined behind another on one connection waits its turn, then gets every event in order', async () => {
  const from = (await create(cp.url, 'pipe-start', { pipe: 'x' })).metadata.resourceVersion;
  // One connection, both requests sent at once: the second response cannot start until the
  // first one (a watch the server ends after 3 s) is over, so its events meanwhile are held back.
  const client = new Client(cp.url, { pipelining: 2 });
  try {
    const query = `watch=1&resourceVersion=${from}&labelSelector=pipe%3Dx`;
    const first = client.request({ method: 'GET', path: `${VMS}?${query}&timeoutSeconds=3` });
    const second = client.request({ method: 'GET', path: `${VMS}?${query}` });
    for (const n of [1, 2, 3]) await create(cp.url, `pipe-during-${n}`, { pipe: 'x' });
    const firstBody = await (await first).body.text();
    assert.deepEqual(linesOf(firstBody), ['pipe-during-1', 'pipe-during-2', 'pipe-during-3']);
    const res = await second;
    assert.equal(res.statusCode, 200);
    for (const n of [1, 2]) await create(cp.url, `pipe-after-${n}`, { pipe: 'x' });
    let text = '';
    res.body.setEncoding('utf8');
    for await (const piece of res.body) {
      text += piece;
      if (linesOf(text).length >= 5) break;
    }
    assert.deepEqual(linesOf(text), ['pipe-during-1', 'pipe-during-2', 'pipe-during-3', 'pipe-after-1', 'pipe-after-2']);
  } finally {
    await client.destroy();
  }
});

/** The names in a watch body's complete event lines. */
function linesOf(body: string): string[] {
  return body
    .split('\n')
    .slice(0, -1)
    .map((l) => (JSON.parse(l) as { object: { metadata: { name: string } } }).object.metadata.name);
}

test('one slow-to-start watcher among hundreds: every watcher gets every event', async () => {
  const created = await create(cp.url, 'fanout');
  const watches = await Promise.all(
    Array.from({ length: 200 }, () =>
      openWatch(cp.url, `${VMS}?watch=1&resourceVersion=${created.metadata.resourceVersion}&fieldSelector=metadata.name%3Dfanout`),
    ),
  );
  for (let i = 0; i < 5; i++) await http(cp.url, 'PATCH', `${VMS}/fanout`, { metadata: { labels: { n: String(i) } } }, MERGE);
  await waitFor(() => watches.every((w) => w.events.length >= 5), { message: 'all watchers to receive 5 events' });
  for (const w of watches) {
    w.close();
    assert.deepEqual(
      w.events.map((e) => e.object.metadata.labels.n),
      ['0', '1', '2', '3', '4'],
    );
  }
});

test('writes elsewhere in a shared etcd do not stall consistent lists or watches', async () => {
  const etcd = new Etcd3({ hosts: cp.etcd.endpoint });
  try {
    await etcd.put('/someone-else/key').value('not json');
    const list = await http(cp.url, 'GET', VMS);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const w = await openWatch(cp.url, `${VMS}?watch=1&resourceVersion=${list.body.metadata.resourceVersion}`);
    await create(cp.url, 'after-foreign-write');
    await waitFor(() => w.events.length >= 1, { message: 'the event after a foreign write' });
    w.close();
    assert.equal(w.events[0]!.object.metadata.name, 'after-foreign-write');
  } finally {
    etcd.close();
  }
});
