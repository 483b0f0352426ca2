/** Lists: selectors, and pagination that stays consistent over thousands of objects. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { http, startCluster, type TestCluster } from '@shoal/testing';

const VMS = '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines';
const COUNT = 5200;
let cp: TestCluster;

const names = (list: { items: { metadata: { name: string } }[] }) => list.items.map((i) => i.metadata.name);

before(async () => {
  cp = await startCluster();
  let next = 0;
  // 32 writers in parallel: the setup is not what is under test.
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < COUNT) {
        const i = next++;
        const labels: Record<string, string> = { shard: String(i % 4), ...(i % 10 === 0 ? { canary: 'true' } : {}) };
        const res = await http(cp.url, 'POST', VMS, { metadata: { name: `vm-${String(i).padStart(5, '0')}`, labels }, spec: {} });
        assert.equal(res.status, 201);
      }
    }),
  );
});
after(() => cp?.stop());

test(`paging with limit/continue returns each of ${COUNT} objects exactly once, at one revision`, async () => {
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  let revision: string | undefined;
  do {
    const res = await http(cp.url, 'GET', `${VMS}?limit=500${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
    assert.equal(res.status, 200);
    revision ??= res.body.metadata.resourceVersion;
    assert.equal(res.body.metadata.resourceVersion, revision, 'every page is read at the first page revision');
    if (pages === 0) {
      // A write between pages must not show up in this list.
      await http(cp.url, 'POST', VMS, { metadata: { name: 'vm-zz-late' }, spec: {} });
      assert.equal(res.body.metadata.remainingItemCount, COUNT - 500);
    }
    seen.push(...names(res.body));
    token = res.body.metadata.continue;
    pages++;
  } while (token);
  assert.equal(pages, Math.ceil(COUNT / 500));
  assert.equal(seen.length, COUNT);
  assert.equal(new Set(seen).size, COUNT);
  assert.ok(!seen.includes('vm-zz-late'));
  assert.deepEqual(seen, [...seen].sort());
});

test('a full list without limit comes back whole and current', async () => {
  const res = await http(cp.url, 'GET', VMS);
  assert.equal(res.body.items.length, COUNT + 1);
  assert.ok(names(res.body).includes('vm-zz-late'));
});

test('every item of a whole list is the object a GET returns, awkward JSON included', async () => {
  // A whole list is written from each object's stored JSON (http/list-response.ts): these make that text awkward.
  const awkward = [
    {
      spec: { command: ['sh', '-c', 'echo "}{\\"metadata\\":{"'] },
      metadata: { name: 'zz-spec-first', annotations: { 'example.com/quoted': '"\\', 'example.com/text': 'ünï ☃ \u2028 }' } },
    },
    { metadata: { name: 'zz-patched', labels: { before: 'x' } }, spec: {} },
  ];
  for (const body of awkward) assert.equal((await http(cp.url, 'POST', VMS, body)).status, 201);
  const patched = await http(
    cp.url,
    'PATCH',
    `${VMS}/zz-patched`,
    JSON.stringify({ metadata: { labels: { after: 'y' }, annotations: { 'example.com/json': '{"metadata":{}}' } } }),
    {
      'content-type': 'application/merge-patch+json',
    },
  );
  assert.equal(patched.status, 200);

  const list = await http(cp.url, 'GET', VMS);
  assert.equal(list.status, 200);
  assert.match(String(list.headers['content-type']), /^application\/json/);
  const items: { metadata: { name: string; resourceVersion: string } }[] = list.body.items;
  const sample = items.filter((o, i) => i % 97 === 0 || o.metadata.name.startsWith('zz-'));
  assert.ok(sample.length > 50);
  for (const item of sample) {
    const got = await http(cp.url, 'GET', `${VMS}/${item.metadata.name}`);
    assert.deepEqual(item, got.body, item.metadata.name);
    assert.ok(Number(item.metadata.resourceVersion) <= Number(list.body.metadata.resourceVersion));
  }
  assert.deepEqual(items.find((o) => o.metadata.name === 'zz-patched')!.metadata, patched.body.metadata);
  for (const { metadata } of awkward) assert.equal((await http(cp.url, 'DELETE', `${VMS}/${metadata.name}`)).status, 200);
});

test('label selectors: =, !=, in, notin, exists, !exists — also across pages', async () => {
  const count = async (sel: string) => (await http(cp.url, 'GET', `${VMS}?labelSelector=${encodeURIComponent(sel)}`)).body.items.length;
  assert.equal(await count('shard=1'), COUNT / 4);
  assert.equal(await count('shard!=1'), COUNT - COUNT / 4 + 1, 'objects without the label match !=');
  assert.equal(await count('shard in (1,2)'), COUNT / 2);
  assert.equal(await count('shard notin (1,2)'), COUNT / 2 + 1);
  assert.equal(await count('canary'), COUNT / 10);
  assert.equal(await count('!canary'), COUNT - COUNT / 10 + 1);
  assert.equal(await count('canary,shard=0'), COUNT / 20);
  const paged: string[] = [];
  let token: string | undefined;
  do {
    const res = await http(cp.url, 'GET', `${VMS}?limit=100&labelSelector=canary${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
    assert.ok(res.body.items.length <= 100);
    paged.push(...names(res.body));
    token = res.body.metadata.continue;
  } while (token);
  assert.equal(paged.length, COUNT / 10);
  assert.equal(new Set(paged).size, COUNT / 10);
});

test('field selectors on metadata.name and status.phase; unsupported fields are a 400', async () => {
  const byName = await http(cp.url, 'GET', `${VMS}?fieldSelector=metadata.name=vm-00007`);
  assert.deepEqual(names(byName.body), ['vm-00007']);
  const notName = await http(cp.url, 'GET', `${VMS}?fieldSelector=metadata.name!=vm-00007`);
  assert.equal(notName.body.items.length, COUNT);
  const bad = await http(cp.url, 'GET', `${VMS}?fieldSelector=spec.secret=1`);
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /spec.secret/);
  const badLabel = await http(cp.url, 'GET', `${VMS}?labelSelector=${encodeURIComponent('a=(b')}`);
  assert.equal(badLabel.status, 400);
});

test('a bogus continue token is a 400, not a crash', async () => {
  const res = await http(cp.url, 'GET', `${VMS}?limit=10&continue=not-a-token`);
  assert.equal(res.status, 400);
  assert.equal(res.body.kind, 'Status');
});
