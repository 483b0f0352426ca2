/**
 * Backup and restore end to end: a real etcd, apiserver and controller-manager, one QEMU agent,
 * a BackupLocation in a temporary directory, and shoalctl as users run it.
 *
 *   a running VM backed up          → its guest keeps running (same QEMU); the copy is whole
 *   an incremental after a change   → a fraction of the full one's bytes, built on it
 *   a restore under a new name      → a new VM whose disk holds what was written before the
 *                                     backup, not what was written after
 *   the full one deleted            → the incremental takes in what it needed of it, and still
 *                                     restores to the right content
 *   the agent killed mid-backup     → the backup Failed, the guest running on, untouched; the
 *                                     next incremental builds on the last good one
 *   a backup file corrupted         → the restore fails that volume, saying so; the VM is not
 *                                     booted on a blank disk
 *   an expired backup               → deleted with its data
 *
 * The guest (busybox) reads two markers on its disk, says what it saw, and writes the first
 * missing one: boot 1 writes MARK-A (and 16 MiB of random data after it), boot 2 MARK-B.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backup, DiskBackup, Restore, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { startCluster, waitFor, type AgentProcess, type TestCluster } from '@shoal/testing';
import { shoalctl } from '../apps/cli/src/test-support/shoalctl.js';

let cluster: TestCluster;
let client: ShoalClient;
let agent: AgentProcess;
let location: string;
const NODE = 'bk-a';
const NS = { namespace: 'default' };
/** Room for the source and its restored copies side by side, whatever the machine's cores. */
const AGENT_ARGS = ['--vcpus', '8'];

before(async () => {
  cluster = await startCluster({ controllerManager: true });
  client = cluster.client;
  location = await mkdtemp(join(tmpdir(), 'shoal-backups-'));
  agent = await cluster.startAgent(NODE, { stopVmsOnExit: false, args: AGENT_ARGS });
  await client.create('backuplocation', { metadata: { name: 'local' }, spec: { path: location, default: true } });
});

after(async () => {
  await cluster?.stop();
  await rm(location, { recursive: true, force: true });
});

const GUEST = [
  'sh',
  '-c',
  [
    'a=$(dd if=/dev/vda bs=512 count=1 2>/dev/null | grep -o MARK-A | head -n1)',
    'b=$(dd if=/dev/vda bs=512 skip=1 count=1 2>/dev/null | grep -o MARK-B | head -n1)',
    'echo "SEEN a=$a b=$b."',
    'if [ -z "$a" ]; then dd if=/dev/urandom of=/dev/vda bs=1M seek=1 count=16 conv=fsync 2>/dev/null; echo MARK-A | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null; echo WROTE-A',
    'elif [ -z "$b" ]; then echo MARK-B | dd of=/dev/vda bs=512 seek=1 count=1 conv=sync,fsync 2>/dev/null; echo WROTE-B; fi',
    'exec sleep 600',
  ].join('\n'),
];

const cli = (...args: string[]) => shoalctl([...args, '--server', cluster.url]);
const getBackup = (name: string) => client.get<Backup>('backup', name, NS);
const vmNow = (name: string) => client.get<VirtualMachine>('vm', name, NS);

async function consoleSays(name: string, text: string, timeoutMs = 60_000): Promise<VirtualMachine> {
  return waitFor(
    async () => {
      const vm = await vmNow(name).catch(() => undefined);
      if (!vm?.metadata.uid || !vm.spec.nodeName) return undefined;
      const log = await readFile(join(agent.dataDir, 'vms', vm.metadata.uid, 'serial.log'), 'utf8').catch(() => '');
      return log.includes(text) ? vm : undefined;
    },
    { timeoutMs, message: `${name}'s console to say ${text}` },
  );
}

/** The guest's QEMU and boot, as its agent reports them: both the same means it was not restarted. */
const incarnation = (vm: VirtualMachine) => `pid ${vm.status?.pid} booted ${vm.status?.bootedAt}`;

