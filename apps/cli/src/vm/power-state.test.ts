/** `shoalctl start|stop|restart vm NAME` through the real binary against a real etcd and apiserver. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Manifest, RunStrategy, VirtualMachine } from '@shoal/api';
import { startCluster, type TestCluster } from '@shoal/testing';
import { createNamespace, removeTestHome, shoalctl } from '../test-support/shoalctl.js';

let cluster: TestCluster;
const NS = 'power';

const vm = (name: string, runStrategy?: RunStrategy): Manifest<VirtualMachine> => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace: NS },
  spec: runStrategy ? { runStrategy } : {},
});

const run = (...args: string[]) => shoalctl(['--server', cluster.url, '-n', NS, ...args]);
const read = (name: string) => cluster.client.get<VirtualMachine>('vm', name, { namespace: NS });

before(async () => {
  cluster = await startCluster();
  await createNamespace(cluster.client, NS);
});
after(async () => {
  await cluster?.stop();
  await removeTestHome();
});

test('stop then start puts the previous runStrategy back', async () => {
  await cluster.client.create('vm', vm('rerun', 'RerunOnFailure'));
  const stopped = await run('stop', 'vm', 'rerun');
  assert.equal(stopped.exitCode, 0, stopped.stderr);
  assert.equal(stopped.stdout, 'virtualmachine.shoal.dev/rerun stopped\n');
  const halted = await read('rerun');
  assert.equal(halted.spec.runStrategy, 'Halted');
  assert.equal(halted.metadata.annotations?.['shoal.dev/previous-run-strategy'], 'RerunOnFailure');

  const again = await run('stop', 'vm/rerun');
  assert.equal(again.exitCode, 0, again.stderr);
  assert.equal(again.stdout, 'virtualmachine.shoal.dev/rerun already stopped\n');
  assert.equal((await read('rerun')).metadata.resourceVersion, halted.metadata.resourceVersion, 'a second stop writes nothing');

  const started = await run('start', 'virtualmachine', 'rerun');
  assert.equal(started.exitCode, 0, started.stderr);
  assert.equal(started.stdout, 'virtualmachine.shoal.dev/rerun started\n');
  const back = await read('rerun');
  assert.equal(back.spec.runStrategy, 'RerunOnFailure');
  assert.equal(back.metadata.annotations?.['shoal.dev/previous-run-strategy'], undefined);

  const startedAgain = await run('start', 'vm', 'rerun');
  assert.equal(startedAgain.stdout, 'virtualmachine.shoal.dev/rerun already started\n');
});

test('a VM halted by hand starts as Always', async () => {
  await cluster.client.create('vm', vm('hand-halted', 'Halted'));
  const r = await run('start', 'vm', 'hand-halted');
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal((await read('hand-halted')).spec.runStrategy, 'Always');
});

test('Manual VMs are started and stopped through the requested-state annotation', async () => {
  await cluster.client.create('vm', vm('manual', 'Manual'));
  const started = await run('start', 'vm', 'manual');
  assert.equal(started.exitCode, 0, started.stderr);
  assert.equal(started.stdout, 'virtualmachine.shoal.dev/manual started\n');
  let got = await read('manual');
  assert.equal(got.spec.runStrategy, 'Manual');
  assert.equal(got.metadata.annotations?.['shoal.dev/requested-state'], 'Running');

  const stopped = await run('stop', 'vm/manual');
  assert.equal(stopped.exitCode, 0, stopped.stderr);
  assert.equal(stopped.stdout, 'virtualmachine.shoal.dev/manual stopped\n');
  got = await read('manual');
  assert.equal(got.spec.runStrategy, 'Manual');
  assert.equal(got.metadata.annotations?.['shoal.dev/requested-state'], 'Stopped');
  assert.equal(got.metadata.annotations?.['shoal.dev/previous-run-strategy'], undefined);
});

test('restart stamps the request time; a stopped VM is refused', async () => {
  await cluster.client.create('vm', vm('bounce'));
  await cluster.client.create('vm', vm('parked', 'Halted'));
  const before = Date.now();
  // Two VMs, two runs side by side.
  const [r, refused] = await Promise.all([run('restart', 'vm', 'bounce'), run('restart', 'vm', 'parked')]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, 'virtualmachine.shoal.dev/bounce restart requested\n');
  const at = (await read('bounce')).metadata.annotations?.['shoal.dev/restart-requested-at'];
  assert.match(at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Date.parse(at!) >= before - 1000 && Date.parse(at!) <= Date.now() + 1000, at);

  assert.equal(refused.exitCode, 1);
  assert.match(refused.stderr, /virtualmachine parked is stopped \(runStrategy Halted\); use "shoalctl start vm parked"/);
  assert.equal((await read('parked')).metadata.annotations?.['shoal.dev/restart-requested-at'], undefined);
});

test('concurrent stops agree: one stops, the others find it stopped, the remembered strategy survives', async () => {
  // Every patch carries the resourceVersion it was planned from; one that lost a race gets 409
  // and is planned again from the new object, so no stop records "Halted" as the strategy to restore.
  await cluster.client.create('vm', vm('raced', 'RerunOnFailure'));
  const results = await Promise.all([run('stop', 'vm', 'raced'), run('stop', 'vm', 'raced'), run('stop', 'vm', 'raced')]);
  for (const r of results) assert.equal(r.exitCode, 0, r.stderr);
  const said = results.map((r) => r.stdout.trim().replace('virtualmachine.shoal.dev/raced ', '')).sort();
  assert.equal(said.filter((s) => s === 'stopped').length, 1, said.join(', '));
  assert.equal(said.filter((s) => s === 'already stopped').length, 2, said.join(', '));
  const halted = await read('raced');
  assert.equal(halted.metadata.annotations?.['shoal.dev/previous-run-strategy'], 'RerunOnFailure');
  const started = await run('start', 'vm', 'raced');
  assert.equal(started.exitCode, 0, started.stderr);
  assert.equal((await read('raced')).spec.runStrategy, 'RerunOnFailure');
});

test('errors: a missing VM is the server NotFound (exit 1); another kind or no name is a usage error (exit 2)', async () => {
  const [missing, node, noName, both] = await Promise.all([
    run('stop', 'vm', 'nope'),
    run('stop', 'node', 'n1'),
    run('start', 'vm'),
    run('restart', 'vm/a', 'b'),
  ]);
  assert.equal(missing.exitCode, 1);
  assert.match(missing.stderr, /^Error from server \(NotFound\): virtualmachines\.shoal\.dev "nope" not found$/m);
  assert.equal(node.exitCode, 2);
  assert.match(node.stderr, /stop works on virtual machines only \(vm NAME\), not nodes/);
  assert.equal(noName.exitCode, 2);
  assert.match(noName.stderr, /give the name of a virtual machine/);
  assert.equal(both.exitCode, 2);
});
