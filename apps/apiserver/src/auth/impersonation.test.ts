/**
 * Impersonation and ServiceAccount subjects against a real apiserver over a real etcd, with a
 * token file and an audit log: who may impersonate whom (users, groups, service accounts,
 * uids and extras), that the request is then authorized as the impersonated user only (its
 * RBAC, the escalation check, the Node mode), what the audit log says, and that a
 * ClusterRoleBinding's ServiceAccount subject must name its namespace.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { readAuditLog, startCluster, waitFor, type TestCluster } from '@shoal/testing';

const V = '/apis/shoal.dev/v1alpha1';
const SA = 'system:serviceaccount:tenant-a:deployer';
let dir: string;
let auditLog: string;
let cluster: TestCluster;

const TOKENS = `admin-token,admin,1,system:masters
bob-token,bob,2,
gitops-token,gitops,3,
`;

interface Answer {
  status: number;
  body: any;
}

/** A request with a token and impersonation headers (a list repeats the header, as kubectl --as-group does). */
async function call(
  method: string,
  path: string,
  opts: { token: string; as?: Record<string, string | string[]>; body?: unknown; contentType?: string },
): Promise<Answer> {
  const res = await request(`${cluster.url}${path}`, {
    method: method as 'GET',
    headers: {
      authorization: `Bearer ${opts.token}`,
      ...opts.as,
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

async function asAdmin(method: string, path: string, body?: unknown): Promise<void> {
  const r = await call(method, path, { token: 'admin-token', body });
  assert.ok(r.status === 200 || r.status === 201, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
}

const vm = (name: string) => ({ metadata: { name }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } });
const vms = (ns: string) => `${V}/namespaces/${ns}/virtualmachines`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-impersonation-'));
  const tokenFile = join(dir, 'tokens.csv');
  auditLog = join(dir, 'audit.log');
  await writeFile(tokenFile, TOKENS);
  cluster = await startCluster({ apiserverArgs: ['--token-auth-file', tokenFile, '--audit-log-path', auditLog] });
  for (const ns of ['tenant-a', 'tenant-b']) await asAdmin('POST', `${V}/namespaces`, { metadata: { name: ns } });
  // Group devs may read VMs in tenant-a; the service account tenant-a/deployer may write VMs and RoleBindings there.
  await asAdmin('POST', `${V}/namespaces/tenant-a/roles`, {
    metadata: { name: 'vm-reader' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get', 'list'] }],
  });
  await asAdmin('POST', `${V}/namespaces/tenant-a/rolebindings`, {
    metadata: { name: 'devs-read' },
    subjects: [{ kind: 'Group', name: 'devs' }],
    roleRef: { kind: 'Role', name: 'vm-reader' },
  });
  await asAdmin('POST', `${V}/namespaces/tenant-a/roles`, {
    metadata: { name: 'deployer' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines', 'rolebindings'], verbs: ['get', 'list', 'create', 'update', 'delete'] }],
  });
  await asAdmin('POST', `${V}/namespaces/tenant-a/rolebindings`, {
    metadata: { name: 'deployer' },
    // No namespace: the binding's own, as in Kubernetes.
    subjects: [{ kind: 'ServiceAccount', name: 'deployer' }],
    roleRef: { kind: 'Role', name: 'deployer' },
  });
});

after(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('an admin acts as alice in group devs: only what alice and devs may do, and the audit log names both users', async () => {
  const as = { 'impersonate-user': 'alice', 'impersonate-group': ['devs', 'qa'] };
  assert.equal((await call('GET', vms('tenant-a'), { token: 'admin-token', as })).status, 200, 'devs read VMs in tenant-a');
  const write = await call('POST', vms('tenant-a'), { token: 'admin-token', as, body: vm('by-alice') });
  assert.equal(write.status, 403, 'system:masters of the requester does not carry over');
  assert.equal(
    write.body.message,
    'virtualmachines.shoal.dev is forbidden: User "alice" cannot create resource "virtualmachines" in API group "shoal.dev" in the namespace "tenant-a"',
  );
  assert.equal((await call('GET', `${V}/nodes`, { token: 'admin-token', as })).status, 403);

  const entry = await waitFor(async () => (await readAuditLog(auditLog)).find((e) => e.code === 403 && e.impersonatedUser?.username === 'alice'));
  assert.equal(entry.user, 'admin');
  assert.deepEqual([...entry.groups].sort(), ['system:authenticated', 'system:masters']);
  assert.deepEqual(entry.impersonatedUser, { username: 'alice', groups: ['devs', 'qa', 'system:authenticated'] });
});

test('without the impersonate right: 403 naming what may not be impersonated; each user, group, uid and extra needs its own', async () => {
  const asAlice = { 'impersonate-user': 'alice', 'impersonate-group': 'devs' };
  const refused = await call('GET', vms('tenant-a'), { token: 'bob-token', as: asAlice });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.reason, 'Forbidden');
  assert.equal(refused.body.message, 'users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope');
  assert.deepEqual(refused.body.details, { name: 'alice', group: '', kind: 'users' });
  const discovery = await call('GET', '/apis', { token: 'bob-token', as: asAlice });
  assert.equal(discovery.status, 403, 'discovery too: the requester is checked before anything else');
  assert.equal(discovery.body.message, refused.body.message);

  // Kubernetes' own shape of the rule: the core group "".
  await asAdmin('POST', `${V}/clusterroles`, {
    metadata: { name: 'impersonate-alice' },
    rules: [{ apiGroups: [''], resources: ['users'], resourceNames: ['alice'], verbs: ['impersonate'] }],
  });
  await asAdmin('POST', `${V}/clusterrolebindings`, {
    metadata: { name: 'bob-impersonates-alice' },
    subjects: [{ kind: 'User', name: 'bob' }],
    roleRef: { kind: 'ClusterRole', name: 'impersonate-alice' },
  });
  assert.equal((await call('GET', vms('tenant-a'), { token: 'bob-token', as: { 'impersonate-user': 'alice' } })).status, 403, 'alice alone may not read');
  const group = await call('GET', vms('tenant-a'), { token: 'bob-token', as: asAlice });
  assert.equal(group.status, 403);
  assert.equal(group.body.message, 'groups "devs" is forbidden: User "bob" cannot impersonate resource "groups" in API group "" at the cluster scope');
  const carol = await call('GET', vms('tenant-a'), { token: 'bob-token', as: { 'impersonate-user': 'carol' } });
  assert.match(carol.body.message, /^users "carol" is forbidden/);

  // Our own group works as well.
  await asAdmin('POST', `${V}/clusterroles`, {
    metadata: { name: 'impersonate-devs' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['groups'], resourceNames: ['devs'], verbs: ['impersonate'] }],
  });
  await asAdmin('POST', `${V}/clusterrolebindings`, {
    metadata: { name: 'bob-impersonates-devs' },
    subjects: [{ kind: 'User', name: 'bob' }],
    roleRef: { kind: 'ClusterRole', name: 'impersonate-devs' },
  });
  assert.equal((await call('GET', vms('tenant-a'), { token: 'bob-token', as: asAlice })).status, 200);

  const uid = await call('GET', vms('tenant-a'), { token: 'bob-token', as: { ...asAlice, 'impersonate-uid': '42' } });
  assert.equal(uid.status, 403);
  assert.equal(
    uid.body.message,
    'uids.authentication.k8s.io "42" is forbidden: User "bob" cannot impersonate resource "uids" in API group "authentication.k8s.io" at the cluster scope',
  );
  const extra = await call('GET', vms('tenant-a'), { token: 'bob-token', as: { ...asAlice, 'impersonate-extra-scopes': 'view' } });
  assert.equal(extra.status, 403);
  assert.match(extra.body.message, /^userextras\.authentication\.k8s\.io "view" is forbidden: User "bob" cannot impersonate resource "userextras\/scopes"/);
  await asAdmin('POST', `${V}/clusterroles`, {
    metadata: { name: 'impersonate-attributes' },
    rules: [{ apiGroups: ['authentication.k8s.io'], resources: ['uids', 'userextras/scopes'], verbs: ['impersonate'] }],
  });
  await asAdmin('POST', `${V}/clusterrolebindings`, {
    metadata: { name: 'bob-impersonates-attributes' },
    subjects: [{ kind: 'User', name: 'bob' }],
    roleRef: { kind: 'ClusterRole', name: 'impersonate-attributes' },
  });
  const both = await call('GET', vms('tenant-a'), { token: 'bob-token', as: { ...asAlice, 'impersonate-uid': '42', 'impersonate-extra-scopes': 'view' } });
  assert.equal(both.status, 200, JSON.stringify(both.body));

  const noUser = await call('GET', vms('tenant-a'), { token: 'admin-token', as: { 'impersonate-group': 'devs' } });
  assert.equal(noUser.status, 400);
  assert.equal(noUser.body.message, 'requested Impersonate-Group without impersonating a user (Impersonate-User)');
});

test('a service account: impersonated with the serviceaccounts right in its namespace; its RoleBinding grants in tenant-a, not in tenant-b', async () => {
  const as = { 'impersonate-user': SA };
  const refused = await call('POST', vms('tenant-a'), { token: 'gitops-token', as, body: vm('app') });
  assert.equal(refused.status, 403);
  assert.equal(
    refused.body.message,
    'serviceaccounts "deployer" is forbidden: User "gitops" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "tenant-a"',
  );
  // A RoleBinding in tenant-a: the right to act as tenant-a's accounts, and no other namespace's.
  await asAdmin('POST', `${V}/clusterroles`, {
    metadata: { name: 'impersonate-serviceaccounts' },
    rules: [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] }],
  });
  await asAdmin('POST', `${V}/namespaces/tenant-a/rolebindings`, {
    metadata: { name: 'gitops-impersonates' },
    subjects: [{ kind: 'User', name: 'gitops' }],
    roleRef: { kind: 'ClusterRole', name: 'impersonate-serviceaccounts' },
  });
  const made = await call('POST', vms('tenant-a'), { token: 'gitops-token', as, body: vm('app') });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const elsewhere = await call('POST', vms('tenant-b'), { token: 'gitops-token', as, body: vm('app') });
  assert.equal(elsewhere.status, 403);
  assert.equal(
    elsewhere.body.message,
    `virtualmachines.shoal.dev is forbidden: User "${SA}" cannot create resource "virtualmachines" in API group "shoal.dev" in the namespace "tenant-b"`,
  );
  const otherAccount = await call('GET', vms('tenant-b'), { token: 'gitops-token', as: { 'impersonate-user': 'system:serviceaccount:tenant-b:deployer' } });
  assert.equal(otherAccount.status, 403);
  assert.match(otherAccount.body.message, /^serviceaccounts "deployer" is forbidden: User "gitops" cannot impersonate .* in the namespace "tenant-b"$/);

  // The account is in system:serviceaccounts:tenant-a: a binding to that group applies to it.
  await asAdmin('POST', `${V}/namespaces/tenant-b/roles`, {
    metadata: { name: 'vm-reader' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['list'] }],
  });
  await asAdmin('POST', `${V}/namespaces/tenant-b/rolebindings`, {
    metadata: { name: 'tenant-a-accounts-read' },
    subjects: [{ kind: 'Group', name: 'system:serviceaccounts:tenant-a' }],
    roleRef: { kind: 'Role', name: 'vm-reader' },
  });
  assert.equal((await call('GET', vms('tenant-b'), { token: 'gitops-token', as })).status, 200);

  const entry = await waitFor(async () => (await readAuditLog(auditLog)).find((e) => e.name === 'app' && e.namespace === 'tenant-a' && e.code === 201));
  assert.equal(entry.user, 'gitops');
  assert.deepEqual(entry.impersonatedUser, {
    username: SA,
    groups: ['system:serviceaccounts', 'system:serviceaccounts:tenant-a', 'system:authenticated'],
  });
});

