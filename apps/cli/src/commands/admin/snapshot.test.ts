/**
 * `shoalctl admin snapshot save` and `restore`, run as the real binary against a real apiserver
 * (bearer tokens, RBAC) over a real etcd, with Debian's etcdctl and etcd:
 *  - an administrator saves a snapshot: written whole or not at all, read back, progress on stderr;
 *    a user with only `get` on the URL may too; anyone else gets 403 Forbidden as a Status;
 *  - a torn snapshot and a non-empty data dir are refused, and nothing is written;
 *  - restored into a new data dir, etcd started on it holds every object with its uid;
 *  - the restored history is fenced off from the lost one: a watch from a version the old cluster
 *    handed out after the snapshot gets 410 Expired, and an informer that held those versions
 *    relists and ends with the restored state (what was written after the snapshot is gone).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { kinds, type KubeObject } from '@shoal/api';
import { Informer, ShoalClient } from '@shoal/client';
import {
  etcdClientUrl,
  freePort,
  http,
  openWatch,
  spawnEtcd,
  startApiserver,
  startCluster,
  waitFor,
  waitForEtcdStart,
  type ApiserverProcess,
  type EtcdMemberConfig,
  type TestCluster,
} from '@shoal/testing';
import { shoalctl } from '../../test-support/shoalctl.js';

const TOKENS = `admin-token,admin,1,system:masters
alice-token,alice,2,
backup-token,backup-operator,3,
`;

let dir: string;
let cluster: TestCluster;
let snapshotFile: string;
/** Every object at the moment of the snapshot, as kind namespace/name → uid. */
let atSnapshot: Map<string, string>;
let restoredEtcd: ReturnType<typeof spawnEtcd> | undefined;
let restoredApiserver: ApiserverProcess | undefined;
let restoredConfig: EtcdMemberConfig;
/** Chosen up front: the informer's client knows it as its second apiserver from the start. */
let restoredPort: number;
let informerClient: ShoalClient | undefined;
let informer: Informer | undefined;
const informerWarnings: string[] = [];

const save = (token: string, file: string, server = cluster.url) => shoalctl(['--server', server, '--token', token, 'admin', 'snapshot', 'save', file]);

const vm = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace: 'default', labels },
  spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } },
});

async function everyObject(client: ShoalClient): Promise<Map<string, string>> {
  const all = new Map<string, string>();
  for (const kind of kinds().all) {
    for (const o of (await client.listAll(kind)).items) all.set(`${kind.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`, o.metadata.uid!);
  }
  return all;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-snapshot-test-'));
  const tokenFile = join(dir, 'tokens.csv');
  await writeFile(tokenFile, TOKENS);
  cluster = await startCluster({ apiserverArgs: ['--token-auth-file', tokenFile], client: { token: 'admin-token' } });
  const client = cluster.client;
  await client.create('Namespace', { apiVersion: 'shoal.dev/v1alpha1', kind: 'Namespace', metadata: { name: 'team' } });
  for (const name of ['keep', 'change']) await client.create('vm', vm(name));
  await client.create('vm', { ...vm('elsewhere'), metadata: { name: 'elsewhere', namespace: 'team' } });
  // A backup operator: the snapshot URL and nothing else.
  await client.create('ClusterRole', {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'ClusterRole',
    metadata: { name: 'etcd-snapshot' },
    rules: [{ nonResourceURLs: ['/admin/etcd/snapshot'], verbs: ['get'] }],
  });
  await client.create('ClusterRoleBinding', {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'backup-operator-etcd-snapshot' },
    subjects: [{ kind: 'User', name: 'backup-operator' }],
    roleRef: { apiGroup: 'shoal.dev', kind: 'ClusterRole', name: 'etcd-snapshot' },
  });
  // It follows the VMs across the whole test: from the cluster, and once that is gone from the
  // restored one, its second apiserver (as a controller's --server list moves it).
  restoredPort = await freePort();
  informerClient = new ShoalClient({ server: [cluster.url, `http://127.0.0.1:${restoredPort}`], token: 'admin-token' });
  informer = new Informer(informerClient, 'vm', { namespace: 'default', backoff: { initialMs: 50, maxMs: 500 } });
  informer.on('warning', (w) => informerWarnings.push(String((w as Error)?.message ?? w)));
  informer.start();
  await informer.waitForSync({ timeoutMs: 15_000 });
});