async function backupVm(name: string, ...flags: string[]): Promise<Backup> {
  const run = await cli('backup', 'vm', 'src', '--backup-name', name, ...flags);
  assert.equal(run.exitCode, 0, `shoalctl backup: ${run.stderr}`);
  assert.match(run.stdout, new RegExp(`backup.shoal.dev/${name} completed`));
  return getBackup(name);
}

async function fileRecord(backup: string) {
  const b = await getBackup(backup);
  assert.equal(b.status?.volumes?.length, 1, 'one volume');
  return b.status!.volumes![0]!;
}

let fullFile = '';

test('a running VM is backed up live; an incremental after a small change is small; restores bring back what each backup held', async () => {
  await client.create('vm', {
    metadata: { name: 'src', namespace: 'default' },
    spec: {
      resources: { vcpus: 1, memoryMiB: 128 },
      network: { mode: 'none' },
      volumes: [{ name: 'data', volumeTemplate: { sizeGiB: 1 } }],
      command: GUEST,
    },
  });
  let src = await consoleSays('src', 'WROTE-A');
  const before = incarnation(src);

  const full = await backupVm('full1');
  assert.equal(full.status?.phase, 'Completed');
  assert.equal(full.status?.consistency, 'CrashConsistent');
  assert.deepEqual(
    full.status?.vms?.map((v) => [v.name, v.phase, v.running]),
    [['src', 'Completed', true]],
  );
  const fullRecord = (full.status?.volumes ?? [])[0]!;
  assert.equal(fullRecord.mode, 'Full');
  assert.match(fullRecord.sha256 ?? '', /^[0-9a-f]{64}$/);
  assert.ok((fullRecord.bytes ?? 0) > 16 * 2 ** 20, `the full copy holds the 16 MiB written (${fullRecord.bytes} bytes)`);
  fullFile = fullRecord.file!;
  assert.ok(existsSync(join(location, fullFile)), 'its file is at the location');
  assert.equal(incarnation(await vmNow('src')), before, 'the guest ran on through its backup');

  // Boot 2 writes MARK-B: a one-sector change.
  assert.equal((await cli('restart', 'vm', 'src')).exitCode, 0);
  src = await consoleSays('src', 'WROTE-B');
  const inc = await backupVm('inc1', '--mode', 'Incremental');
  const incRecord = (inc.status?.volumes ?? [])[0]!;
  assert.equal(incRecord.mode, 'Incremental', incRecord.modeReason);
  assert.equal(incRecord.parent, fullFile, 'built on the full one');
  assert.ok((incRecord.bytes ?? 0) * 20 < fullRecord.bytes!, `the incremental (${incRecord.bytes} bytes) is a fraction of the full one (${fullRecord.bytes})`);

  // A restore is done once its volumes hold the backed-up data: the guests boot meanwhile.
  const restored = await cli('restore', 'full1', '--as', 'copy1');
  assert.equal(restored.exitCode, 0, restored.stderr);
  assert.match(restored.stdout, /volume\/copy1-data \(from src-data\): Restored/);
  assert.match(restored.stdout, /virtualmachine\/copy1 \(from src\): Restored/);

  // The full one goes; the incremental takes in what it read through it.
  assert.equal((await cli('delete', 'backup', 'full1')).exitCode, 0);
  await waitFor(async () => !(await client.list<Backup>('backup', NS)).items.some((b) => b.metadata.name === 'full1'), {
    timeoutMs: 30_000,
    message: 'full1 deleted',
  });
  assert.ok(!existsSync(join(location, fullFile)), 'its data is gone');
  const folded = await fileRecord('inc1');
  assert.equal(folded.parent, undefined, 'inc1 stands on its own now');
  assert.notEqual(folded.sha256, incRecord.sha256, 'its checksum is that of the new file');

  assert.equal((await cli('restore', 'inc1', '--as', 'copy2')).exitCode, 0);
  await Promise.all([consoleSays('copy1', 'SEEN a=MARK-A b=.'), consoleSays('copy2', 'SEEN a=MARK-A b=MARK-B.')]);
  for (const vm of ['copy1', 'copy2']) await cli('delete', 'vm', vm);
});

