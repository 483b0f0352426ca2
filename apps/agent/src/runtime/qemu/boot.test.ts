/**
 * Boots the real default guest image with the generated QEMU command line (TCG on the build
 * machines): the boot marker, a command's output and exit code, a virtio-blk disk, and a clean
 * poweroff after QMP system_powerdown. Needs deploy/install-deps.sh to have run (QEMU, the image).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { waitFor } from '@shoal/testing';
import { detectAccelerator, hostTscKhz, type Accelerator } from './accelerator.js';
import { buildQemuCommandLine, type QemuVmSpec } from './command-line.js';
import { locateGuestImage, type GuestImage } from './guest-image.js';

const DEADLINE_MS = 60_000;

let image: GuestImage;
let accelerator: Accelerator;
let tscKhz: number | undefined;
const dirs: string[] = [];

before(async () => {
  image = await locateGuestImage();
  accelerator = (await detectAccelerator({ kernel: image.kernel })).accelerator;
  tscKhz = await hostTscKhz();
});

after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface RunningVm {
  proc: ResultPromise;
  exited: Promise<{ exitCode?: number; signal?: string }>;
  serial(): Promise<string>;
  qmpSocket: string;
  startedAt: number;
}

async function boot(spec: Partial<QemuVmSpec> & { uid: string }): Promise<RunningVm> {
  const runDir = await mkdtemp(join(tmpdir(), 'shoal-vm-'));
  dirs.push(runDir);
  const cmd = buildQemuCommandLine({
    vcpus: 1,
    memoryMiB: 256,
    accelerator,
    tscKhz,
    kernel: image.kernel,
    initrd: image.initrd,
    runDir,
    ...spec,
  });
  const startedAt = Date.now();
  const proc = execa(cmd.binary, cmd.args, { reject: false, stdin: 'ignore', all: true });
  const exited = proc.then((r) => ({ exitCode: r.exitCode, signal: r.signal }));
  return {
    proc,
    exited,
    serial: () => readFile(cmd.serialLog, 'utf8').catch(() => ''),
    qmpSocket: cmd.qmpSocket,
    startedAt,
  };
}

/** Sends QMP commands over the VM's socket (after the capabilities handshake) and returns their replies. */
async function qmp(socketPath: string, ...commands: string[]): Promise<unknown[]> {
  const sock = createConnection(socketPath);
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  sock.on('data', (c: Buffer) => {
    buf += c.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
    }
  });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  try {
    await waitFor(() => lines.some((l) => 'QMP' in l), { timeoutMs: 5000, message: 'QMP greeting' });
    const replies: unknown[] = [];
    for (const execute of ['qmp_capabilities', ...commands]) {
      const before = lines.filter((l) => 'return' in l || 'error' in l).length;
      sock.write(JSON.stringify({ execute }) + '\n');
      const reply = await waitFor(() => lines.filter((l) => 'return' in l || 'error' in l)[before], { timeoutMs: 5000, message: `QMP reply to ${execute}` });
      if ('error' in reply) throw new Error(`QMP ${execute}: ${JSON.stringify(reply.error)}`);
      replies.push(reply.return);
    }
    return replies.slice(1);
  } finally {
    sock.destroy();
  }
}

test('the guest boots, prints its marker with a DHCP address, powers off cleanly on system_powerdown', async () => {
  const vm = await boot({ uid: 'boot-test-idle', hostname: 'idle' });
  try {
    const marker = await waitFor(async () => (await vm.serial()).match(/^SHOAL-BOOTED uid=boot-test-idle ip=(\S+) uptime=(\S+)/m), {
      timeoutMs: DEADLINE_MS,
      message: 'the boot marker on the serial console',
    });
    const wallMs = Date.now() - vm.startedAt;
    assert.equal(marker[1], '10.0.2.15', 'user networking hands out 10.0.2.15 by DHCP');
    console.log(`# accelerator=${accelerator} boot-to-marker: ${wallMs} ms wall clock, ${marker[2]} s guest uptime`);

    const [status] = await qmp(vm.qmpSocket, 'query-status');
    assert.deepEqual((status as { status: string }).status, 'running');
    await qmp(vm.qmpSocket, 'system_powerdown');
    const exit = await waitFor(() => Promise.race([vm.exited, new Promise<undefined>((r) => setTimeout(r, 100))]), {
      timeoutMs: DEADLINE_MS,
      message: 'QEMU to exit after system_powerdown',
    });
    assert.equal(exit.exitCode, 0, `QEMU exit: ${JSON.stringify(exit)}`);
    assert.match(await vm.serial(), /^SHOAL-SHUTDOWN\r?$/m);
  } finally {
    vm.proc.kill('SIGKILL');
    await vm.exited;
  }
});

test('the guest runs its command, reports the exit code and powers off; virtio-blk shows up as /dev/vda', async () => {
  const runDir = await mkdtemp(join(tmpdir(), 'shoal-disk-'));
  dirs.push(runDir);
  const disk = join(runDir, 'disk.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
  const vm = await boot({
    uid: 'boot-test-cmd',
    command: "echo 'hello from the guest'; uname -r; ls /dev/vda; exit 7",
    rootDisk: { path: disk },
  });
  try {
    const exit = await waitFor(() => Promise.race([vm.exited, new Promise<undefined>((r) => setTimeout(r, 100))]), {
      timeoutMs: DEADLINE_MS,
      message: 'QEMU to exit after the command',
    });
    const serial = await vm.serial();
    assert.equal(exit.exitCode, 0, `QEMU exit: ${JSON.stringify(exit)}\n${serial}`);
    assert.match(serial, /^SHOAL-BOOTED uid=boot-test-cmd ip=10\.0\.2\.15 /m);
    assert.match(serial, /^hello from the guest\r?$/m);
    assert.ok(serial.includes(image.kernelRelease), 'uname -r prints the image kernel release');
    assert.match(serial, /^\/dev\/vda\r?$/m);
    assert.match(serial, /^SHOAL-EXIT code=7\r?$/m);
  } finally {
    vm.proc.kill('SIGKILL');
    await vm.exited;
  }
});
