/**
 * `shoalctl backup` and `restore` following their objects, through the real binary, a real etcd
 * and apiserver. No backup or restore controller runs here: the test plays them, writing the
 * status through the phases while the command follows, and checks the progress lines (a plain
 * line per phase change off a terminal), the result and the exit code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKUP_NAME_LABEL, type Backup, type DiskBackup, type Manifest, type Restore } from '@shoal/api';
import { startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { createNamespace, removeTestHome, startShoalctl, shoalctl, type RunningShoalctl } from '../../test-support/shoalctl.js';

const NS = 'bk';
const MiB = 1024 * 1024;
let cluster: TestCluster;

const run = (...args: string[]) => shoalctl(['--server', cluster.url, '-n', NS, ...args]);
const start = (...args: string[]) => startShoalctl(['--server', cluster.url, '-n', NS, ...args]);

before(async () => {
  cluster = await startCluster();
  await createNamespace(cluster.client, NS);
  for (const name of ['web', 'slow'])
    await cluster.client.create('vm', { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: NS } });
});
after(async () => {
  await cluster?.stop();
  await removeTestHome();
});

async function sawLine(cmd: RunningShoalctl, line: string): Promise<void> {
  await waitFor(() => cmd.stderr().split('\n').includes(line), {
    timeoutMs: 30_000,
    message: JSON.stringify(line),
    lastSeen: () => JSON.stringify(cmd.stderr()),
  });
}

const setStatus = (kind: 'Backup' | 'Restore' | 'DiskBackup', name: string, status: object) =>
  cluster.client.patch(kind, name, { status }, { namespace: NS, type: 'merge', status: true });

test('backup follows its Backup through the phases, a line for each, and prints what it wrote', async () => {
  const cmd = await start('backup', 'vm', 'web', '--backup-name', 'web-1');
  await sawLine(cmd, 'backup web-1: New');
  const disk: Manifest<DiskBackup> = {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'DiskBackup',
    metadata: { name: 'web-1-web', namespace: NS, labels: { [BACKUP_NAME_LABEL]: 'web-1' } },
    spec: { backupName: 'web-1', vmName: 'web', node: 'n1', locationPath: '/var/lib/shoal/backups', path: 'bk/web-1', mode: 'Full' },
  };
  await cluster.client.create('DiskBackup', disk);
  await setStatus('DiskBackup', 'web-1-web', { phase: 'InProgress', progress: { doneBytes: 10 * MiB, totalBytes: 40 * MiB } });
  await setStatus('Backup', 'web-1', { phase: 'InProgress' });
  await sawLine(cmd, 'backup web-1: InProgress 0 of 1 virtualmachines done, 10.0 MiB of 40.0 MiB read (25%)');
  await setStatus('DiskBackup', 'web-1-web', { phase: 'InProgress', progress: { doneBytes: 30 * MiB, totalBytes: 40 * MiB } });
  await setStatus('Backup', 'web-1', { phase: 'Completed', totalBytes: 40 * MiB });
  const done = await cmd.child;
  assert.equal(done.exitCode, 0, cmd.stderr());
  assert.equal(cmd.stdout(), 'backup.shoal.dev/web-1 completed: 40.0 MiB\n');
  assert.equal(
    cmd.stderr(),
    'backup web-1: New\nbackup web-1: InProgress 0 of 1 virtualmachines done, 10.0 MiB of 40.0 MiB read (25%)\nbackup web-1: Completed 40.0 MiB written\n',
    'no line for bytes that moved within a phase',
  );
});

test('restore follows its Restore, a line per phase, and prints each item it made', async () => {
  const backup: Manifest<Backup> = { apiVersion: 'shoal.dev/v1alpha1', kind: 'Backup', metadata: { name: 'web-2', namespace: NS }, spec: { vmNames: ['web'] } };
  await cluster.client.create('Backup', backup);
  await setStatus('Backup', 'web-2', { phase: 'Completed', vms: [{ name: 'web', phase: 'Completed' }] });
  const cmd = await start('restore', 'web-2', '--as', 'web-copy');
  const restore = await waitFor(
    async () => (await cluster.client.list<Restore>('Restore', { namespace: NS })).items.find((r) => r.spec.backupName === 'web-2'),
    {
      message: 'the Restore',
    },
  );
  const name = restore.metadata.name!;
  assert.deepEqual(restore.spec.renames, [{ from: 'web', to: 'web-copy' }]);
  await sawLine(cmd, `restore ${name}: New 0 restored, 0 skipped, 0 failed, 0 under way`);
  await setStatus('Restore', name, { phase: 'InProgress', items: [{ kind: 'Volume', name: 'web-copy-root', from: 'web-root', result: 'Created' }] });
  await sawLine(cmd, `restore ${name}: InProgress 0 restored, 0 skipped, 0 failed, 1 under way`);
  await setStatus('Restore', name, {
    phase: 'Completed',
    items: [
      { kind: 'Volume', name: 'web-copy-root', from: 'web-root', result: 'Restored' },
      { kind: 'VirtualMachine', name: 'web-copy', from: 'web', result: 'Restored' },
    ],
  });
  const done = await cmd.child;
  assert.equal(done.exitCode, 0, cmd.stderr());
  assert.equal(
    cmd.stdout(),
    `restore.shoal.dev/${name} completed\n  volume/web-copy-root (from web-root): Restored\n  virtualmachine/web-copy (from web): Restored\n`,
  );
  assert.match(cmd.stderr(), new RegExp(`^restore ${name}: Completed 2 restored, 0 skipped, 0 failed, 0 under way$`, 'm'));
});

test('--timeout stops following: exit 1 saying where it stood and that the backup goes on; a bad one is a usage error', async () => {
  const r = await run('backup', 'vm', 'slow', '--backup-name', 'slow-1', '--timeout', '1500ms');
  assert.equal(r.exitCode, 1, r.stderr);
  assert.equal(r.stderr, 'backup slow-1: New\nerror: timed out after 1.5s waiting for backup slow-1 (New); the backup goes on (shoalctl get backup slow-1)\n');
  assert.equal((await cluster.client.get<Backup>('Backup', 'slow-1', { namespace: NS })).metadata.deletionTimestamp, undefined, 'still there');
  const bad = await run('backup', 'vm', 'slow', '--backup-name', 'slow-2', '--timeout', 'later');
  assert.equal(bad.exitCode, 2);
  assert.match(bad.stderr, /--timeout: invalid duration "later"/);
  const none = await cluster.client.list('Backup', { namespace: NS });
  assert.ok(!none.items.some((b) => b.metadata.name === 'slow-2'), 'nothing made');
});
