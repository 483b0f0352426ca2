/** Two apiserver replicas on one etcd behave as one server; readiness follows etcd. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { VirtualMachine } from '@shoal/api';
import { http, openWatch, startCluster, waitFor, type ApiserverProcess, type TestCluster } from '@shoal/testing';

const VMS = '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines';
let cluster: TestCluster;
let a: ApiserverProcess;
let b: ApiserverProcess;

before(async () => {
  cluster = await startCluster({ apiservers: 2 });
  [a, b] = cluster.apiservers as [ApiserverProcess, ApiserverProcess];
});
after(async () => {
  await cluster?.stop();
});

test('write through A, read and watch through B', async () => {
  const start = await http(b.url, 'GET', VMS);
  const w = await openWatch(b.url, `${VMS}?watch=1&resourceVersion=${start.body.metadata.resourceVersion}`);
  const created = await http(a.url, 'POST', VMS, { metadata: { name: 'shared' }, spec: {} });
  // A consistent list on B includes a write A acknowledged, even if B's cache had not seen it yet.
  const listed = await http(b.url, 'GET', VMS);
  assert.ok(listed.body.items.some((i: VirtualMachine) => i.metadata.name === 'shared'));
  await waitFor(() => w.events.length >= 1, { message: 'the event on B' });
  w.close();
  assert.equal(w.events[0]!.type, 'ADDED');
  assert.equal(w.events[0]!.object.metadata.resourceVersion, created.body.metadata.resourceVersion);
});

test('a watch on B from a resourceVersion that A just returned does not miss the change', async () => {
  const created = await http(a.url, 'POST', VMS, { metadata: { name: 'fresh' }, spec: {} });
  const rv = created.body.metadata.resourceVersion;
  const w = await openWatch(b.url, `${VMS}?watch=1&resourceVersion=${rv}`);
  const patched = await http(a.url, 'PATCH', `${VMS}/fresh`, { metadata: { labels: { v: '2' } } }, { 'content-type': 'application/merge-patch+json' });
  await waitFor(() => w.events.length >= 1, { message: 'the MODIFIED event on B' });
  w.close();
  assert.equal(w.events.length, 1, 'the create itself is not repeated');
  assert.equal(w.events[0]!.object.metadata.resourceVersion, patched.body.metadata.resourceVersion);
});

test('concurrent updates through both replicas: exactly one wins, the other gets 409', async () => {
  const created = (await http(a.url, 'POST', VMS, { metadata: { name: 'contended' }, spec: {} })).body;
  const update = (base: string, vcpus: number) =>
    http(base, 'PUT', `${VMS}/contended`, { ...created, spec: { ...created.spec, resources: { vcpus, memoryMiB: 256 } } });
  const [ra, rb] = await Promise.all([update(a.url, 2), update(b.url, 3)]);
  assert.deepEqual([ra.status, rb.status].sort(), [200, 409]);
  const winner = ra.status === 200 ? 2 : 3;
  assert.equal((await http(b.url, 'GET', `${VMS}/contended`)).body.spec.resources.vcpus, winner);
});

const MERGE = { 'content-type': 'application/merge-patch+json' };

test('patches through one replica right after writes through the other are never lost, even when its cache is behind', async () => {
  assert.equal((await http(a.url, 'POST', VMS, { metadata: { name: 'both' }, spec: {} })).status, 201);
  for (let i = 0; i < 40; i++) {
    // B moves the label on; A at once sets it back to the value A's cache may still show: judged
    // on that copy alone the patch would change nothing, and B's value would stand.
    assert.equal((await http(b.url, 'PATCH', `${VMS}/both`, { metadata: { labels: { v: `b${i}` } } }, MERGE)).status, 200);
    const back = await http(a.url, 'PATCH', `${VMS}/both`, { metadata: { labels: { v: i ? `a${i - 1}` : 'a' } } }, MERGE);
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.metadata.labels.v, i ? `a${i - 1}` : 'a');
    // Both replicas' next patches set the same label from either side: every one applies.
    await Promise.all([
      http(a.url, 'PATCH', `${VMS}/both`, { metadata: { labels: { [`a${i}`]: 'x' } } }, MERGE),
      http(b.url, 'PATCH', `${VMS}/both`, { metadata: { labels: { [`b${i}`]: 'x' } } }, MERGE),
    ]);
    const now = (await http(b.url, 'GET', `${VMS}/both`)).body;
    assert.equal(now.metadata.labels.v, i ? `a${i - 1}` : 'a');
    assert.equal(now.metadata.labels[`a${i}`], 'x');
    assert.equal(now.metadata.labels[`b${i}`], 'x');
  }
});

test('with etcd gone the apiservers report not ready and refuse writes with a clear 5xx', async () => {
  const lone = await startCluster();
  const server = lone.apiserver;
  try {
    assert.equal((await http(server.url, 'GET', '/readyz')).status, 200);
    await lone.etcd.stop();
    await waitFor(async () => (await http(server.url, 'GET', '/readyz')).status === 503, { timeoutMs: 20_000, message: 'readyz to turn 503' });
    const write = await http(server.url, 'POST', VMS, { metadata: { name: 'nowhere' }, spec: {} });
    assert.ok(write.status >= 500, `expected a 5xx, got ${write.status}`);
    assert.equal(write.body.kind, 'Status');
    assert.equal((await http(server.url, 'GET', '/healthz')).status, 200, 'the process itself is alive');
  } finally {
    await lone.stop();
  }
});
