/**
 * Live migration between two real QEMUs on this machine (TCG on the build machines), through
 * the module's front door: prepareIncoming on the target, migrate on the source, resumeTarget.
 * Each case boots only the guests it needs; every QEMU is killed in `finally`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { freePort, makeClientCertificate, makeServerCertificates, waitFor, type TestCertificates } from '@shoal/testing';
import { MigrationError, REFUSED_CHANNEL_MAX_BYTES } from './errors.js';
import { startLocalQemu, type LocalQemu } from './local-qemu.js';
import type { MigrationProgress } from './progress.js';
import type { QmpSession } from './qmp-session.js';
import { migrate, type MigrateOptions } from './source.js';
import { prepareIncoming, resumeTarget, type PrepareIncomingOptions } from './target.js';
import { writeQemuTlsDirectory } from './tls-credentials.js';

const BOOT_DEADLINE_MS = 60_000;
/** A counter on the serial console every ~200 ms: where it stops on one side and goes on on the other shows a live move. */
const COUNTER = 'i=0; while :; do echo "COUNT $i"; i=$((i+1)); sleep 0.2; done';
/** The client certificate's subject, and the distinguished name QEMU's authz sees for it. */
const SOURCE_NODE = 'shoal-node-a';
const SOURCE_DN = `CN=${SOURCE_NODE}`;

let work: string;
let certs: TestCertificates;
/** TLS directories in QEMU's layout. */
let serverTls: string;
let clientTls: string;
let foreignClientTls: string;
let noClientCertTls: string;
let unauthorizedClientTls: string;
const vms: LocalQemu[] = [];
const sessions: QmpSession[] = [];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-migration-test-'));
  certs = await makeServerCertificates();
  serverTls = await writeQemuTlsDirectory(join(work, 'tls-server'), 'server', certs);
  const client = await makeClientCertificate(certs, SOURCE_NODE);
  clientTls = await writeQemuTlsDirectory(join(work, 'tls-client'), 'client', { ...client, caFile: certs.caFile });
  // Signed by a CA of its own: the target must refuse it. Its ca-cert.pem holds both CAs: the
  // real one to trust the target, its own because QEMU checks its own certificate against it.
  const foreign = await makeClientCertificate(certs, 'intruder', { untrusted: true });
  const bundle = join(work, 'both-cas.pem');
  await writeFile(bundle, (await readFile(certs.caFile, 'utf8')) + (await readFile(foreign.caFile, 'utf8')));
  foreignClientTls = await writeQemuTlsDirectory(join(work, 'tls-foreign'), 'client', { ...foreign, caFile: bundle });
  // TLS without a client certificate (QEMU's client credentials may have none): verify-peer on the target refuses it.
  noClientCertTls = join(work, 'tls-none');
  await mkdir(noClientCertTls);
  await copyFile(certs.caFile, join(noClientCertTls, 'ca-cert.pem'));
  // From the right CA but another node's: only the authz object keeps it out.
  const other = await makeClientCertificate(certs, 'shoal-node-b');
  unauthorizedClientTls = await writeQemuTlsDirectory(join(work, 'tls-other-node'), 'client', { ...other, caFile: certs.caFile });
});

after(async () => {
  for (const s of sessions) s.close();
  for (const vm of vms) await vm.kill();
  await rm(work, { recursive: true, force: true });
  await rm(certs.dir, { recursive: true, force: true });
});

async function start(opts: Parameters<typeof startLocalQemu>[0]): Promise<{ vm: LocalQemu; qmp: QmpSession }> {
  const vm = await startLocalQemu(opts);
  vms.push(vm);
  const qmp = await vm.connect();
  sessions.push(qmp);
  return { vm, qmp };
}

async function stop(...pairs: { vm: LocalQemu; qmp: QmpSession }[]): Promise<void> {
  for (const p of pairs) {
    p.qmp.close();
    await p.vm.kill();
  }
}

