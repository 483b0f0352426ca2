/**
 * The controller-manager's --config file reloaded while it runs, with real processes (etcd, an
 * apiserver, the controller-manager running health and resourcequota): the log level, the
 * health controller's grace period taking effect on a node already judged, an invalid file that
 * leaves the config in force and says why (a warn line, /metrics), and a flag that needs a
 * restart named as such. The test plays a node agent by writing a Node and its Lease.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_LEASE_NAMESPACE, type Node, type ResourceQuota } from '@shoal/api';
import { startCluster, startControllerManager, waitFor, waitForObject, type ControllerManagerProcess, type TestCluster } from '@shoal/testing';
import { addNode } from './test-support/scheduler-cluster.js';

let cluster: TestCluster;
let cm: ControllerManagerProcess;
let dir: string;
let configFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-cm-config-'));
  configFile = join(dir, 'controller-manager.yaml');
  // A grace period of 10 minutes: a silent node stays Ready that long.
  await writeFile(configFile, 'log-level: warn\nnode-monitor-grace-period: 600\n');
  cluster = await startCluster();
  cm = await startControllerManager(cluster.url, { controllers: ['health', 'resourcequota'], args: ['--config', configFile] });
  await cluster.client.create('namespace', { metadata: { name: 'reload' }, spec: {} });
});
after(async () => {
  await cm?.stop();
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function metric(series: string): Promise<number | undefined> {
  const text = await (await fetch(cm.metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}
const successes = async () => (await metric('shoal_config_reload_total{source="config",result="success"}')) ?? 0;

const logLines = () =>
  cm
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; err?: string; flags?: string[] });

async function quotaCounted(name: string): Promise<void> {
  await cluster.client.create<ResourceQuota>('resourcequota', { metadata: { name }, spec: { hard: { virtualmachines: 5 } } } as ResourceQuota, {
    namespace: 'reload',
  });
  await waitForObject(cluster.client, 'ResourceQuota', name, (q) => q.status?.used?.virtualmachines === 0, { namespace: 'reload', message: 'status.used' });
}

test('log-level: debug in the file turns on the debug lines without a restart', async () => {
  await quotaCounted('before');
  assert.doesNotMatch(cm.output(), /"msg":"resource quota status updated"/, 'no debug line at warn');
  await writeFile(configFile, 'log-level: debug\nnode-monitor-grace-period: 600\n');
  await waitFor(async () => (await successes()) === 1, { message: 'the reload counted' });
  await quotaCounted('after');
  // The line follows the write the status comes from, through the process's output pipe: it may arrive just after.
  await waitFor(() => /"msg":"resource quota status updated"/.test(cm.output()), { message: 'a debug line for the quota counted after the reload' });
});

test('node-monitor-grace-period: a shorter one takes effect at once on a silent node judged with the old one', async () => {
  await addNode(cluster.client, 'quiet');
  await cluster.client.patch('node', 'quiet', { status: { fencing: { leaseDurationSeconds: 2, fenceTimeoutSeconds: 600 } } }, { type: 'merge', status: true });
  // One renewal, then silence: with 600 s of grace the node stays Ready, its next look 10 minutes away.
  const spec = { holderIdentity: 'quiet', leaseDurationSeconds: 2, renewTime: new Date().toISOString() };
  await cluster.client.create('lease', { metadata: { name: 'quiet' }, spec }, { namespace: NODE_LEASE_NAMESPACE });
  const readyOf = (n: Node) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  await waitForObject(cluster.client, 'Node', 'quiet', (n) => readyOf(n) === 'True', { message: 'Ready while within its grace' });

  await writeFile(configFile, 'log-level: debug\nnode-monitor-grace-period: 1\n');
  await waitForObject(cluster.client, 'Node', 'quiet', (n) => readyOf(n) === 'Unknown', {
    message: 'NotReady once the 1 s grace applies',
    timeoutMs: 10_000,
  });
});

test('an invalid file keeps the config in force, counted on /metrics and said in a warn line; a restart-only change is named', async () => {
  await writeFile(configFile, 'log-level: debug\nnode-monitor-grace-period: -5\n');
  await waitFor(async () => (await metric('shoal_config_reload_total{source="config",result="failure"}')) === 1, { message: 'the failure counted' });
  assert.equal(await metric('shoal_config_last_reload_successful{source="config"}'), 0);
  const warn = logLines().find((l) => l.level === 40 && /the config in force stays as it was/.test(l.msg));
  assert.match(warn?.err ?? '', /--node-monitor-grace-period must be ≥ 0 seconds/);

  const before = await successes();
  await writeFile(configFile, 'log-level: debug\nnode-monitor-grace-period: 1\nleader-elect: true\n');
  await waitFor(async () => (await successes()) === before + 1, { message: 'the valid file taken' });
  assert.equal(await metric('shoal_config_last_reload_successful{source="config"}'), 1);
  const restart = logLines().find((l) => l.level === 40 && /take effect only at a restart/.test(l.msg));
  assert.deepEqual(restart?.flags, ['--leader-elect']);
});
