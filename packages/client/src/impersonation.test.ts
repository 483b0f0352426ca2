/**
 * Impersonation from the client: the headers it sends, and a real apiserver (token file, RBAC)
 * acting on them — through the constructor option and through impersonating(), which shares
 * the parent's connections.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, serviceAccountUser } from '@shoal/api';
import { startCluster, type TestCluster } from '@shoal/testing';
import { ShoalClient } from './client.js';
import { impersonationHeaders } from './impersonation.js';
import { createNamespace, vm } from './test-support/cluster.js';

const DEPLOYER = serviceAccountUser('tenant-a', 'deployer');
let dir: string;
let cluster: TestCluster;

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  assert.fail('expected an ApiError');
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-client-impersonation-'));
  const tokenFile = join(dir, 'tokens.csv');
  await writeFile(tokenFile, 'admin-token,admin,1,system:masters\ngitops-token,gitops,2,\n');
  cluster = await startCluster({ apiserverArgs: ['--token-auth-file', tokenFile], client: { token: 'admin-token' } });
  const admin = cluster.client;
  for (const ns of ['tenant-a', 'tenant-b']) await createNamespace(admin, ns);
  await admin.create('Role', {
    metadata: { name: 'vm-writer', namespace: 'tenant-a' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get', 'create'] }],
  });
  await admin.create('RoleBinding', {
    metadata: { name: 'deployer', namespace: 'tenant-a' },
    subjects: [{ kind: 'ServiceAccount', name: 'deployer' }],
    roleRef: { kind: 'Role', name: 'vm-writer' },
  });
  await admin.create('ClusterRole', {
    metadata: { name: 'impersonate-serviceaccounts' },
    rules: [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] }],
  });
  await admin.create('ClusterRoleBinding', {
    metadata: { name: 'gitops-impersonates' },
    subjects: [{ kind: 'User', name: 'gitops' }],
    roleRef: { kind: 'ClusterRole', name: 'impersonate-serviceaccounts' },
  });
});

after(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the headers: one user, a group header per group, the uid, an extra header per value with its key percent-encoded', () => {
  assert.deepEqual(impersonationHeaders({ user: DEPLOYER }), { 'impersonate-user': DEPLOYER });
  assert.deepEqual(impersonationHeaders({ user: 'alice', groups: ['devs', 'qa'], uid: '7', extra: { 'example.com/team (eu)': ['a', 'b'], empty: [] } }), {
    'impersonate-user': 'alice',
    'impersonate-group': ['devs', 'qa'],
    'impersonate-uid': '7',
    'impersonate-extra-example.com%2Fteam%20%28eu%29': ['a', 'b'],
  });
  assert.throws(() => impersonationHeaders({ user: '' }), /needs a user/);
});

test('impersonating(): the account writes where its RoleBinding lets it, not elsewhere; the parent keeps its own identity', async () => {
  const gitops = new ShoalClient({ server: cluster.url, token: 'gitops-token' });
  try {
    const asDeployer = gitops.impersonating({ user: DEPLOYER });
    const made = await asDeployer.create('vm', vm('app', 'tenant-a'));
    assert.equal(made.metadata.namespace, 'tenant-a');
    const elsewhere = await apiError(asDeployer.create('vm', vm('app', 'tenant-b')));
    assert.deepEqual([elsewhere.code, elsewhere.reason], [403, 'Forbidden']);
    assert.match(elsewhere.message, new RegExp(`User "${DEPLOYER}" cannot create resource "virtualmachines" .* in the namespace "tenant-b"`));

    const own = await apiError(gitops.get('vm', 'app', { namespace: 'tenant-a' }));
    assert.match(own.message, /User "gitops" cannot get/, 'the parent client is still gitops');
    // Closing the derived client leaves the shared connections to the parent.
    await asDeployer.close();
    assert.equal((await gitops.impersonating({ user: DEPLOYER }).get('vm', 'app', { namespace: 'tenant-a' })).metadata.name, 'app');
  } finally {
    await gitops.close();
  }
});

test('the impersonate option: the same as impersonating(); without the right to impersonate, 403 naming the account', async () => {
  const asDeployer = new ShoalClient({ server: cluster.url, token: 'gitops-token', impersonate: { user: DEPLOYER } });
  const asAdminAccount = new ShoalClient({ server: cluster.url, token: 'gitops-token', impersonate: { user: 'alice', groups: ['system:masters'] } });
  try {
    assert.equal((await asDeployer.get('vm', 'app', { namespace: 'tenant-a' })).metadata.name, 'app');
    const refused = await apiError(asAdminAccount.list('vm', { namespace: 'tenant-a' }));
    assert.equal(refused.code, 403);
    assert.equal(refused.message, 'users "alice" is forbidden: User "gitops" cannot impersonate resource "users" in API group "" at the cluster scope');
  } finally {
    await Promise.all([asDeployer.close(), asAdminAccount.close()]);
  }
});