const counts = (serial: string) => [...serial.matchAll(/^COUNT (\d+)\r?$/gm)].map((m) => Number(m[1]));

async function waitForSerial(vm: LocalQemu, re: RegExp, message: string, timeoutMs = BOOT_DEADLINE_MS): Promise<RegExpMatchArray> {
  let last = '';
  return waitFor(
    async () => {
      last = await vm.serial();
      return last.match(re);
    },
    { timeoutMs, message, lastSeen: () => last.slice(-500) },
  );
}

/** A port on 127.0.0.1 that this process listens on until close(). */
async function holdPort(): Promise<{ port: number; close(): void }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

async function status(qmp: QmpSession): Promise<string> {
  return (await qmp.execute<{ status: string }>('query-status')).status;
}

/** A source booted to its boot marker and a paused target waiting for it with TLS. */
async function pair(
  uid: string,
  opts: { command?: string; memoryMiB?: number; sourceDisk?: string; targetDisk?: string; target?: Partial<PrepareIncomingOptions> } = {},
) {
  const source = await start({
    uid,
    command: opts.command ?? COUNTER,
    memoryMiB: opts.memoryMiB,
    rootDisk: opts.sourceDisk ? { path: opts.sourceDisk } : undefined,
  });
  const target = await start({
    uid,
    memoryMiB: opts.memoryMiB,
    incoming: 'defer',
    startPaused: true,
    rootDisk: opts.targetDisk ? { path: opts.targetDisk } : undefined,
  });
  await waitForSerial(source.vm, new RegExp(`^SHOAL-BOOTED uid=${uid}`, 'm'), 'the source to boot');
  const endpoint = await prepareIncoming(target.qmp, {
    listenAddress: '127.0.0.1',
    port: await freePort(),
    tls: { dir: serverTls, authorizedClientDn: SOURCE_DN },
    ...opts.target,
  });
  return { source, target, endpoint };
}