test('impersonating gains nothing beyond the impersonated identity: an admin acting as the account may not bind cluster-admin', async () => {
  const as = { 'impersonate-user': SA };
  const grant = await call('POST', `${V}/namespaces/tenant-a/rolebindings`, {
    token: 'admin-token',
    as,
    body: { metadata: { name: 'root' }, subjects: [{ kind: 'User', name: 'mallory' }], roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } },
  });
  assert.equal(grant.status, 403);
  assert.match(grant.body.message, new RegExp(`User "${SA}" is attempting to grant RBAC permissions not currently held: ClusterRole "cluster-admin" grants`));
  // What the account holds it may hand on.
  const within = await call('POST', `${V}/namespaces/tenant-a/rolebindings`, {
    token: 'admin-token',
    as,
    body: { metadata: { name: 'deployer-2' }, subjects: [{ kind: 'ServiceAccount', name: 'deployer-2' }], roleRef: { kind: 'Role', name: 'deployer' } },
  });
  assert.equal(within.status, 201, JSON.stringify(within.body));
});

test("a node's identity: its limits hold when impersonated, and it cannot be taken without the right to both its user and system:nodes", async () => {
  const node = { 'impersonate-user': 'system:node:n1', 'impersonate-group': 'system:nodes' };
  const bound = await call('GET', `${V}/virtualmachines?fieldSelector=spec.nodeName%3Dn1`, { token: 'admin-token', as: node });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
  const all = await call('GET', `${V}/virtualmachines`, { token: 'admin-token', as: node });
  assert.equal(all.status, 403);
  assert.match(all.body.message, /User "system:node:n1" cannot list .*: node "n1" may list and watch only the virtualmachines bound to it/);

  await asAdmin('POST', `${V}/clusterroles`, {
    metadata: { name: 'impersonate-n1' },
    rules: [{ apiGroups: [''], resources: ['users'], resourceNames: ['system:node:n1'], verbs: ['impersonate'] }],
  });
  await asAdmin('POST', `${V}/clusterrolebindings`, {
    metadata: { name: 'bob-impersonates-n1' },
    subjects: [{ kind: 'User', name: 'bob' }],
    roleRef: { kind: 'ClusterRole', name: 'impersonate-n1' },
  });
  const withGroup = await call('GET', `${V}/nodes/n1`, { token: 'bob-token', as: node });
  assert.equal(withGroup.status, 403);
  assert.equal(
    withGroup.body.message,
    'groups "system:nodes" is forbidden: User "bob" cannot impersonate resource "groups" in API group "" at the cluster scope',
  );
  // The user name alone is not a node: the Node mode wants the group too.
  const nameOnly = await call('GET', `${V}/virtualmachines?fieldSelector=spec.nodeName%3Dn1`, {
    token: 'bob-token',
    as: { 'impersonate-user': 'system:node:n1' },
  });
  assert.equal(nameOnly.status, 403);
  assert.match(nameOnly.body.message, /User "system:node:n1" cannot list resource "virtualmachines"/);
});

