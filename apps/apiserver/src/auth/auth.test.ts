/**
 * Authentication and RBAC against a real apiserver over a real etcd, over HTTPS: bearer tokens
 * from --token-auth-file, client certificates from --client-ca-file, 401 for no or bad
 * credentials (health and version stay open), 403 Status messages as Kubernetes words them,
 * Role vs ClusterRole scope, resourceNames, subresources, non-resource URLs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent, request, type Dispatcher } from 'undici';
import { makeServerCertificates, startCluster, type TestCertificates, type TestCluster } from '@shoal/testing';

const V = '/apis/shoal.dev/v1alpha1';
let cluster: TestCluster;
let certs: TestCertificates;
let url: string;
let trusting: Agent;

const TOKENS = `# token,user,uid,groups
admin-token,admin,1,system:masters
alice-token,alice,2,
bob-token,bob,3,"dev,qa"
prometheus-token,prometheus,4,system:monitoring
`;

/** A client certificate with CN=user and one O per group, signed by the test CA (or by a CA of its own). */
async function clientCertificate(name: string, groups: string[], opts: { untrusted?: boolean } = {}): Promise<{ cert: Buffer; key: Buffer }> {
  const f = (n: string) => join(certs.dir, `${name}-${n}`);
  const subject = `/CN=${name}${groups.map((g) => `/O=${g}`).join('')}`;
  const run = (args: string[]) => execa('openssl', args, { cwd: certs.dir });
  let [ca, caKey] = [certs.caFile, join(certs.dir, 'ca.key')];
  if (opts.untrusted) {
    [ca, caKey] = [f('other-ca.crt'), f('other-ca.key')];
    await run([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      caKey,
      '-out',
      ca,
      '-days',
      '1',
      '-subj',
      '/CN=other-ca',
    ]);
  }
  await run([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    f('client.key'),
    '-out',
    f('client.csr'),
    '-subj',
    subject,
  ]);
  await run(['x509', '-req', '-in', f('client.csr'), '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', f('client.crt'), '-days', '1']);
  return { cert: await readFile(f('client.crt')), key: await readFile(f('client.key')) };
}

interface Answer {
  status: number;
  body: any;
}

async function call(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; dispatcher?: Dispatcher; contentType?: string } = {},
): Promise<Answer> {
  const res = await request(`${url}${path}`, {
    method: method as 'GET',
    dispatcher: opts.dispatcher ?? trusting,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
    },
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
  });
  const text = await res.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.statusCode, body };
}

const admin = (method: string, path: string, body?: unknown) => call(method, path, { token: 'admin-token', body });

async function created(method: string, path: string, body: unknown): Promise<void> {
  const r = await admin(method, path, body);
  assert.ok(r.status === 200 || r.status === 201, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
}

const vm = (name: string) => ({ metadata: { name }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } });

before(async () => {
  certs = await makeServerCertificates();
  const tokenFile = join(certs.dir, 'tokens.csv');
  await writeFile(tokenFile, TOKENS);
  cluster = await startCluster({
    apiserverArgs: [
      '--tls-cert-file',
      certs.certFile,
      '--tls-private-key-file',
      certs.keyFile,
      '--client-ca-file',
      certs.caFile,
      '--token-auth-file',
      tokenFile,
    ],
    client: { caFile: certs.caFile, token: 'admin-token' },
  });
  url = cluster.url;
  trusting = new Agent({ connect: { ca: await readFile(certs.caFile) } });
  await created('POST', `${V}/namespaces`, { metadata: { name: 'prod' } });
  await created('POST', `${V}/namespaces`, { metadata: { name: 'dev' } });
});