test('an idle guest with a shared disk moves over TLS: its counter goes on on the target, the source ends postmigrate', async () => {
  const disk = join(work, 'shared.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
  const { source, target, endpoint } = await pair('mig-shared', { sourceDisk: disk, targetDisk: disk });
  try {
    await waitFor(async () => counts(await source.vm.serial()).length >= 5, { timeoutMs: BOOT_DEADLINE_MS, message: 'the counter on the source' });
    const progress: MigrationProgress[] = [];
    const result = await migrate(source.qmp, { uri: endpoint.migrationUri, tls: { dir: clientTls }, onProgress: (p) => progress.push(p) });
    assert.equal(await status(source.qmp), 'postmigrate', 'the source is paused for good');
    const lastOnSource = counts(await source.vm.serial()).at(-1)!;
    const resumed = await resumeTarget(target.qmp);
    assert.equal(await status(target.qmp), 'running');
    const onTarget = await waitFor(
      async () => {
        const c = counts(await target.vm.serial());
        return c.length >= 3 ? c : undefined;
      },
      { timeoutMs: 30_000, message: 'the counter on the target' },
    );
    console.log(
      `shared disk, TLS: downtime ${result.downtimeMs} ms (QEMU), total ${result.totalTimeMs} ms, ${result.transferredBytes} bytes; ` +
        `completed → target cont ${resumed.resumedAt - result.completedAt} ms; source stopped at ${lastOnSource}, target went on at ${onTarget[0]}`,
    );
    assert.ok(onTarget[0]! > lastOnSource && onTarget[0]! <= lastOnSource + 2, `the target goes on from ${lastOnSource}, not from 0: ${onTarget.join(',')}`);
    assert.ok(
      progress.some((p) => p.totalBytes > 0 && p.phase === 'migrating'),
      'progress was reported while RAM moved',
    );
    assert.equal(progress.at(-1)?.phase, 'completed');
    assert.equal(progress.at(-1)?.downtimeMs, result.downtimeMs);
    // The source stays paused: its counter does not move any more.
    assert.equal(counts(await source.vm.serial()).at(-1), lastOnSource);
  } finally {
    await stop(source, target);
  }
});

/**
 * Writes block A, then block B-n at sector 4096+n every ~100 ms, and after each write reads A and
 * every B back from the disk itself (page cache dropped), on the serial console.
 */
const DISK_WRITER = [
  'echo AAAA-before-migration | dd of=/dev/vda bs=512 seek=2048 conv=sync,fsync 2>/dev/null',
  'echo WROTE-A',
  'n=0',
  'while :; do',
  '  echo "B-$n" | dd of=/dev/vda bs=512 seek=$((4096+n)) conv=sync,fsync 2>/dev/null',
  '  echo "WROTE-B $n"',
  '  sync; echo 3 > /proc/sys/vm/drop_caches',
  "  a=$(dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | tr -d '\\000\\n')",
  "  b=$(dd if=/dev/vda bs=512 skip=4096 count=$((n+1)) 2>/dev/null | tr -d '\\000' | tr '\\n' ' ')",
  '  echo "READ a=$a b=$b"',
  '  n=$((n+1)); sleep 0.1',
  'done',
].join('\n');

const wroteB = (serial: string) => [...serial.matchAll(/^WROTE-B (\d+)\r?$/gm)].map((m) => Number(m[1]));

test('a local disk is mirrored over NBD with TLS: writes from before and during the move are on the target, in the guest and in its file', async () => {
  const sourceDisk = join(work, 'local-source.qcow2');
  const targetDisk = join(work, 'local-target.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', sourceDisk, '64M']);
  // The target's copy starts blank, same virtual size.
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', targetDisk, '64M']);
  // The ports first chosen for the target are taken by the time it listens (as when another
  // process takes a port between its choice and QEMU's listen): it listens on others it picks.
  const taken = await Promise.all([holdPort(), holdPort()]);
  const { source, target, endpoint } = await pair('mig-local', {
    command: DISK_WRITER,
    sourceDisk,
    targetDisk,
    target: { port: taken[0]!.port, nbdPort: taken[1]!.port, pickPort: () => freePort(), disks: [{ device: 'disk0' }] },
  });
  try {
    const takenPorts = taken.map((t) => `:${t.port}`);
    assert.ok(!takenPorts.some((p) => endpoint.migrationUri.endsWith(p)), `${endpoint.migrationUri} is not one of the taken ports`);
    assert.ok(!taken.some((t) => t.port === endpoint.nbd!.port), `NBD port ${endpoint.nbd!.port} is not one of the taken ports`);
    await waitForSerial(source.vm, /^READ a=AAAA-before-migration b=B-0 B-1 /m, 'block A and the first Bs on the source');
    const beforeMigration = wroteB(await source.vm.serial()).at(-1)!;
    const phases = new Set<string>();
    const result = await migrate(source.qmp, {
      uri: endpoint.migrationUri,
      disks: endpoint.nbd!.exports.map((e) => ({ device: e.device, host: endpoint.nbd!.host, port: endpoint.nbd!.port, exportName: e.exportName })),
      tls: { dir: clientTls },
      onProgress: (p) => phases.add(p.phase),
    });
    assert.equal(await status(source.qmp), 'postmigrate');
    const lastOnSource = wroteB(await source.vm.serial()).at(-1)!;
    assert.ok(
      lastOnSource > beforeMigration,
      `the guest wrote during the migration (B-${beforeMigration} before it started, B-${lastOnSource} when the source stopped)`,
    );
    assert.deepEqual([...phases], ['mirroring', 'migrating', 'switchover', 'completed']);
    const resumed = await resumeTarget(target.qmp);
    console.log(
      `local disk, NBD + TLS: mirror ready after ${result.mirrorMs} ms; downtime ${result.downtimeMs} ms (QEMU, of which ${result.mirrorCompletionMs} ms ending the mirrors), ` +
        `total ${result.totalTimeMs} ms; completed → target cont ${resumed.resumedAt - result.completedAt} ms; B-${beforeMigration}..B-${lastOnSource} written during the move`,
    );
    // The guest, now on the target, reads every block back from its disk — now the target's file.
    const everyB = Array.from({ length: lastOnSource + 1 }, (_, k) => `B-${k}`).join(' ');
    await waitForSerial(target.vm, new RegExp(`^READ a=AAAA-before-migration b=${everyB} `, 'm'), 'the target guest to read A and every B back', 30_000);
    await stop(target);
    // And the target host's qcow2 holds them.
    const raw = join(work, 'local-target.raw');
    await execa('qemu-img', ['convert', '-O', 'raw', targetDisk, raw]);
    const bytes = await readFile(raw);
    const sector = (n: number) =>
      bytes
        .subarray(n * 512, n * 512 + 512)
        .toString('latin1')
        .replace(/\0+$/, '')
        .trim();
    assert.equal(sector(2048), 'AAAA-before-migration');
    for (let k = 0; k <= lastOnSource; k++) assert.equal(sector(4096 + k), `B-${k}`);
  } finally {
    await stop(source, target);
    for (const t of taken) t.close();
  }
});

