/**
 * Impersonation on the wire with stock kubectl (/usr/bin/kubectl, `--as` and `--as-group`)
 * against a real apiserver with a token file and RBAC: an administrator acts as another user and
 * group, a user without the right is refused with the server's message, and a service account
 * bound by a RoleBinding creates VMs in its namespace and not in another.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type Result } from 'execa';
import { makeServerCertificates, startCluster, type TestCertificates, type TestCluster } from '@shoal/testing';

const KUBECTL = '/usr/bin/kubectl';
const DEPLOYER = 'system:serviceaccount:tenant-a:deployer';

let home: string;
let certs: TestCertificates;
let cluster: TestCluster;

const TOKENS = `admin-token,admin,1,system:masters
bob-token,bob,2,
gitops-token,gitops,3,
`;

/** Runs kubectl as the token's user; never throws on a non-zero exit (tests assert on it). */
function kubectl(token: string, args: string[], input?: string): Promise<Result> {
  const stdin = input !== undefined ? { input } : { stdin: 'ignore' as const };
  return execa(
    KUBECTL,
    ['--server', cluster.url, '--certificate-authority', certs.caFile, '--token', token, '--cache-dir', join(home, `cache-${token}`), ...args],
    {
      env: { KUBECONFIG: join(home, 'kubeconfig'), HOME: home },
      reject: false,
      timeout: 60_000,
      ...stdin,
    },
  );
}

const vmManifest = (name: string, namespace: string) =>
  [
    'apiVersion: shoal.dev/v1alpha1',
    'kind: VirtualMachine',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    'spec:',
    '  runStrategy: Halted',
    '  resources:',
    '    vcpus: 1',
    '    memoryMiB: 64',
    '',
  ].join('\n');

async function asAdmin(kind: string, obj: Record<string, unknown>): Promise<void> {
  await cluster.client.create(kind, obj as never);
}

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'shoal-kubectl-impersonation-'));
  // An empty kubeconfig: the developer's own config (and its current context) must not leak in.
  await writeFile(join(home, 'kubeconfig'), '');
  await writeFile(join(home, 'tokens.csv'), TOKENS);
  // HTTPS: kubectl sends a bearer token only over TLS.
  certs = await makeServerCertificates();
  cluster = await startCluster({
    apiserverArgs: ['--tls-cert-file', certs.certFile, '--tls-private-key-file', certs.keyFile, '--token-auth-file', join(home, 'tokens.csv')],
    client: { token: 'admin-token', caFile: certs.caFile },
  });
  for (const name of ['tenant-a', 'tenant-b']) await asAdmin('Namespace', { metadata: { name } });
  await asAdmin('VirtualMachine', { metadata: { name: 'web', namespace: 'default' }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } });
  // Group devs may list VMs in default (alice herself may not).
  await asAdmin('Role', {
    metadata: { name: 'vm-reader', namespace: 'default' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get', 'list'] }],
  });
  await asAdmin('RoleBinding', {
    metadata: { name: 'devs-read', namespace: 'default' },
    subjects: [{ kind: 'Group', name: 'devs' }],
    roleRef: { kind: 'Role', name: 'vm-reader' },
  });
  // The account tenant-a/deployer writes VMs in tenant-a; gitops may act as any service account.
  await asAdmin('Role', {
    metadata: { name: 'vm-writer', namespace: 'tenant-a' },
    rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get', 'list', 'create'] }],
  });
  await asAdmin('RoleBinding', {
    metadata: { name: 'deployer', namespace: 'tenant-a' },
    subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'tenant-a' }],
    roleRef: { kind: 'Role', name: 'vm-writer' },
  });
  await asAdmin('ClusterRole', {
    metadata: { name: 'impersonate-serviceaccounts' },
    rules: [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] }],
  });
  await asAdmin('ClusterRoleBinding', {
    metadata: { name: 'gitops-impersonates' },
    subjects: [{ kind: 'User', name: 'gitops' }],
    roleRef: { kind: 'ClusterRole', name: 'impersonate-serviceaccounts' },
  });
});

after(async () => {
  await cluster?.stop();
  if (home) await rm(home, { recursive: true, force: true });
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

test('kubectl --as=alice --as-group=devs get vms: works for an admin, with what devs may do', async () => {
  const r = await kubectl('admin-token', ['--as=alice', '--as-group=devs', 'get', 'vms']);
  assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(String(r.stdout), /^web\s/m);
  // Without the group, alice may not list: the request really ran as alice.
  const alone = await kubectl('admin-token', ['--as=alice', 'get', 'vms']);
  assert.equal(alone.exitCode, 1);
  assert.match(String(alone.stderr), /User "alice" cannot list resource "virtualmachines" in API group "shoal.dev" in the namespace "default"/);
});

test('kubectl --as by a user without the impersonate right: 403 with the message', async () => {
  // kubectl reads discovery first, and when that is refused it prints no more than "Error from
  // server (Forbidden): unknown" (kubectl 1.32 does not decode a Status on its discovery call;
  // against kube-apiserver alike). The answer itself carries the message (impersonation.test.ts).
  const cold = await kubectl('bob-token', ['--as=alice', '--as-group=devs', 'get', 'vms']);
  assert.equal(cold.exitCode, 1, `${cold.stdout}\n${cold.stderr}`);
  assert.match(String(cold.stderr), /Error from server \(Forbidden\)/);
  // With discovery cached by bob's own earlier run (refused the list, not discovery), the refusal
  // of the request itself is printed with the server's message.
  const own = await kubectl('bob-token', ['get', 'vms']);
  assert.match(String(own.stderr), /User "bob" cannot list resource "virtualmachines"/);
  const r = await kubectl('bob-token', ['--as=alice', '--as-group=devs', 'get', 'vms']);
  assert.equal(r.exitCode, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(
    String(r.stderr),
    /^Error from server \(Forbidden\): users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope$/m,
  );
});

test('kubectl --as=system:serviceaccount:tenant-a:deployer creates VMs in tenant-a but not in tenant-b', async () => {
  const made = await kubectl('gitops-token', [`--as=${DEPLOYER}`, 'create', '-f', '-'], vmManifest('app', 'tenant-a'));
  assert.equal(made.exitCode, 0, `${made.stdout}\n${made.stderr}`);
  assert.equal(String(made.stdout).trim(), 'virtualmachine.shoal.dev/app created');
  const stored = await cluster.client.get('VirtualMachine', 'app', { namespace: 'tenant-a' });
  assert.equal(stored.metadata.name, 'app');

  const refused = await kubectl('gitops-token', [`--as=${DEPLOYER}`, 'create', '-f', '-'], vmManifest('app', 'tenant-b'));
  assert.equal(refused.exitCode, 1, `${refused.stdout}\n${refused.stderr}`);
  assert.match(
    String(refused.stderr),
    new RegExp(`User "${DEPLOYER}" cannot create resource "virtualmachines" in API group "shoal.dev" in the namespace "tenant-b"`),
  );
  const none = await kubectl('admin-token', ['-n', 'tenant-b', 'get', 'vms', '-o', 'name']);
  assert.equal(none.exitCode, 0, String(none.stderr));
  assert.equal(String(none.stdout).trim(), '', 'nothing was created in tenant-b');
});