after(async () => {
  await cluster?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

test('no credentials: 401 Unauthorized Status; health, readiness, liveness and version stay open', async () => {
  const r = await call('GET', `${V}/namespaces/default/virtualmachines`);
  assert.equal(r.status, 401);
  assert.deepEqual(
    { kind: r.body.kind, reason: r.body.reason, code: r.body.code, message: r.body.message },
    { kind: 'Status', reason: 'Unauthorized', code: 401, message: 'Unauthorized' },
  );
  assert.equal((await call('GET', '/apis')).status, 401, 'discovery needs credentials');
  assert.equal((await call('GET', '/no/such/path')).status, 401, 'unknown paths do not tell strangers they do not exist');
  for (const path of ['/healthz', '/readyz', '/livez', '/version', '/readyz/etcd']) {
    const ok = await call('GET', path);
    assert.equal(ok.status, 200, `${path}: ${JSON.stringify(ok.body)}`);
  }
});

test('a token the file does not list, or a malformed Authorization header, is 401 (even on /healthz)', async () => {
  assert.equal((await call('GET', `${V}/namespaces`, { token: 'not-a-token' })).status, 401);
  assert.equal((await call('GET', '/healthz', { token: 'not-a-token' })).status, 401);
  const res = await request(`${url}${V}/namespaces`, { dispatcher: trusting, headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } });
  assert.equal(res.statusCode, 401);
  await res.body.dump();
});

test('system:masters may do anything; an authenticated user without bindings may only discover', async () => {
  assert.equal((await admin('GET', '/metrics')).status, 200);
  assert.equal((await admin('GET', `${V}/nodes`)).status, 200);
  for (const path of ['/apis', `${V}`, '/openapi/v3', '/version']) assert.equal((await call('GET', path, { token: 'alice-token' })).status, 200, path);

  const denied = await call('POST', `${V}/namespaces/prod/virtualmachines`, { token: 'alice-token', body: vm('nope') });
  assert.equal(denied.status, 403);
  assert.equal(denied.body.reason, 'Forbidden');
  assert.equal(
    denied.body.message,
    'virtualmachines.shoal.dev is forbidden: User "alice" cannot create resource "virtualmachines" in API group "shoal.dev" in the namespace "prod"',
  );
  assert.deepEqual(denied.body.details, { group: 'shoal.dev', kind: 'virtualmachines' });

  const getOne = await call('GET', `${V}/nodes/n1`, { token: 'alice-token' });
  assert.equal(
    getOne.body.message,
    'nodes.shoal.dev "n1" is forbidden: User "alice" cannot get resource "nodes" in API group "shoal.dev" at the cluster scope',
  );
  const metrics = await call('GET', '/metrics', { token: 'alice-token' });
  assert.equal(metrics.status, 403);
  assert.equal(metrics.body.message, 'forbidden: User "alice" cannot get path "/metrics"');
  const watch = await call('GET', `${V}/namespaces/prod/virtualmachines?watch=1`, { token: 'alice-token' });
  assert.match(watch.body.message, /cannot watch resource "virtualmachines"/);
});

test('group system:monitoring reads /metrics (the bootstrap ClusterRole system:monitoring) and nothing else', async () => {
  const metrics = await call('GET', '/metrics', { token: 'prometheus-token' });
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^shoal_apiserver_requests_total\{/m);
  const nodes = await call('GET', `${V}/nodes`, { token: 'prometheus-token' });
  assert.equal(nodes.status, 403);
  assert.match(nodes.body.message, /User "prometheus" cannot list resource "nodes"/);
  const role = await admin('GET', `${V}/clusterroles/system:monitoring`);
  assert.deepEqual(role.body.rules, [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
});

test('a Role is granted by a RoleBinding in its namespace only', async () => {
  await created('POST', `${V}/namespaces/prod/roles`, {
    metadata: { name: 'vm-editor' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get', 'list', 'watch', 'create', 'delete'] }],
  });
  await created('POST', `${V}/namespaces/prod/rolebindings`, {
    metadata: { name: 'alice-edits-vms' },
    subjects: [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }],
    roleRef: { apiGroup: 'shoal.dev', kind: 'Role', name: 'vm-editor' },
  });
  // The binding is honoured at once: a denial first lets the cache catch up with etcd.
  const made = await call('POST', `${V}/namespaces/prod/virtualmachines`, { token: 'alice-token', body: vm('web') });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal((await call('GET', `${V}/namespaces/prod/virtualmachines`, { token: 'alice-token' })).status, 200);
  assert.equal((await call('GET', `${V}/namespaces/prod/virtualmachines/web`, { token: 'alice-token' })).status, 200);

  const elsewhere = await call('POST', `${V}/namespaces/dev/virtualmachines`, { token: 'alice-token', body: vm('web') });
  assert.equal(elsewhere.status, 403);
  assert.match(elsewhere.body.message, /in the namespace "dev"$/);
  assert.equal((await call('GET', `${V}/virtualmachines`, { token: 'alice-token' })).status, 403, 'all namespaces is cluster scope');
  assert.equal(
    (await call('PUT', `${V}/namespaces/prod/virtualmachines/web`, { token: 'alice-token', body: vm('web') })).status,
    403,
    'update was not granted',
  );
  assert.equal((await call('GET', `${V}/namespaces/prod/leases`, { token: 'alice-token' })).status, 403, 'other resources were not granted');
  // Removing the binding takes the permission away.
  await created('DELETE', `${V}/namespaces/prod/rolebindings/alice-edits-vms`, undefined);
  const after = await call('GET', `${V}/namespaces/prod/virtualmachines/web`, { token: 'alice-token' });
  assert.equal(after.status, 403);
});

test('a ClusterRole applies everywhere through a ClusterRoleBinding, and in one namespace through a RoleBinding; groups are subjects', async () => {
  await created('POST', `${V}/clusterroles`, {
    metadata: { name: 'reader' },
    rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'watch'] }],
  });
  // bob is in groups dev and qa (token file); qa reads everything.
  await created('POST', `${V}/clusterrolebindings`, {
    metadata: { name: 'qa-reads' },
    subjects: [{ kind: 'Group', name: 'qa' }],
    roleRef: { kind: 'ClusterRole', name: 'reader' },
  });
  for (const path of [`${V}/nodes`, `${V}/virtualmachines`, `${V}/namespaces/prod/virtualmachines/web`, `${V}/namespaces`]) {
    assert.equal((await call('GET', path, { token: 'bob-token' })).status, 200, path);
  }
  assert.equal((await call('POST', `${V}/namespaces/prod/virtualmachines`, { token: 'bob-token', body: vm('b') })).status, 403);

  // A ClusterRole bound by a RoleBinding grants only in the binding's namespace.
  await created('POST', `${V}/clusterroles`, {
    metadata: { name: 'vm-admin' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines', 'virtualmachines/*'], verbs: ['*'] }],
  });
  await created('POST', `${V}/namespaces/dev/rolebindings`, {
    metadata: { name: 'dev-admins' },
    subjects: [{ kind: 'Group', name: 'dev' }],
    roleRef: { kind: 'ClusterRole', name: 'vm-admin' },
  });
  assert.equal((await call('POST', `${V}/namespaces/dev/virtualmachines`, { token: 'bob-token', body: vm('b') })).status, 201);
  assert.equal((await call('DELETE', `${V}/namespaces/prod/virtualmachines/web`, { token: 'bob-token' })).status, 403);
  assert.equal((await call('DELETE', `${V}/namespaces/dev/virtualmachines/b`, { token: 'bob-token' })).status, 200);
});

test('resourceNames limit a rule to the named objects; subresources are separate resources', async () => {
  await created('POST', `${V}/namespaces/prod/virtualmachines`, vm('db'));
  await created('POST', `${V}/namespaces/prod/roles`, {
    metadata: { name: 'db-operator' },
    rules: [
      { apiGroups: ['shoal.dev'], resources: ['virtualmachines'], resourceNames: ['db'], verbs: ['get', 'list'] },
      { apiGroups: ['shoal.dev'], resources: ['virtualmachines/status'], resourceNames: ['db'], verbs: ['patch'] },
    ],
  });
  await created('POST', `${V}/namespaces/prod/rolebindings`, {
    metadata: { name: 'alice-db' },
    subjects: [{ kind: 'User', name: 'alice' }],
    roleRef: { kind: 'Role', name: 'db-operator' },
  });
  assert.equal((await call('GET', `${V}/namespaces/prod/virtualmachines/db`, { token: 'alice-token' })).status, 200);
  const other = await call('GET', `${V}/namespaces/prod/virtualmachines/web`, { token: 'alice-token' });
  assert.equal(other.status, 403);
  assert.equal(
    other.body.message,
    'virtualmachines.shoal.dev "web" is forbidden: User "alice" cannot get resource "virtualmachines" in API group "shoal.dev" in the namespace "prod"',
  );
  assert.equal((await call('GET', `${V}/namespaces/prod/virtualmachines`, { token: 'alice-token' })).status, 403, 'a list of everything is not a list of db');
  assert.equal(
    (await call('GET', `${V}/namespaces/prod/virtualmachines?fieldSelector=metadata.name%3Ddb`, { token: 'alice-token' })).status,
    200,
    'a list of db by name is',
  );

  const statusPatch = { token: 'alice-token', body: { status: { phase: 'Pending' } }, contentType: 'application/merge-patch+json' };
  assert.equal((await call('PATCH', `${V}/namespaces/prod/virtualmachines/db/status`, statusPatch)).status, 200);
  const main = await call('PATCH', `${V}/namespaces/prod/virtualmachines/db`, { ...statusPatch, body: { metadata: { labels: { a: 'b' } } } });
  assert.equal(main.status, 403);
  assert.match(main.body.message, /cannot patch resource "virtualmachines"/);
  const bind = await call('POST', `${V}/namespaces/prod/virtualmachines/db/binding`, { token: 'alice-token', body: { target: { name: 'n1' } } });
  assert.equal(bind.status, 403);
  assert.match(bind.body.message, /cannot create resource "virtualmachines\/binding"/);
});

test('non-resource URLs need a nonResourceURLs rule in a ClusterRole bound cluster-wide', async () => {
  await created('POST', `${V}/clusterroles`, { metadata: { name: 'metrics-reader' }, rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }] });
  await created('POST', `${V}/clusterrolebindings`, {
    metadata: { name: 'alice-metrics' },
    subjects: [{ kind: 'User', name: 'alice' }],
    roleRef: { kind: 'ClusterRole', name: 'metrics-reader' },
  });
  const r = await call('GET', '/metrics', { token: 'alice-token' });
  assert.equal(r.status, 200);
  assert.match(String(r.body), /shoal_apiserver/);
});

test('client certificates: CN is the user, O the groups; a certificate from another CA is 401', async () => {
  const carol = await clientCertificate('carol', ['ops', 'qa']);
  const asCarol = new Agent({ connect: { ca: await readFile(certs.caFile), ...carol } });
  assert.equal((await call('GET', `${V}/nodes`, { dispatcher: asCarol })).status, 200, 'qa reads everything (ClusterRoleBinding qa-reads)');
  const denied = await call('POST', `${V}/namespaces/prod/virtualmachines`, { dispatcher: asCarol, body: vm('c') });
  assert.equal(denied.status, 403);
  assert.match(denied.body.message, /User "carol" cannot create/);

  const root = await clientCertificate('root', ['system:masters']);
  const asRoot = new Agent({ connect: { ca: await readFile(certs.caFile), ...root } });
  assert.equal((await call('POST', `${V}/namespaces/prod/virtualmachines`, { dispatcher: asRoot, body: vm('c') })).status, 201);

  const forged = await clientCertificate('mallory', ['system:masters'], { untrusted: true });
  const asMallory = new Agent({ connect: { ca: await readFile(certs.caFile), ...forged } });
  const r = await call('GET', `${V}/namespaces`, { dispatcher: asMallory });
  assert.equal(r.status, 401);
  assert.equal(r.body.reason, 'Unauthorized');
});

test('the bootstrap policy exists: cluster-admin for system:masters, a role for the controller-manager', async () => {
  const crb = await admin('GET', `${V}/clusterrolebindings/cluster-admin`);
  assert.deepEqual(crb.body.subjects, [{ kind: 'Group', name: 'system:masters' }]);
  const cm = await admin('GET', `${V}/clusterroles/system:shoal-controller-manager`);
  assert.equal(cm.status, 200);
  assert.ok(cm.body.rules.some((r: { resources?: string[] }) => r.resources?.includes('virtualmachines/binding')));
  const election = await admin('GET', `${V}/namespaces/shoal-system/rolebindings/system:shoal-controller-manager:leader-election`);
  assert.equal(election.status, 200);
});

test('writing roles and bindings does not let anyone grant more than they hold (escalate and bind)', async () => {
  // alice may manage roles and bindings in dev and read VMs there.
  await created('POST', `${V}/namespaces/dev/roles`, {
    metadata: { name: 'rbac-manager' },
    rules: [
      { apiGroups: ['shoal.dev'], resources: ['roles', 'rolebindings'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] },
      { apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get', 'list'] },
    ],
  });
  await created('POST', `${V}/namespaces/dev/rolebindings`, {
    metadata: { name: 'alice-manages-rbac' },
    subjects: [{ kind: 'User', name: 'alice' }],
    roleRef: { kind: 'Role', name: 'rbac-manager' },
  });

  const within = await call('POST', `${V}/namespaces/dev/roles`, {
    token: 'alice-token',
    body: { metadata: { name: 'vm-reader' }, rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get'] }] },
  });
  assert.equal(within.status, 201, JSON.stringify(within.body));
  const more = await call('POST', `${V}/namespaces/dev/roles`, {
    token: 'alice-token',
    body: { metadata: { name: 'vm-deleter' }, rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get', 'delete'] }] },
  });
  assert.equal(more.status, 403);
  assert.equal(
    more.body.message,
    'roles.shoal.dev "vm-deleter" is forbidden: User "alice" is attempting to grant RBAC permissions not currently held: the role would grant what you may not do yourself (delete virtualmachines in API group "shoal.dev"), and you may not escalate roles',
  );
  // Binding a role whose permissions one holds is fine; binding cluster-admin is not.
  assert.equal(
    (
      await call('POST', `${V}/namespaces/dev/rolebindings`, {
        token: 'alice-token',
        body: { metadata: { name: 'bob-reads' }, subjects: [{ kind: 'User', name: 'bob' }], roleRef: { kind: 'Role', name: 'vm-reader' } },
      })
    ).status,
    201,
  );
  const admin = await call('POST', `${V}/namespaces/dev/rolebindings`, {
    token: 'alice-token',
    body: { metadata: { name: 'me-admin' }, subjects: [{ kind: 'User', name: 'alice' }], roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } },
  });
  assert.equal(admin.status, 403);
  assert.match(
    admin.body.message,
    /is attempting to grant RBAC permissions not currently held: ClusterRole "cluster-admin" grants what you may not do yourself/,
  );
  const patch = await call('PATCH', `${V}/namespaces/dev/rolebindings/bob-reads`, {
    token: 'alice-token',
    body: { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } },
    contentType: 'application/merge-patch+json',
  });
  assert.equal(patch.status, 403, 'a patch could point the binding anywhere');
  // With the bind verb on a role, one may bind it without holding it.
  await created('POST', `${V}/clusterroles`, {
    metadata: { name: 'vm-admin-binder' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['clusterroles'], resourceNames: ['vm-admin'], verbs: ['bind'] }],
  });
  await created('POST', `${V}/clusterrolebindings`, {
    metadata: { name: 'alice-binds-vm-admin' },
    subjects: [{ kind: 'User', name: 'alice' }],
    roleRef: { kind: 'ClusterRole', name: 'vm-admin-binder' },
  });
  assert.equal(
    (
      await call('POST', `${V}/namespaces/dev/rolebindings`, {
        token: 'alice-token',
        body: { metadata: { name: 'bob-vm-admin' }, subjects: [{ kind: 'User', name: 'bob' }], roleRef: { kind: 'ClusterRole', name: 'vm-admin' } },
      })
    ).status,
    201,
  );
});