test('a source with no client certificate, one from another CA, or one from the CA but for another node is refused; the source runs on', async () => {
  const { source, target, endpoint } = await pair('mig-tls-refused');
  let current = { target, endpoint };
  try {
    for (const [what, dir] of [
      ['no client certificate', noClientCertTls],
      ['another CA', foreignClientTls],
      ['another node', unauthorizedClientTls],
    ] as const) {
      if (!current.target.vm.isRunning()) {
        // A target that gave up on a refused source is replaced (not needed with QEMU 7.2: it listens on).
        const t = await start({ uid: 'mig-tls-refused', incoming: 'defer', startPaused: true });
        current = {
          target: t,
          endpoint: await prepareIncoming(t.qmp, {
            listenAddress: '127.0.0.1',
            port: await freePort(),
            tls: { dir: serverTls, authorizedClientDn: SOURCE_DN },
          }),
        };
      }
      const err = await migrate(source.qmp, { uri: current.endpoint.migrationUri, tls: { dir } }).then(
        () => assert.fail(`a source with ${what} was let in`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof MigrationError, String(err));
      console.log(`${what}: ${err.message}; target QEMU ${current.target.vm.isRunning() ? 'listens on' : 'exited'}`);
      assert.equal(err.reason, 'TlsRejected');
      assert.equal(await status(source.qmp), 'running');
      const last = counts(await source.vm.serial()).at(-1)!;
      await waitFor(async () => counts(await source.vm.serial()).at(-1)! > last + 2, { timeoutMs: 30_000, message: 'the counter to go on on the source' });
    }
  } finally {
    await stop(source, current.target);
    if (current.target !== target) await stop(target);
  }
});

/** A slow migration (8 MiB/s), once it moved more than REFUSED_CHANNEL_MAX_BYTES (a lost target is told from a refused certificate by that); `outcome` is its error (undefined if it completed). */
async function slowMigrationUnderWay(source: { qmp: QmpSession }, uri: string, signal?: AbortSignal) {
  let moved: () => void;
  const underWay = new Promise<void>((r) => (moved = r));
  const opts: MigrateOptions = {
    uri,
    tls: { dir: clientTls },
    policy: { bandwidthMiBps: 8 },
    signal,
    onProgress: (p) => {
      if (p.transferredBytes > REFUSED_CHANNEL_MAX_BYTES + 1024 * 1024) moved();
    },
  };
  const outcome = migrate(source.qmp, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  await Promise.race([underWay, outcome]);
  return { outcome };
}

test('cancelling mid-transfer leaves the source running and its counter going on', async () => {
  const { source, target, endpoint } = await pair('mig-cancel');
  try {
    const abort = new AbortController();
    const { outcome } = await slowMigrationUnderWay(source, endpoint.migrationUri, abort.signal);
    abort.abort();
    const err = await outcome;
    assert.ok(err instanceof MigrationError && err.reason === 'Cancelled', String(err));
    assert.equal(await status(source.qmp), 'running');
    const last = counts(await source.vm.serial()).at(-1)!;
    await waitFor(async () => counts(await source.vm.serial()).at(-1)! > last + 2, { timeoutMs: 30_000, message: 'the counter to go on on the source' });
    assert.equal((await source.qmp.execute<{ status: string }>('query-migrate')).status, 'cancelled');
  } finally {
    await stop(source, target);
  }
});

test('killing the target mid-transfer fails the migration with a clear error; the source runs on', async () => {
  const { source, target, endpoint } = await pair('mig-target-killed');
  try {
    const { outcome } = await slowMigrationUnderWay(source, endpoint.migrationUri);
    await target.vm.kill();
    const err = await outcome;
    assert.ok(err instanceof MigrationError && err.reason === 'TargetFailed', String(err));
    console.log(`target killed: ${err.message}`);
    assert.equal(await status(source.qmp), 'running');
    const last = counts(await source.vm.serial()).at(-1)!;
    await waitFor(async () => counts(await source.vm.serial()).at(-1)! > last + 2, { timeoutMs: 30_000, message: 'the counter to go on on the source' });
  } finally {
    await stop(source, target);
  }
});

/** Rewrites 48 MiB of non-zero tmpfs pages in place, over and over (zero pages would travel for free). */
const MEMORY_DIRTIER = [
  'yes shoal-dirty-page | dd of=/dev/shm/a bs=1M count=48 iflag=fullblock 2>/dev/null',
  'dd if=/dev/shm/a of=/dev/shm/b bs=1M 2>/dev/null',
  'k=0',
  'while :; do dd if=/dev/shm/a of=/dev/shm/b bs=1M conv=notrunc 2>/dev/null; echo "DIRTY $k"; k=$((k+1)); done',
].join('\n');

test('a guest that dirties memory all the time converges with auto-converge', async () => {
  const { source, target, endpoint } = await pair('mig-dirty', { command: MEMORY_DIRTIER, memoryMiB: 256 });
  try {
    await waitForSerial(source.vm, /^DIRTY 3\r?$/m, 'the guest to dirty its memory');
    let throttle = 0;
    let dirtyPages = 0;
    const started = Date.now();
    const result = await migrate(source.qmp, {
      uri: endpoint.migrationUri,
      tls: { dir: clientTls },
      policy: { autoConverge: true, bandwidthMiBps: 32, maxDowntimeMs: 300 },
      onProgress: (p) => {
        throttle = Math.max(throttle, p.cpuThrottlePercentage ?? 0);
        dirtyPages = Math.max(dirtyPages, p.dirtyPagesPerSecond ?? 0);
      },
    });
    console.log(
      `dirtying guest: converged in ${Date.now() - started} ms with the vCPU throttled up to ${throttle} %, ` +
        `${dirtyPages} pages/s dirtied at most; downtime ${result.downtimeMs} ms, ${result.transferredBytes} bytes sent`,
    );
    assert.ok(throttle > 0, 'auto-converge had to throttle the guest (it dirties faster than 32 MiB/s)');
    assert.equal(await status(source.qmp), 'postmigrate');
    await resumeTarget(target.qmp);
    assert.equal(await status(target.qmp), 'running');
    // Not asserted here: that the guest runs on afterwards. Under TCG (QEMU 7.2) a guest moved
    // after a throttled migration panics on the target within seconds (RIP 0 in the dirtying dd);
    // moved without throttling it runs on. The live-migration controller must not count on
    // auto-converge under TCG until that is understood.
  } finally {
    await stop(source, target);
  }
});
