/**
 * Request checks before any handler runs: path segments, list/watch resourceVersions, whole-number
 * parameters — on every resource route, the log and binding subresources included — methods a
 * path does not allow, future revisions.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'undici';
import { http, startCluster, type TestCluster } from '@shoal/testing';

/** The path exactly as written: URL parsing would resolve '%2e%2e' and '..' before sending. */
async function raw(method: string, path: string, body?: unknown) {
  const client = new Client(cp.url);
  try {
    const json = body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
    const res = await client.request({ method: method as 'GET', path, ...json });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  } finally {
    await client.close();
  }
}

const VMS = '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines';
let cp: TestCluster;

before(async () => {
  cp = await startCluster();
});
after(() => cp?.stop());

test('a name or namespace that is not a path segment is 400 (as Kubernetes), other bad names are 404', async () => {
  for (const seg of ['..', '.', '%2e%2e', '%2E', 'a%2Fb', 'a%25b']) {
    for (const [method, path] of [
      ['GET', `${VMS}/${seg}`],
      ['DELETE', `${VMS}/${seg}`],
      ['GET', `/apis/shoal.dev/v1alpha1/namespaces/${seg}/virtualmachines`],
    ]) {
      const res = await raw(method!, path!);
      assert.equal(res.status, 400, `${method} ${path}`);
      assert.equal(res.body.reason, 'BadRequest');
    }
  }
  assert.equal((await http(cp.url, 'GET', `${VMS}/UPPER`)).status, 404);
});

test('list and watch resourceVersions that are not revisions are 400 naming resourceVersion, the watch before it starts', async () => {
  for (const rv of ['abc', '-1', '1.5', '1e3', '0x10', '99999999999999999999']) {
    for (const q of ['', '&limit=1', '&watch=1&timeoutSeconds=1']) {
      const res = await http(cp.url, 'GET', `${VMS}?resourceVersion=${rv}${q}`);
      assert.equal(res.status, 400, `${rv}${q}`);
      assert.equal(res.body.details.causes[0].field, 'resourceVersion');
    }
  }
  assert.equal((await http(cp.url, 'GET', `${VMS}?resourceVersion=0`)).status, 200);
});

test('a paged list at a revision etcd has not reached is 504 Timeout with Retry-After, not 500', async () => {
  const res = await http(cp.url, 'GET', `${VMS}?limit=1&resourceVersion=1000000000`);
  assert.equal(res.status, 504);
  assert.equal(res.body.reason, 'Timeout');
  assert.equal(res.headers['retry-after'], '1');
});

test('a method a path does not serve is 405 MethodNotAllowed with Allow', async () => {
  const res = await http(cp.url, 'POST', `${VMS}/x`, {});
  assert.equal(res.status, 405);
  assert.equal(res.body.reason, 'MethodNotAllowed');
  assert.match(String(res.headers.allow), /GET.*PUT.*PATCH.*DELETE/);
  assert.equal((await http(cp.url, 'PUT', VMS, {})).status, 405);
  assert.equal((await http(cp.url, 'GET', '/apis/shoal.dev/v1alpha1/widgets')).status, 404);
});

test('the log and binding subresources get the same checks: path segments, whole numbers in base 10, resourceVersions', async () => {
  const NS = '/apis/shoal.dev/v1alpha1/namespaces';
  const bindTo = { target: { name: 'n1' } };
  // Each of these named nothing before (404) or reached the agent lookup; now each is refused as the main routes refuse it.
  for (const [method, path, body, field] of [
    ['GET', `${VMS}/%2e%2e/log`, undefined, 'metadata.name'],
    ['GET', `${NS}/%2e%2e/virtualmachines/web/log`, undefined, 'metadata.namespace'],
    ['GET', `${VMS}/a%2Fb/log`, undefined, 'metadata.name'],
    ['GET', `${VMS}/web/log?tailLines=0x10`, undefined, 'tailLines'],
    ['GET', `${VMS}/web/log?tailLines=1e3`, undefined, 'tailLines'],
    ['GET', `${VMS}/web/log?resourceVersion=abc`, undefined, 'resourceVersion'],
    ['POST', `${VMS}/%2e%2e/binding`, bindTo, 'metadata.name'],
    ['POST', `${NS}/%2E/virtualmachines/web/binding`, bindTo, 'metadata.namespace'],
    ['POST', `${VMS}/a%25b/binding`, bindTo, 'metadata.name'],
    ['POST', `${VMS}/web/binding?resourceVersion=-1`, bindTo, 'resourceVersion'],
  ] as const) {
    const res = await raw(method, path, body);
    assert.equal(res.status, 400, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.reason, 'BadRequest');
    assert.equal(res.body.details.causes[0].field, field, `${method} ${path}`);
  }
  // A good request still goes through to the handler: here, to a VM that does not exist.
  assert.equal((await http(cp.url, 'GET', `${VMS}/web/log?tailLines=10`)).status, 404);
  assert.equal((await http(cp.url, 'POST', `${VMS}/web/binding`, bindTo)).status, 404);
});
