/** `shoalctl delete` against a real etcd and apiserver, including waits on finalizers. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ApiError, type KubeObject } from '@shoal/api';
import { REPO_ROOT, startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { createNamespace, removeTestHome, shoalctl, startShoalctl, vmYaml } from '../../test-support/shoalctl.js';

let cluster: TestCluster;
let dir: string;

const vm = (name: string, namespace: string, extra: { labels?: Record<string, string>; finalizers?: string[] } = {}): KubeObject => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace, ...extra },
});

before(async () => {
  cluster = await startCluster();
  dir = await mkdtemp(join(tmpdir(), 'shoalctl-delete-'));
});
after(async () => {
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
  await removeTestHome();
});

async function exists(name: string, namespace: string): Promise<boolean> {
  try {
    await cluster.client.get('vm', name, { namespace });
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return false;
    throw err;
  }
}

test('delete by name waits until gone; a missing name is an error unless --ignore-not-found', async () => {
  await createNamespace(cluster.client, 'd1');
  await cluster.client.create('vm', vm('one', 'd1'));
  await cluster.client.create('vm', vm('two', 'd1'));
  const r = await shoalctl(['--server', cluster.url, '-n', 'd1', 'delete', 'vm', 'one', 'two']);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, 'virtualmachine.shoal.dev "one" deleted\nvirtualmachine.shoal.dev "two" deleted\n');
  assert.equal(await exists('one', 'd1'), false);
  assert.equal(await exists('two', 'd1'), false);

  const [missing, ignored] = await Promise.all([
    shoalctl(['--server', cluster.url, '-n', 'd1', 'delete', 'vm', 'one']),
    shoalctl(['--server', cluster.url, '-n', 'd1', 'delete', 'vm', 'one', '--ignore-not-found']),
  ]);
  assert.equal(missing.exitCode, 1);
  assert.match(missing.stderr, /^Error from server \(NotFound\): virtualmachines\.shoal\.dev "one" not found$/m);
  assert.equal(ignored.exitCode, 0);
});

test('delete -l removes exactly the matching objects', async () => {
  await createNamespace(cluster.client, 'd2');
  await cluster.client.create('vm', vm('web-1', 'd2', { labels: { app: 'web' } }));
  await cluster.client.create('vm', vm('web-2', 'd2', { labels: { app: 'web' } }));
  await cluster.client.create('vm', vm('db-1', 'd2', { labels: { app: 'db' } }));
  const r = await shoalctl(['--server', cluster.url, '-n', 'd2', 'delete', 'vm', '-l', 'app=web']);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').sort(), ['virtualmachine.shoal.dev "web-1" deleted', 'virtualmachine.shoal.dev "web-2" deleted']);
  const left = (await cluster.client.list('vm', { namespace: 'd2' })).items.map((o) => o.metadata.name);
  assert.deepEqual(left, ['db-1']);
  const none = await shoalctl(['--server', cluster.url, '-n', 'd2', 'delete', 'vm', '-l', 'app=nothing']);
  assert.equal(none.exitCode, 0);
  assert.match(none.stderr, /No resources found/);
});

test('delete -f deletes the objects the manifests name', async () => {
  await createNamespace(cluster.client, 'd3');
  const file = join(dir, 'vms.yaml');
  await writeFile(file, `${vmYaml('f-1', { namespace: 'd3' })}---\n${vmYaml('f-2', { namespace: 'd3' })}`);
  assert.equal((await shoalctl(['--server', cluster.url, 'apply', '-f', file])).exitCode, 0);
  const r = await shoalctl(['--server', cluster.url, 'delete', '-f', file]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, 'virtualmachine.shoal.dev "f-1" deleted\nvirtualmachine.shoal.dev "f-2" deleted\n');
  assert.equal((await cluster.client.list('vm', { namespace: 'd3' })).items.length, 0);
});

test('--wait follows an object held by finalizers until they are removed, a line on stderr each time what holds it changes', async (t) => {
  await createNamespace(cluster.client, 'd4');
  await cluster.client.create('vm', vm('held', 'd4', { finalizers: ['test.shoal.dev/one', 'test.shoal.dev/two'] }));
  const cmd = await startShoalctl(['--server', cluster.url, '-n', 'd4', 'delete', 'vm', 'held', '--timeout', '60s']);
  t.after(() => cmd.child.kill('SIGKILL'));
  const line = (finalizers: string) => `deleting virtualmachine.shoal.dev "held": waiting on finalizers ${finalizers}`;
  const sawLine = (text: string) =>
    waitFor(() => cmd.stderr().split('\n').includes(text), { message: JSON.stringify(text), lastSeen: () => JSON.stringify(cmd.stderr()) });
  await sawLine(line('test.shoal.dev/one, test.shoal.dev/two'));
  assert.equal(cmd.child.exitCode, null, 'still waiting while the finalizers are there');
  await cluster.client.patch('vm', 'held', { metadata: { finalizers: ['test.shoal.dev/two'] } }, { namespace: 'd4', type: 'merge' });
  await sawLine(line('test.shoal.dev/two'));
  await cluster.client.patch('vm', 'held', { metadata: { finalizers: null } }, { namespace: 'd4', type: 'merge' });
  const r = await cmd.child;
  assert.equal(r.exitCode, 0, cmd.stderr());
  assert.match(cmd.stdout(), /virtualmachine\.shoal\.dev "held" deleted/);
  assert.equal(cmd.stderr(), `${line('test.shoal.dev/one, test.shoal.dev/two')}\n${line('test.shoal.dev/two')}\n`, 'a line per change, nothing else');
  assert.equal(await exists('held', 'd4'), false);
});

test('--wait gives up after --timeout with an error; --wait=false returns at once', async () => {
  await createNamespace(cluster.client, 'd5');
  await cluster.client.create('vm', vm('stuck', 'd5', { finalizers: ['test.shoal.dev/hold'] }));
  await cluster.client.create('vm', vm('stuck-2', 'd5', { finalizers: ['test.shoal.dev/hold'] }));
  // Two objects, two runs side by side: one waits out its --timeout while the other returns.
  const [timedOut, noWait] = await Promise.all([
    shoalctl(['--server', cluster.url, '-n', 'd5', 'delete', 'vm', 'stuck', '--timeout', '1s']),
    shoalctl(['--server', cluster.url, '-n', 'd5', 'delete', 'vm', 'stuck-2', '--wait=false']),
  ]);
  assert.equal(timedOut.exitCode, 1);
  assert.equal(
    timedOut.stderr,
    'deleting virtualmachine.shoal.dev "stuck": waiting on finalizers test.shoal.dev/hold\nerror: timed out waiting for the condition on virtualmachines/stuck\n',
  );
  assert.equal(noWait.exitCode, 0, noWait.stderr);
  assert.ok((await cluster.client.get('vm', 'stuck-2', { namespace: 'd5' })).metadata.deletionTimestamp);
  for (const name of ['stuck', 'stuck-2']) await cluster.client.patch('vm', name, { metadata: { finalizers: null } }, { namespace: 'd5', type: 'merge' });
});

test('on a terminal the wait is one line, redrawn in place as the seconds go by, and cleared before the error', async () => {
  await createNamespace(cluster.client, 'd6');
  await cluster.client.create('vm', vm('sticky', 'd6', { finalizers: ['test.shoal.dev/hold'] }));
  // script(1) gives shoalctl a pseudo-terminal, as a person's shell does.
  const command = ['node', `${REPO_ROOT}bin/shoalctl.js`, '--server', cluster.url, '-n', 'd6', 'delete', 'vm', 'sticky', '--timeout', '2500ms'].join(' ');
  const r = await execa('script', ['-qfec', command, '/dev/null'], { reject: false, env: { HOME: dir }, stdin: 'ignore', timeout: 60_000 });
  const out = String(r.stdout);
  const draws = [...out.matchAll(/\rdeleting virtualmachine\.shoal\.dev "sticky": waiting on finalizers test\.shoal\.dev\/hold {2}(\d+)s\x1b\[K/g)].map(
    (m) => m[1],
  );
  assert.ok(new Set(draws).size >= 2, `the time ticks on in place: ${JSON.stringify(out)}`);
  const line = out.slice(out.indexOf('\rdeleting'), out.lastIndexOf('\x1b[K'));
  assert.doesNotMatch(line, /\n/, 'all on one line');
  assert.match(out, /\r\x1b\[Kerror: timed out waiting for the condition on virtualmachines\/sticky\s*$/);
  await cluster.client.patch('vm', 'sticky', { metadata: { finalizers: null } }, { namespace: 'd6', type: 'merge' });
});

test('delete usage errors exit 2', async () => {
  const cases = [['delete'], ['delete', 'vm'], ['delete', 'vm', 'a', '-l', 'x=y'], ['delete', 'vm', 'a', '--timeout', 'soon']];
  const results = await Promise.all(cases.map((args) => shoalctl(['--server', cluster.url, ...args])));
  for (const [i, args] of cases.entries()) assert.equal(results[i]!.exitCode, 2, `${args.join(' ')}: ${results[i]!.stderr}`);
});
