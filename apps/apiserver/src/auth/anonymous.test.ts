/**
 * --anonymous-auth against real apiservers over a real etcd: with a token file and the flag, a
 * request without credentials is user system:anonymous in group system:unauthenticated and is
 * authorized by RBAC like anyone else (denied by default, allowed through a binding to the group);
 * a bad token is still 401, never anonymous. Without the flag the same request is 401.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, startCluster, type ApiserverProcess, type HttpAnswer, type TestCluster } from '@shoal/testing';

const V = '/apis/shoal.dev/v1alpha1';
const VMS = `${V}/namespaces/default/virtualmachines`;
let dir: string;
let cluster: TestCluster;
/** --token-auth-file and --anonymous-auth. */
let open: ApiserverProcess;
/** --token-auth-file only. */
let closed: ApiserverProcess;

const TOKENS = `admin-token,admin,1,system:masters
alice-token,alice,2,
`;

const call = (server: ApiserverProcess, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<HttpAnswer> =>
  http(server.url, method, path, opts.body, opts.token ? { authorization: `Bearer ${opts.token}` } : {});

async function asAdmin(method: string, path: string, body: unknown): Promise<void> {
  const r = await call(open, method, path, { token: 'admin-token', body });
  assert.ok(r.status === 200 || r.status === 201, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
}

const vm = (name: string) => ({ metadata: { name }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-anonymous-'));
  const tokenFile = join(dir, 'tokens.csv');
  await writeFile(tokenFile, TOKENS);
  cluster = await startCluster({ apiserverArgs: ['--token-auth-file', tokenFile, '--anonymous-auth'] });
  open = cluster.apiserver;
  closed = await cluster.startApiserver({ args: ['--token-auth-file', tokenFile] });
  await asAdmin('POST', VMS, vm('web'));
});

after(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('with --anonymous-auth, no credentials is system:anonymous, and RBAC denies it by default (403 naming the user)', async () => {
  const list = await call(open, 'GET', VMS);
  assert.equal(list.status, 403, JSON.stringify(list.body));
  assert.equal(list.body.reason, 'Forbidden');
  assert.equal(
    list.body.message,
    'virtualmachines.shoal.dev is forbidden: User "system:anonymous" cannot list resource "virtualmachines" in API group "shoal.dev" in the namespace "default"',
  );
  const get = await call(open, 'GET', `${VMS}/web`);
  assert.equal(get.status, 403);
  assert.equal(
    get.body.message,
    'virtualmachines.shoal.dev "web" is forbidden: User "system:anonymous" cannot get resource "virtualmachines" in API group "shoal.dev" in the namespace "default"',
  );
  // Discovery is for authenticated users (system:discovery); system:anonymous is not one.
  const discovery = await call(open, 'GET', '/apis');
  assert.equal(discovery.status, 403);
  assert.equal(discovery.body.message, 'forbidden: User "system:anonymous" cannot get path "/apis"');
  for (const path of ['/healthz', '/readyz', '/livez', '/version']) assert.equal((await call(open, 'GET', path)).status, 200, path);
});

test('with --anonymous-auth, a bad token or a malformed Authorization header is still 401, not anonymous', async () => {
  for (const headers of [{ authorization: 'Bearer not-a-token' }, { authorization: 'Basic YWRtaW46YWRtaW4=' }, { authorization: 'Bearer' }]) {
    const r = await http(open.url, 'GET', VMS, undefined, headers);
    assert.equal(r.status, 401, `${headers.authorization}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.reason, 'Unauthorized');
  }
  // Even where an anonymous request would be let through.
  assert.equal((await call(open, 'GET', '/healthz', { token: 'not-a-token' })).status, 401);
});

test('a ClusterRoleBinding to group system:unauthenticated grants anonymous requests what the ClusterRole allows, and nothing more', async () => {
  await asAdmin('POST', `${V}/clusterroles`, {
    metadata: { name: 'vm-viewer' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get', 'list'] }],
  });
  await asAdmin('POST', `${V}/clusterrolebindings`, {
    metadata: { name: 'anonymous-views-vms' },
    subjects: [{ kind: 'Group', name: 'system:unauthenticated', apiGroup: 'rbac.authorization.k8s.io' }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'vm-viewer' },
  });
  // The binding is honoured at once (a denial lets the authorizer's cache catch up with etcd first).
  const list = await call(open, 'GET', VMS);
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.deepEqual(
    list.body.items.map((i: { metadata: { name: string } }) => i.metadata.name),
    ['web'],
  );
  const get = await call(open, 'GET', `${VMS}/web`);
  assert.equal(get.status, 200, JSON.stringify(get.body));
  assert.equal(get.body.metadata.name, 'web');
  assert.equal((await call(open, 'GET', `${V}/virtualmachines`)).status, 200, 'a ClusterRoleBinding grants across namespaces');

  const create = await call(open, 'POST', VMS, { body: vm('anon') });
  assert.equal(create.status, 403);
  assert.equal(
    create.body.message,
    'virtualmachines.shoal.dev is forbidden: User "system:anonymous" cannot create resource "virtualmachines" in API group "shoal.dev" in the namespace "default"',
  );
  const watch = await call(open, 'GET', `${VMS}?watch=1`);
  assert.equal(watch.status, 403, 'watch was not granted');
  assert.equal((await call(open, 'GET', `${V}/nodes`)).status, 403, 'other resources were not granted');
  assert.equal((await call(open, 'DELETE', `${VMS}/web`)).status, 403);

  // The group is the anonymous user's alone: an authenticated user without bindings is not in it.
  const alice = await call(open, 'GET', VMS, { token: 'alice-token' });
  assert.equal(alice.status, 403);
  assert.match(alice.body.message, /^virtualmachines\.shoal\.dev is forbidden: User "alice" cannot list/);

  // Removing the binding takes the permission away again.
  await asAdmin('DELETE', `${V}/clusterrolebindings/anonymous-views-vms`, undefined);
  const after = await call(open, 'GET', VMS);
  assert.equal(after.status, 403, JSON.stringify(after.body));
  assert.match(after.body.message, /User "system:anonymous" cannot list/);
});

test('without --anonymous-auth, no credentials is 401 (health and version stay open), whatever is bound to system:unauthenticated', async () => {
  await asAdmin('POST', `${V}/clusterrolebindings`, {
    metadata: { name: 'anonymous-views-vms-again' },
    subjects: [{ kind: 'Group', name: 'system:unauthenticated', apiGroup: 'rbac.authorization.k8s.io' }],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'vm-viewer' },
  });
  // The same binding makes the flagged server answer (so it is in force)...
  assert.equal((await call(open, 'GET', VMS)).status, 200);
  // ...and the server without the flag still refuses to treat the request as anyone at all.
  for (const path of [VMS, `${VMS}/web`, '/apis']) {
    const r = await call(closed, 'GET', path);
    assert.equal(r.status, 401, `${path}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.deepEqual({ kind: r.body.kind, reason: r.body.reason, code: r.body.code }, { kind: 'Status', reason: 'Unauthorized', code: 401 });
  }
  for (const path of ['/healthz', '/version']) assert.equal((await call(closed, 'GET', path)).status, 200, path);
  assert.equal((await call(closed, 'GET', VMS, { token: 'admin-token' })).status, 200, 'tokens still work');
});
