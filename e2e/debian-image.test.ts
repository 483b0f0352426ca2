/**
 * A real distribution end to end: the Debian image deploy/guest/build-debian-image.sh builds
 * (install-deps builds it), declared as an Image with file:// URLs and the digests the build
 * recorded, booted by a QEMU agent with a root disk made from it and a NoCloud config drive made
 * from the VM's spec.guest. What a user of it expects:
 *
 *   the hostname and SSH key given in spec.guest  → `ssh -p <published port>` with that key
 *                                                   answers, as the image's user, on that host
 *   a script in spec.guest                        → ran once at first boot
 *   shoalctl stop                                 → the guest powers itself off (ACPI), no kill
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Event, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { freePort, REPO_ROOT, startCluster, waitFor, waitForObject, type TestCluster } from '@shoal/testing';
import { imageCacheDir } from '../apps/agent/src/runtime/qemu/guest-image.js';
import { shoalctl } from '../apps/cli/src/test-support/shoalctl.js';

let cluster: TestCluster;
let client: ShoalClient;
let keyDir: string;
let sshPort: number;
/** The image's default user, as its image.json says. */
let sshUser: string;
const NODE = 'deb-node';
const ns = { namespace: 'default' };

interface DebianImageJson {
  sshUser: string;
}

before(async () => {
  const dir = join(imageCacheDir(), 'debian');
  const built = JSON.parse(
    await readFile(join(dir, 'image.json'), 'utf8').catch(() => {
      throw new Error(`no Debian image in ${dir}: build it with \`bash deploy/guest/build-debian-image.sh\` (npm test's install-deps does)`);
    }),
  ) as DebianImageJson;
  keyDir = await mkdtemp(join(tmpdir(), 'shoal-debian-key-'));
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'shoal-e2e', '-f', join(keyDir, 'id')]);
  sshPort = await freePort();
  cluster = await startCluster({ controllerManager: true, agents: [NODE], agentArgs: ['--vcpus', '2', '--memory-mib', '2048', '--stop-grace', '60'] });
  client = cluster.client;
  // The Image as the README makes it: the manifest deploy/guest/image-manifest.sh prints from the build.
  const manifest = await execa('bash', [join(REPO_ROOT, 'deploy/guest/image-manifest.sh'), 'debian', 'debian-12']);
  await client.create('image', JSON.parse(manifest.stdout));
  sshUser = built.sshUser;
});

after(async () => {
  await cluster?.stop();
  await rm(keyDir, { recursive: true, force: true });
});

const ssh = (command: string) =>
  execa(
    'ssh',
    [
      ...['-i', join(keyDir, 'id'), '-p', String(sshPort), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'],
      ...['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR', `${sshUser}@127.0.0.1`, command],
    ],
    { reject: false },
  );

test('a Debian VM from the Image: its hostname and key from the config drive, SSH on the published port, its first-boot script run', async () => {
  const publicKey = (await readFile(join(keyDir, 'id.pub'), 'utf8')).trim();
  await client.create('vm', {
    metadata: { name: 'deb-1', ...ns },
    spec: {
      image: 'debian-12',
      resources: { vcpus: 1, memoryMiB: 512 },
      rootDisk: { baseImage: 'debian-12' },
      network: { mode: 'user' },
      ports: [{ name: 'ssh', hostPort: sshPort, guestPort: 22 }],
      guest: { hostname: 'deb-one', sshAuthorizedKeys: [publicKey], script: 'echo first-boot > /var/tmp/shoal-first-boot' },
    },
  });
  const vm = await waitForObject(client, 'VirtualMachine', 'deb-1', (v) => v.status?.phase === 'Running', {
    ...ns,
    timeoutMs: 300_000,
    intervalMs: 200,
    message: 'deb-1 Running (cloud-init done, sshd up)',
  });
  const answer = await waitFor(
    async () => {
      const r = await ssh('hostname; cat /var/tmp/shoal-first-boot; id -un');
      return r.exitCode === 0 ? r : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200, message: 'ssh with the key from spec.guest' },
  );
  assert.deepEqual(answer.stdout.trim().split('\n'), ['deb-one', 'first-boot', sshUser]);
  const root = await client.get('volume', 'deb-1-root', ns);
  assert.equal((root as { status?: { phase?: string } }).status?.phase, 'Available', 'its root disk a Volume of its own, made from the image');
  const wrongKey = await execa(
    'ssh',
    [
      '-p',
      String(sshPort),
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'PasswordAuthentication=no',
      `${sshUser}@127.0.0.1`,
      'true',
    ],
    {
      reject: false,
      env: { SSH_AUTH_SOCK: '' },
    },
  );
  assert.notEqual(wrongKey.exitCode, 0, 'no way in without the key');
  assert.ok(vm.status?.bootedAt);
});

test('shoalctl stop: the Debian guest powers itself off through ACPI within the grace period, never killed', async () => {
  const stopped = await shoalctl(['stop', 'vm', 'deb-1', '--server', cluster.url]);
  assert.equal(stopped.exitCode, 0, stopped.stderr);
  const vm = await waitForObject(client, 'VirtualMachine', 'deb-1', (v) => v.status?.phase === 'Stopped', {
    ...ns,
    timeoutMs: 90_000,
    intervalMs: 100,
    message: 'deb-1 Stopped',
  });
  const run = join(cluster.agents.get(NODE)!.dataDir, 'vms', vm.metadata.uid!);
  // QEMU exits 0 when the guest powers off (-no-reboot); a kill would show in its exit code.
  const exit = JSON.parse(await readFile(join(run, 'exit.json'), 'utf8')) as { code: number };
  assert.equal(exit.code, 0, `QEMU exited on its own after the guest's poweroff: ${vm.status?.message}`);
  const serial = await readFile(join(run, 'serial.log'), 'utf8');
  assert.match(serial, /SHOAL-SHUTDOWN/, 'the guest said it was shutting down');
  assert.match(serial, /reboot: Power down/, 'and its kernel powered the machine off');
  const events = (await client.list<Event>('event', ns)).items.filter((e) => e.involvedObject.name === 'deb-1');
  assert.ok(!events.some((e) => e.type === 'Warning'), `no warning: ${events.map((e) => `${e.reason}: ${e.message}`).join(' | ')}`);
  await client.delete('vm', 'deb-1', ns);
  await waitFor(async () => !(await client.list<VirtualMachine>('vm', ns)).items.some((v) => v.metadata.name === 'deb-1'), {
    timeoutMs: 60_000,
    message: 'deb-1 deleted',
  });
});