test('kill -9 of the agent mid-backup leaves a Failed backup and the VM running; the next incremental builds on the last good one', async () => {
  const src = await vmNow('src');
  assert.ok(src.status?.pid && src.status.phase === 'Running', 'src runs');
  const before = incarnation(src);
  // A slow copy (1 MiB/s), so the agent can be killed during it.
  await agent.kill();
  agent = await cluster.startAgent(NODE, { stopVmsOnExit: false, dataDir: agent.dataDir, args: [...AGENT_ARGS, '--backup-bandwidth', '1'] });
  const run = await cli('backup', 'vm', 'src', '--backup-name', 'cut', '--mode', 'Full', '--no-wait');
  assert.equal(run.exitCode, 0, run.stderr);
  await waitFor(async () => (await client.get<DiskBackup>('diskbackup', 'cut-src', NS).catch(() => undefined))?.status?.progress, {
    timeoutMs: 30_000,
    message: 'the copy under way',
  });
  await agent.kill();
  agent = await cluster.startAgent(NODE, { stopVmsOnExit: false, dataDir: agent.dataDir, args: AGENT_ARGS });

  const cut = await waitFor(async () => ((b) => (b.status?.phase === 'Failed' ? b : undefined))(await getBackup('cut')), {
    timeoutMs: 30_000,
    message: 'the cut backup Failed',
  });
  assert.match(cut.status?.errors?.map((e) => `${e.reason}: ${e.message}`).join() ?? '', /AgentRestarted: .*restarted during the copy/);
  assert.ok(!existsSync(join(location, cut.status!.path!)), 'nothing of it is left at the location');
  const after = await waitFor(async () => ((vm) => (vm.status?.pid ? vm : undefined))(await vmNow('src')), {
    timeoutMs: 10_000,
    message: 'the restarted agent reports src',
  });
  assert.equal(incarnation(after), before, 'the guest ran on, the same QEMU, never rebooted');
  assert.ok(existsSync(`/proc/${after.status!.pid}`), 'its QEMU is alive');

  const next = await backupVm('inc2', '--mode', 'Incremental');
  const record = (next.status?.volumes ?? [])[0]!;
  assert.equal(record.mode, 'Incremental', record.modeReason);
  assert.equal(record.parent, (await fileRecord('inc1')).file, 'built on the last good backup');
});

test('a corrupt backup file fails the restore of that volume, saying so, and its VM does not boot on a blank disk; an expired backup goes with its data', async () => {
  const victim = join(location, (await fileRecord('inc1')).file!);
  const fh = await open(victim, 'r+');
  await fh.write(Buffer.from('corruption'), 0, 10, 4 * 2 ** 20);
  await fh.close();
  // inc2 builds on inc1: its chain reads the corrupt file.
  const run = await cli('restore', 'inc2', '--as', 'copy3');
  assert.equal(run.exitCode, 1, run.stdout);
  assert.match(run.stderr, /volume\/copy3-data \(from src-data\): Failed: .*corrupt/);
  const restore = (await client.list<Restore>('restore', NS)).items.find((r) => r.spec.renames?.[0]?.to === 'copy3')!;
  assert.equal(restore.status?.phase, 'PartiallyFailed');
  const copy3 = await vmNow('copy3');
  assert.notEqual(copy3.status?.phase, 'Running');
  assert.equal(copy3.status?.reason, 'VolumeFailed', copy3.status?.message);
  assert.equal(copy3.status?.pid, undefined, 'no QEMU for it');
  await cli('delete', 'vm', 'copy3');

  assert.equal((await cli('backup', 'vm', 'src', '--backup-name', 'short', '--ttl', '8s', '--no-wait')).exitCode, 0);
  const short = await waitFor(async () => ((b) => (b.status?.phase === 'Completed' ? b : undefined))(await getBackup('short')), {
    timeoutMs: 8_000,
    message: 'the short-lived backup Completed before it expires',
  });
  const dir = join(location, short.status!.path!);
  assert.ok(existsSync(dir));
  await waitFor(async () => !(await client.list<Backup>('backup', NS)).items.some((b) => b.metadata.name === 'short'), {
    timeoutMs: 30_000,
    message: 'the expired backup deleted',
  });
  assert.ok(!existsSync(dir), 'its data went with it');
});
