/**
 * QEMU processes started straight from this Node process, without the driver's supervisor: for
 * the migration tests and the raw baseline benchmark, which need two QEMUs of one guest side by
 * side on one machine, a QMP session to each, and to kill them when done.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { detectAccelerator, hostTscKhz, type Accelerator } from '../accelerator.js';
import { buildQemuCommandLine, type QemuCommandLine, type QemuDisk } from '../command-line.js';
import { locateGuestImage, type GuestImage } from '../guest-image.js';
import { QmpSession } from './qmp-session.js';

export interface LocalQemuOptions {
  /** The guest's identity: source and target of one migration share it. */
  uid: string;
  memoryMiB?: number;
  command?: string;
  rootDisk?: QemuDisk;
  /** `defer` for a migration target. */
  incoming?: string;
  startPaused?: boolean;
  /** Where serial.log and qmp.sock go; a fresh temporary directory (removed by kill()) when omitted. */
  runDir?: string;
}

export interface LocalQemu {
  line: QemuCommandLine;
  runDir: string;
  pid: number | undefined;
  /** Settles when QEMU exited, however. */
  exited: Promise<{ exitCode?: number; signal?: string; output: string }>;
  isRunning(): boolean;
  serial(): Promise<string>;
  /** A fresh QMP session, once QEMU listens on its socket (within `timeoutMs`). */
  connect(timeoutMs?: number): Promise<QmpSession>;
  /** SIGKILLs QEMU, waits for it, removes a run directory made for it. */
  kill(): Promise<void>;
}

let host: Promise<{ image: GuestImage; accelerator: Accelerator; tscKhz?: number }> | undefined;

function hostFacts() {
  host ??= (async () => {
    const image = await locateGuestImage();
    const accelerator = (await detectAccelerator({ kernel: image.kernel })).accelerator;
    return { image, accelerator, tscKhz: await hostTscKhz() };
  })();
  return host;
}

export async function startLocalQemu(opts: LocalQemuOptions): Promise<LocalQemu> {
  const { image, accelerator, tscKhz } = await hostFacts();
  const ownDir = opts.runDir === undefined;
  const runDir = opts.runDir ?? (await mkdtemp(join(tmpdir(), 'shoal-mig-')));
  const line = buildQemuCommandLine({
    uid: opts.uid,
    vcpus: 1,
    memoryMiB: opts.memoryMiB ?? 128,
    accelerator,
    tscKhz,
    kernel: image.kernel,
    initrd: image.initrd,
    command: opts.command,
    runDir,
    network: { mode: 'none' },
    rootDisk: opts.rootDisk,
    incoming: opts.incoming,
    startPaused: opts.startPaused,
  });
  const proc: ResultPromise = execa(line.binary, line.args, { reject: false, stdin: 'ignore', all: true });
  let running = true;
  const exited = proc.then((r) => {
    running = false;
    return { exitCode: r.exitCode, signal: r.signal, output: String(r.all ?? '') };
  });
  return {
    line,
    runDir,
    pid: proc.pid,
    exited,
    isRunning: () => running,
    serial: () => readFile(line.serialLog, 'utf8').catch(() => ''),
    async connect(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          return await QmpSession.connect(line.qmpSocket, { timeoutMs });
        } catch (err) {
          // The socket appears once QEMU has parsed its command line and set up the monitor.
          if (!running || Date.now() > deadline)
            throw new Error(`QMP of ${opts.uid} at ${line.qmpSocket}: ${(err as Error).message}${running ? '' : ' (QEMU exited)'}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      }
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited;
      if (ownDir) await rm(runDir, { recursive: true, force: true });
    },
  };
}