after(async () => {
  await informer?.stop();
  await informerClient?.close();
  await restoredApiserver?.stop();
  if (restoredEtcd) {
    restoredEtcd.kill('SIGTERM');
    await restoredEtcd.then(() => undefined);
  }
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('an administrator saves a snapshot: whole, read back by etcdctl, progress on stderr, readable by its owner only', async () => {
  atSnapshot = await everyObject(cluster.client);
  snapshotFile = join(dir, 'etcd.db');
  const r = await save('admin-token', snapshotFile);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^Snapshot saved to ${snapshotFile}: [\\d.]+ KiB, revision \\d+, \\d+ keys, sha256 verified\\n$`));
  assert.match(r.stderr, /^snapshot: [\d.]+ KiB of [\d.]+ KiB \(\d+%\)/m, 'the bytes as they came, of the total');
  assert.match(r.stderr, /snapshot: [\d.]+ KiB received in /);
  assert.equal((await stat(snapshotFile)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir), ['etcd.db', 'tokens.csv'], 'no partial file left beside it');
  const status = JSON.parse((await execa('etcdctl', ['snapshot', 'status', snapshotFile, '-w', 'json'])).stdout);
  assert.equal(String(status.revision), /revision (\d+)/.exec(r.stdout)![1]);
});

test('a ClusterRole with only the snapshot URL is enough; anyone else gets 403 Forbidden as a Status, and no file', async () => {
  // The two saves run side by side; the directory is looked at once both are done.
  const [operator, denied] = await Promise.all([save('backup-token', join(dir, 'by-operator.db')), save('alice-token', join(dir, 'by-alice.db'))]);
  assert.equal(operator.exitCode, 0, operator.stderr);
  await rm(join(dir, 'by-operator.db'));

  const raw = await http(cluster.url, 'GET', '/admin/etcd/snapshot', undefined, { authorization: 'Bearer alice-token' });
  assert.equal(raw.status, 403);
  assert.equal(raw.body.kind, 'Status');
  assert.equal(raw.body.reason, 'Forbidden');
  assert.equal(raw.body.message, 'forbidden: User "alice" cannot get path "/admin/etcd/snapshot"');
  assert.equal((await http(cluster.url, 'GET', '/admin/etcd/snapshot')).status, 401, 'no credentials');

  assert.equal(denied.exitCode, 1);
  assert.equal(denied.stderr, 'Error from server (Forbidden): forbidden: User "alice" cannot get path "/admin/etcd/snapshot"\n');
  assert.deepEqual(await readdir(dir), ['etcd.db', 'tokens.csv'], 'nothing written, not even a partial file');
});

test('a torn snapshot and a non-empty data dir are refused, and nothing is written', async () => {
  const whole = await readFile(snapshotFile);
  const torn = join(dir, 'torn.db');
  await writeFile(torn, whole.subarray(0, whole.length - 1000));
  const target = join(dir, 'never');
  const busy = join(dir, 'busy');
  await mkdir(busy);
  await writeFile(join(busy, 'something'), 'precious');
  // Both refusals run side by side; the directories are looked at once both are done.
  const [r, refused] = await Promise.all([
    shoalctl(['admin', 'snapshot', 'restore', torn, '--data-dir', target]),
    shoalctl(['admin', 'snapshot', 'restore', snapshotFile, '--data-dir', busy]),
  ]);
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /^error: .*torn\.db is not a complete etcd snapshot: its last 32 bytes are not the sha256 of the rest/);
  await assert.rejects(stat(target), { code: 'ENOENT' });

  assert.equal(refused.exitCode, 1);
  assert.equal(
    refused.stderr,
    `error: refusing to restore into ${busy}: it is not empty (something); a restore never writes over etcd data: give a new or empty directory\n`,
  );
  assert.deepEqual(await readdir(busy), ['something']);
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.includes('restore')),
    [],
    'no scratch directory left',
  );
  await rm(torn);
});

test('restored into a new data dir, an etcd started on it holds every object with its uid, at a revision well above the snapshot', async () => {
  // Written after the snapshot: the restore must not have them, and the informer holds them.
  await cluster.client.patch('vm', 'change', { metadata: { labels: { after: 'snapshot' } } }, { namespace: 'default', type: 'merge' });
  await cluster.client.create('vm', vm('ghost'));
  await waitFor(() => informer!.get('default/ghost') && informer!.get('default/change')?.metadata.labels?.after === 'snapshot', {
    message: 'the informer to hold what was written after the snapshot',
  });
  const lostVersion = informer!.lastSyncResourceVersion!;

  restoredConfig = { name: 'restored', dataDir: join(dir, 'restored-data'), clientPort: await freePort(), peerPort: await freePort() };
  const peer = `http://127.0.0.1:${restoredConfig.peerPort}`;
  const bump = 1000;
  const r = await shoalctl([
    'admin',
    'snapshot',
    'restore',
    snapshotFile,
    '--data-dir',
    restoredConfig.dataDir,
    '--name',
    'restored',
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `restored=${peer}`,
    '--initial-cluster-token',
    'shoal-restored',
    '--advertise-client-urls',
    etcdClientUrl(restoredConfig),
    '--bump-revision',
    String(bump),
  ]);
  assert.equal(r.exitCode, 0, r.stderr);
  const snapshotRevision = Number(/revision (\d+)/.exec(r.stderr)![1]);
  assert.match(r.stderr, /advancing the revision: 1000 of 1000 writes: revision \d+, history before it compacted/);
  assert.ok(
    r.stdout.includes(
      `  etcd --name restored --data-dir ${restoredConfig.dataDir} \\\n` +
        `    --listen-peer-urls ${peer} --initial-advertise-peer-urls ${peer} \\\n` +
        `    --listen-client-urls ${etcdClientUrl(restoredConfig)} --advertise-client-urls ${etcdClientUrl(restoredConfig)} \\\n` +
        `    --initial-cluster restored=${peer} --initial-cluster-token shoal-restored\n`,
    ),
    r.stdout,
  );
  assert.deepEqual(await readdir(restoredConfig.dataDir), ['member']);

  restoredEtcd = spawnEtcd(restoredConfig, [restoredConfig], 'shoal-restored');
  await waitForEtcdStart(restoredEtcd, etcdClientUrl(restoredConfig));
  const status = await (await fetch(`${etcdClientUrl(restoredConfig)}/v3/maintenance/status`, { method: 'POST', body: '{}' })).json();
  assert.equal(Number(status.header.revision), snapshotRevision + bump, 'the history goes on from the snapshot plus the bump');
  assert.ok(Number(lostVersion) < snapshotRevision + bump - 1, 'past the versions the lost cluster handed out');

  restoredApiserver = await startApiserver({ etcd: etcdClientUrl(restoredConfig), port: restoredPort, args: ['--token-auth-file', join(dir, 'tokens.csv')] });
  const restored = new ShoalClient({ server: restoredApiserver.url, token: 'admin-token' });
  try {
    assert.deepEqual(await everyObject(restored), atSnapshot, 'every object of the snapshot, with its uid, and nothing else');
  } finally {
    await restored.close();
  }
});

test('clients of the lost cluster are fenced off: a watch from its versions gets 410, an informer relists to the restored state', async () => {
  const lostVersion = informer!.lastSyncResourceVersion!;
  const watch = await openWatch(restoredApiserver!.url, `/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines?watch=1&resourceVersion=${lostVersion}`, {
    authorization: 'Bearer admin-token',
  });
  await watch.ended;
  assert.equal(watch.events.length, 1);
  assert.equal(watch.events[0]!.type, 'ERROR');
  assert.equal(watch.events[0]!.object.code, 410);
  assert.equal(watch.events[0]!.object.reason, 'Expired');

  // The informer's apiserver goes away: it moves to the restored one, its watch meets 410 there,
  // and it relists. The list is older than what it holds, and wins.
  await cluster.apiserver.kill();
  await waitFor(() => !informer!.get('default/ghost'), {
    timeoutMs: 20_000,
    message: 'the informer to drop the VM created after the snapshot',
    lastSeen: () => informerWarnings.join('\n'),
  });
  assert.ok(
    informerWarnings.some((w) => /watch expired, relisting/.test(w)),
    `it relisted because its watch expired:\n${informerWarnings.join('\n')}`,
  );
  assert.deepEqual(
    informer!
      .list()
      .map((v: KubeObject) => v.metadata.name)
      .sort(),
    ['change', 'keep'],
  );
  const change = informer!.get('default/change')!;
  assert.equal(change.metadata.labels?.after, undefined, 'the change made after the snapshot is gone from its cache too');
  assert.ok(Number(change.metadata.resourceVersion) < Number(lostVersion), 'it took the listed version, older than the one it held');

  // And it follows what happens next.
  await informerClient!.patch('vm', 'change', { metadata: { labels: { restored: 'yes' } } }, { namespace: 'default', type: 'merge' });
  await waitFor(() => informer!.get('default/change')?.metadata.labels?.restored === 'yes', { message: 'the informer to see a change after the restore' });
});