test('a ServiceAccount subject of a ClusterRoleBinding must name its namespace (422 with the field path); one that does applies cluster-wide', async () => {
  const missing = await call('POST', `${V}/clusterrolebindings`, {
    token: 'admin-token',
    body: {
      metadata: { name: 'sa-nodes' },
      subjects: [
        { kind: 'User', name: 'x' },
        { kind: 'ServiceAccount', name: 'auditor' },
      ],
      roleRef: { kind: 'ClusterRole', name: 'reader' },
    },
  });
  assert.equal(missing.status, 422, JSON.stringify(missing.body));
  assert.equal(missing.body.reason, 'Invalid');
  assert.deepEqual(missing.body.details.causes, [
    {
      field: 'subjects[1].namespace',
      type: 'FieldValueRequired',
      message: 'Required value: a ServiceAccount subject of a ClusterRoleBinding names its namespace',
    },
  ]);
  const badName = await call('POST', `${V}/namespaces/tenant-a/rolebindings`, {
    token: 'admin-token',
    body: { metadata: { name: 'bad' }, subjects: [{ kind: 'ServiceAccount', name: 'a:b', namespace: 'Tenant' }], roleRef: { kind: 'Role', name: 'deployer' } },
  });
  assert.equal(badName.status, 422);
  assert.deepEqual(
    badName.body.details.causes.map((c: { field: string }) => c.field),
    ['subjects[0].name', 'subjects[0].namespace'],
  );

  await asAdmin('POST', `${V}/clusterroles`, {
    metadata: { name: 'node-reader' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['nodes'], verbs: ['list'] }],
  });
  await asAdmin('POST', `${V}/clusterrolebindings`, {
    metadata: { name: 'sa-nodes' },
    subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'tenant-a' }],
    roleRef: { kind: 'ClusterRole', name: 'node-reader' },
  });
  assert.equal((await call('GET', `${V}/nodes`, { token: 'admin-token', as: { 'impersonate-user': SA } })).status, 200);
});
