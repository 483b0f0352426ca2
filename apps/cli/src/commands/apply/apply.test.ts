/** `shoalctl apply` run as users run it, against a real etcd and apiserver. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, type KubeObject, type VirtualMachine } from '@shoal/api';
import { LAST_APPLIED_ANNOTATION } from '@shoal/client';
import { startCluster, type TestCluster } from '@shoal/testing';
import { createNamespace, removeTestHome, shoalctl, vmYaml } from '../../test-support/shoalctl.js';

let cluster: TestCluster;
let dir: string;

before(async () => {
  cluster = await startCluster();
  dir = await mkdtemp(join(tmpdir(), 'shoalctl-apply-'));
});
after(async () => {
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
  await removeTestHome();
});

async function notFound(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return false;
  } catch (err) {
    return err instanceof ApiError && err.code === 404;
  }
}

test('apply creates, then configures without clobbering what other writers set, then is unchanged', async () => {
  const file = join(dir, 'web.yaml');
  await writeFile(file, vmYaml('web', { vcpus: 1, labels: { app: 'web' }, extraSpec: '  cmdline: quiet' }));
  const first = await shoalctl(['--server', cluster.url, 'apply', '-f', file]);
  assert.equal(first.exitCode, 0, first.stderr);
  assert.equal(first.stdout, 'virtualmachine.shoal.dev/web created\n');
  const created = await cluster.client.get('vm', 'web');
  assert.ok(created.metadata.annotations?.[LAST_APPLIED_ANNOTATION], 'the applied manifest is recorded');

  // Other writers: a label added by a merge patch, the scheduler binding the VM, a status.
  await cluster.client.patch('vm', 'web', { metadata: { labels: { team: 'ops' } }, spec: { nodeName: 'node-1' } }, { type: 'merge' });
  await cluster.client.patch('vm', 'web', { status: { phase: 'Scheduled' } }, { type: 'merge', status: true });

  await writeFile(file, vmYaml('web', { vcpus: 2, labels: { app: 'web' } })); // vcpus changed, cmdline removed
  const second = await shoalctl(['--server', cluster.url, 'apply', '-f', file]);
  assert.equal(second.exitCode, 0, second.stderr);
  assert.equal(second.stdout, 'virtualmachine.shoal.dev/web configured\n');
  const live = await cluster.client.get<VirtualMachine>('vm', 'web');
  const { spec } = live;
  assert.equal(spec.resources.vcpus, 2);
  assert.equal(spec.cmdline, undefined, 'a field removed from the manifest is removed');
  assert.equal(spec.nodeName, 'node-1', 'spec.nodeName set by another writer survives');
  assert.deepEqual(live.metadata.labels, { app: 'web', team: 'ops' }, 'a label added by another writer survives');
  assert.equal(live.status?.phase, 'Scheduled');

  const third = await shoalctl(['--server', cluster.url, 'apply', '-f', file]);
  assert.equal(third.stdout, 'virtualmachine.shoal.dev/web unchanged\n');
  assert.equal((await cluster.client.get('vm', 'web')).metadata.resourceVersion, live.metadata.resourceVersion, 'unchanged means no write');
});

test('an invalid manifest prints the Status message with the field path, exits non-zero and creates nothing', async () => {
  const file = join(dir, 'bad.yaml');
  await writeFile(file, vmYaml('bad', { vcpus: 0 }));
  const r = await shoalctl(['--server', cluster.url, 'apply', '-f', file]);
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /^Error from server \(Invalid\): error when applying ".*bad\.yaml": .*spec\.resources\.vcpus/m);
  assert.equal(r.stdout, '');
  assert.ok(await notFound(cluster.client.get('vm', 'bad')));
});

test('a misspelt field is rejected (fieldValidation=Strict), not silently dropped', async () => {
  const r = await shoalctl(['--server', cluster.url, 'apply', '-f', '-'], { input: vmYaml('typo', { extraSpec: '  vcpu: 4' }) });
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /spec\.vcpu/);
  assert.ok(await notFound(cluster.client.get('vm', 'typo')));
});

test('multi-document YAML from stdin; the good objects apply, the bad one is reported', async () => {
  const input = [
    'apiVersion: shoal.dev/v1alpha1\nkind: Namespace\nmetadata:\n  name: stdin-ns\n',
    vmYaml('one', { namespace: 'stdin-ns' }),
    vmYaml('two'),
    'apiVersion: shoal.dev/v1alpha1\nkind: Gadget\nmetadata:\n  name: g\n',
  ].join('---\n');
  const r = await shoalctl(['--server', cluster.url, '-n', 'stdin-ns', 'apply', '-f', '-'], { input });
  assert.equal(r.stdout, 'namespace.shoal.dev/stdin-ns created\nvirtualmachine.shoal.dev/one created\nvirtualmachine.shoal.dev/two created\n');
  assert.match(r.stderr, /unable to apply "STDIN": no matches for kind "Gadget"/);
  assert.equal(r.exitCode, 1);
  assert.equal(
    (await cluster.client.get('vm', 'two', { namespace: 'stdin-ns' })).metadata.namespace,
    'stdin-ns',
    '-n applies to manifests without a namespace',
  );
});

test('a directory is applied recursively (.yaml, .yml, .json) and -f repeats', async () => {
  await createNamespace(cluster.client, 'dir-ns');
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'nested'), { recursive: true });
  await writeFile(join(tree, 'a.yaml'), `${vmYaml('dir-a')}---\n${vmYaml('dir-b')}`);
  await writeFile(join(tree, 'nested', 'c.json'), JSON.stringify({ apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'dir-c' } }));
  await writeFile(join(tree, 'nested', 'notes.txt'), 'not a manifest');
  const extra = join(dir, 'extra.yml');
  await writeFile(extra, vmYaml('dir-d'));
  const r = await shoalctl(['--server', cluster.url, '-n', 'dir-ns', 'apply', '-f', tree, '-f', extra]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.deepEqual(
    r.stdout.trim().split('\n'),
    ['dir-a', 'dir-b', 'dir-c', 'dir-d'].map((n) => `virtualmachine.shoal.dev/${n} created`),
  );
  const names = (await cluster.client.list<KubeObject>('vm', { namespace: 'dir-ns' })).items.map((o) => o.metadata.name).sort();
  assert.deepEqual(names, ['dir-a', 'dir-b', 'dir-c', 'dir-d']);
});

test('apply without -f is a usage error (exit 2)', async () => {
  const r = await shoalctl(['--server', cluster.url, 'apply']);
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /-f/);
});

test('-n that contradicts the manifest namespace refuses the object instead of guessing', async () => {
  const r = await shoalctl(['--server', cluster.url, '-n', 'default', 'apply', '-f', '-'], { input: vmYaml('elsewhere', { namespace: 'dir-ns' }) });
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /does not match the namespace "default".*--namespace=dir-ns/);
  assert.ok(await notFound(cluster.client.get('vm', 'elsewhere', { namespace: 'dir-ns' })));
});

test('--server-side: created, configured, unchanged; the fields belong to the field manager (shoalctl by default)', async () => {
  const file = join(dir, 'ssa.yaml');
  await writeFile(file, vmYaml('ssa', { vcpus: 1, labels: { app: 'ssa' } }));
  const first = await shoalctl(['--server', cluster.url, 'apply', '--server-side', '-f', file]);
  assert.equal(first.exitCode, 0, first.stderr);
  assert.equal(first.stdout, 'virtualmachine.shoal.dev/ssa created\n');
  const created = await cluster.client.get('vm', 'ssa');
  assert.deepEqual(
    created.metadata.managedFields?.map((e) => [e.manager, e.operation]),
    [['shoalctl', 'Apply']],
  );
  assert.equal(created.metadata.annotations?.[LAST_APPLIED_ANNOTATION], undefined, 'no last-applied annotation: the server keeps track');

  await writeFile(file, vmYaml('ssa', { vcpus: 2 }));
  const second = await shoalctl(['--server', cluster.url, 'apply', '--server-side', '-f', file]);
  assert.equal(second.stdout, 'virtualmachine.shoal.dev/ssa configured\n', second.stderr);
  const live = await cluster.client.get<VirtualMachine>('vm', 'ssa');
  assert.equal(live.spec.resources.vcpus, 2);
  assert.equal(live.metadata.labels, undefined, 'the label it stopped applying is gone');
  const third = await shoalctl(['--server', cluster.url, 'apply', '--server-side', '-f', file]);
  assert.equal(third.stdout, 'virtualmachine.shoal.dev/ssa unchanged\n');
});

test('--server-side conflicts name the fields and their manager and say what to do; --force-conflicts takes them over', async () => {
  const file = join(dir, 'contested.yaml');
  await writeFile(file, vmYaml('contested', { vcpus: 1 }));
  assert.equal((await shoalctl(['--server', cluster.url, 'apply', '--server-side', '--field-manager', 'team-a', '-f', file])).exitCode, 0);
  await writeFile(file, vmYaml('contested', { vcpus: 4 }));
  const refused = await shoalctl(['--server', cluster.url, 'apply', '--server-side', '-f', file]);
  assert.equal(refused.exitCode, 1);
  assert.equal(refused.stdout, '');
  assert.match(
    refused.stderr,
    /^Error from server \(Conflict\): error when applying ".*contested\.yaml": Apply failed with 1 conflict: conflict with "team-a": \.spec\.resources\.vcpus$/m,
  );
  assert.match(refused.stderr, /--force-conflicts to take them over/);
  assert.equal((await cluster.client.get<VirtualMachine>('vm', 'contested')).spec.resources.vcpus, 1);

  const forced = await shoalctl(['--server', cluster.url, 'apply', '--server-side', '--force-conflicts', '-f', file]);
  assert.equal(forced.exitCode, 0, forced.stderr);
  assert.equal(forced.stdout, 'virtualmachine.shoal.dev/contested configured\n');
  const live = await cluster.client.get<VirtualMachine>('vm', 'contested');
  assert.equal(live.spec.resources.vcpus, 4);
  const owners = Object.fromEntries((live.metadata.managedFields ?? []).map((e) => [e.manager, JSON.stringify(e.fieldsV1)]));
  assert.match(owners.shoalctl!, /f:vcpus/);
  assert.doesNotMatch(owners['team-a'] ?? '', /f:vcpus/);

  const misuse = await shoalctl(['--server', cluster.url, 'apply', '--force-conflicts', '-f', file]);
  assert.equal(misuse.exitCode, 2);
  assert.match(misuse.stderr, /--force-conflicts only works with --server-side/);
});
