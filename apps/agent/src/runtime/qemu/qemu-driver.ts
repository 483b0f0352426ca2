/**
 * The QEMU microvm runtime. Each VM runs under vm-supervisor.sh, detached from the agent, in
 * <data-dir>/vms/<uid>/: vm.json (who it is), supervisor.pid, qemu.pid, qmp.sock, serial.log,
 * stop.json once a stop was requested (its deadline; whether it is a kill), exit.json once it exited, `fenced` when
 * fencing stopped it. Everything the driver knows it can re-read from those files, which is how
 * a restarted agent re-adopts running VMs without touching them — and carries on with a stop
 * under way, deadline and all.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import { execa } from 'execa';
import chokidar, { type FSWatcher } from 'chokidar';
import {
  FENCED_REASON,
  LaunchRefusedError,
  type Capacity,
  type InstanceState,
  type MigratableRuntime,
  type RuntimeDriver,
  type RuntimeInfo,
  type VmLaunchSpec,
} from '../driver.js';
import { buildQemuCommandLine, PID_FILE, QMP_OBSERVER_SOCKET_FILE, QMP_SOCKET_FILE, SERIAL_LOG_FILE, type QemuNetwork } from './command-line.js';
import { detectAccelerator, hostTscKhz, type Accelerator } from './accelerator.js';
import { locateGuestImage } from './guest-image.js';
import { writeNoCloudDrive, type NoCloudFiles } from '../../images/config-drive.js';
import { qmpCommand } from './qmp-client.js';
import { MarkerScanner } from './serial-markers.js';

const SUPERVISOR = fileURLToPath(new URL('./vm-supervisor.sh', import.meta.url));
const EXIT_FILE = 'exit.json';
const META_FILE = 'vm.json';
const BOOT_FILE = 'booted.json';
/** `{"deadline": ISO time, "killed"?: true}`: a stop was requested and the guest is killed from then on; killed: by kill(). */
const STOP_FILE = 'stop.json';
/** How long one ACPI power-button request may take over QMP: a wedged monitor must not hold a reconcile. */
const POWERDOWN_QMP_TIMEOUT_MS = 1_000;
const SUPERVISOR_PID = 'supervisor.pid';
/** QEMU's pid as its supervisor recorded it at spawn (qemu.pid comes later, from QEMU itself). */
const CHILD_PID_FILE = 'child.pid';
/**
 * Written (by the supervisor or by fence()) after QEMU was stopped for fencing, for whoever reads
 * the run dir later; the supervisor reports it in exit.json. Never written before the kill: a
 * full, read-only or removed run dir must not keep a fenced VM running.
 */
const FENCED_MARKER = 'fenced';
/** Booting instances are re-read this often, to see their boot marker promptly. */
const FAST_POLL_MS = 50;
/** Every instance is re-read every this many fast polls, even without a file event. */
const SLOW_POLL_TICKS = 20;
const REFRESH_COALESCE_MS = 25;

export interface QemuDriverOptions {
  dataDir: string;
  /** File the agent touches on every successful heartbeat; the supervisors fence on its age. */
  heartbeatFile: string;
  /** Seconds without a successful heartbeat after which a VM's supervisor stops it (> 0); read at each launch. */
  fenceSeconds: number;
  /** Where the agent keeps the fence timeout in force, which the supervisors read as it changes (vm-supervisor.sh); absent: the launch's for ever. */
  fenceFile?: string;
  /** Memory kept for the host, not offered to VMs. */
  reservedMemoryMiB?: number;
  capacity?: Partial<Capacity>;
}

interface Tracked {
  state: InstanceState;
  dir: string;
  /** Reads the current boot's console output as it grows. */
  console: MarkerScanner;
  /** Re-reads of one instance run one after another: they advance the same scanner. */
  refreshing?: Promise<void>;
  /**
   * The pids last read from the run dir, kept in memory: a run dir that was removed (or cannot
   * be read) must not make a live supervisor look lost, nor its QEMU unkillable.
   */
  supervisorPid?: number;
  qemuPid?: number;
  /** Set by fence() before it kills: the exit is Fenced even if no marker could be written. */
  fenced?: boolean;
}

const isAlive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A JSON file's content, or undefined when it is missing, unreadable or not JSON (cut short on a full disk). */
async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as T | null) ?? undefined;
  } catch {
    return undefined;
  }
}

async function readPid(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** vm.json: who the instance is, for a restarted agent. */
interface InstanceMeta {
  namespace: string;
  name: string;
  startedAt: string;
  serialOffset: number;
  /** A migration target not resumed yet. */
  incoming?: boolean;
}

export class QemuDriver extends EventEmitter implements RuntimeDriver, MigratableRuntime {
  info: RuntimeInfo = { name: 'qemu-microvm', version: 'unknown', accelerator: 'tcg' };
  private readonly instances = new Map<string, Tracked>();
  private accelerator: Accelerator = 'tcg';
  private tscKhz?: number;
  private watcher?: FSWatcher;
  private poller?: NodeJS.Timeout;
  private readonly refreshTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly opts: QemuDriverOptions) {
    super();
  }

  private get vmsDir() {
    return join(this.opts.dataDir, 'vms');
  }

  async init(): Promise<void> {
    await mkdir(this.vmsDir, { recursive: true });
    this.accelerator = (await detectAccelerator()).accelerator;
    this.tscKhz = await hostTscKhz();
    const version = await execa('qemu-system-x86_64', ['--version']).then((r) => /version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown');
    this.info = { name: 'qemu-microvm', version, accelerator: this.accelerator };
    // Not the consoles: a booting guest writes its console a byte at a time, and an event per
    // byte would make the agent compete with the guest for CPU. Consoles are polled instead.
    // Not persistent: the poller below keeps the process alive while the driver is open; a watch
    // chokidar adds while close() is under way (a scan of a VM dir made or removed just then)
    // must not keep a stopped agent from exiting.
    this.watcher = chokidar.watch(this.vmsDir, { depth: 1, ignoreInitial: true, persistent: false, ignored: (path) => path.endsWith('.log') });
    this.watcher.on('all', (_event, path) => {
      const uid = path.slice(this.vmsDir.length + 1).split('/')[0];
      if (uid && this.instances.has(uid)) this.scheduleRefresh(uid);
    });
    // A watch that fails (a run dir removed under it, inotify limits) costs only promptness: the
    // poller below still looks. Unheard, the error would end the agent, fences and all.
    this.watcher.on('error', () => undefined);
    // Booting guests are looked at often (their boot marker is what a user waits for), the rest rarely.
    let tick = 0;
    this.poller = setInterval(() => {
      tick++;
      for (const [uid, t] of this.instances) if (t.state.phase === 'starting' || tick % SLOW_POLL_TICKS === 0) void this.refresh(uid);
    }, FAST_POLL_MS);
  }

  capacity(): Capacity {
    const memoryMiB = Math.floor(totalmem() / 1024 / 1024) - (this.opts.reservedMemoryMiB ?? 1024);
    return { vcpus: this.opts.capacity?.vcpus ?? cpus().length, memoryMiB: this.opts.capacity?.memoryMiB ?? Math.max(0, memoryMiB) };
  }

  async adopt(): Promise<InstanceState[]> {
    const found: InstanceState[] = [];
    for (const uid of await readdir(this.vmsDir).catch(() => [] as string[])) {
      const dir = join(this.vmsDir, uid);
      const meta = await readJson<InstanceMeta>(join(dir, META_FILE));
      if (!meta) continue;
      const tracked: Tracked = {
        dir,
        console: new MarkerScanner(uid, meta.serialOffset),
        state: { uid, namespace: meta.namespace, name: meta.name, phase: 'starting', startedAt: meta.startedAt, ...(meta.incoming ? { incoming: true } : {}) },
      };
      // A stop the previous agent process requested goes on, with its deadline.
      const stop = await readJson<{ deadline: string; killed?: boolean }>(join(dir, STOP_FILE));
      if (stop) Object.assign(tracked.state, { phase: 'stopping', stopDeadline: stop.deadline, ...(stop.killed ? { killed: true } : {}) });
      this.instances.set(uid, tracked);
      await this.refresh(uid, false);
      found.push({ ...tracked.state });
    }
    return found;
  }

  async start(spec: VmLaunchSpec, mayLaunch?: () => boolean): Promise<InstanceState> {
    const dir = join(this.vmsDir, spec.uid);
    await mkdir(dir, { recursive: true });
    for (const f of [EXIT_FILE, PID_FILE, CHILD_PID_FILE, SUPERVISOR_PID, QMP_SOCKET_FILE, QMP_OBSERVER_SOCKET_FILE, BOOT_FILE, FENCED_MARKER, STOP_FILE])
      await rm(join(dir, f), { force: true });
    // An Image's files come resolved from the node's image cache; a built-in image is found by name.
    const image = spec.boot ? { kernel: spec.boot.kernel, initrd: spec.boot.initrd } : await locateGuestImage({ name: spec.image });
    const cmdline = spec.cmdline ? spec.cmdline.split(/\s+/).filter(Boolean) : [];
    const disks = (spec.disks ?? []).map((d) => ({ path: d.path, format: d.format, ...(d.readOnly ? { readOnly: true } : {}) }));
    // Written afresh at each launch, beside the guest's console: it goes with the run dir.
    if (spec.configDrive) disks.push({ path: await writeNoCloudDrive(dir, spec.configDrive as NoCloudFiles), format: 'raw', readOnly: true });
    const kernelArgs = [...(spec.boot?.kernelArgs ?? []), ...cmdline];
    const line = buildQemuCommandLine({
      uid: spec.uid,
      hostname:
        spec.name
          .replace(/[^a-z0-9-]/g, '-')
          .slice(0, 63)
          .replace(/^-+|-+$/g, '') || undefined,
      vcpus: spec.vcpus,
      memoryMiB: spec.memoryMiB,
      accelerator: this.accelerator,
      tscKhz: this.tscKhz,
      kernel: spec.kernel ?? image.kernel,
      initrd: spec.initrd ?? image.initrd,
      command: spec.command?.length ? shellJoin(spec.command) : undefined,
      kernelArgs: kernelArgs.length ? kernelArgs : undefined,
      runDir: dir,
      appendSerialLog: true,
      network: qemuNetwork(spec),
      disks,
      // A migration target: listening is set up over QMP (migration/target.ts), and the guest
      // runs only when the migration says so.
      ...(spec.incoming ? { incoming: 'defer', startPaused: true } : {}),
    });
    const serialOffset = await stat(join(dir, SERIAL_LOG_FILE))
      .then((s) => s.size)
      .catch(() => 0);
    const startedAt = new Date().toISOString();
    const meta: InstanceMeta = { namespace: spec.namespace, name: spec.name, startedAt, serialOffset, ...(spec.incoming ? { incoming: true } : {}) };
    await writeFile(join(dir, META_FILE), JSON.stringify(meta));
    // The guest booted at its source: no boot marker will come here.
    if (spec.incoming?.bootedAt) await writeFile(join(dir, BOOT_FILE), JSON.stringify({ bootedAt: spec.incoming.bootedAt, ip: spec.incoming.ip }));
    // Asked again here, with nothing awaited between this check and the spawn below. (The
    // supervisor also refuses to launch on a heartbeat older than the fence timeout.)
    if (mayLaunch && !mayLaunch()) {
      // Without vm.json a restarted agent does not take the directory for an instance.
      await rm(join(dir, META_FILE), { force: true });
      throw new LaunchRefusedError(spec.uid);
    }
    const supervisor = execa(
      SUPERVISOR,
      [dir, this.opts.heartbeatFile, String(this.opts.fenceSeconds), ...(this.opts.fenceFile ? [this.opts.fenceFile] : []), '--', line.binary, ...line.args],
      {
        detached: true,
        stdio: 'ignore',
        cleanup: false,
        reject: false,
      },
    );
    supervisor.unref();
    const tracked: Tracked = {
      dir,
      console: new MarkerScanner(spec.uid, serialOffset),
      state: { uid: spec.uid, namespace: spec.namespace, name: spec.name, phase: 'starting', startedAt, ...(spec.incoming ? { incoming: true } : {}) },
      supervisorPid: supervisor.pid,
    };
    // Tracked before the pid file is written: a write that fails leaves a guest this driver
    // knows about (and can stop), not one launched again by the retry.
    this.instances.set(spec.uid, tracked);
    await writeFile(join(dir, SUPERVISOR_PID), String(supervisor.pid));
    return { ...tracked.state };
  }

  qmpSocket(uid: string): string | undefined {
    const t = this.instances.get(uid);
    return t ? join(t.dir, QMP_SOCKET_FILE) : undefined;
  }

  async markResumed(uid: string): Promise<void> {
    const t = this.instances.get(uid);
    if (!t?.state.incoming) return;
    const meta = await readJson<InstanceMeta>(join(t.dir, META_FILE));
    if (meta) await writeFile(join(t.dir, META_FILE), JSON.stringify({ ...meta, incoming: undefined }));
    delete t.state.incoming;
    this.emit('change', uid);
  }

  requestStop(uid: string, graceMs: number): Promise<void> {
    return this.stop(uid, graceMs, false);
  }

  kill(uid: string): Promise<void> {
    return this.stop(uid, 0, true);
  }

  /** A stop asked for (or hurried), killing at or past its deadline; `kill`: the agent's kill, recorded as such. */
  private async stop(uid: string, graceMs: number, kill: boolean): Promise<void> {
    const t = this.instances.get(uid);
    if (!t) return;
    await this.refresh(uid, false);
    if (t.state.phase === 'exited') return;
    const now = Date.now();
    const asked = now + Math.max(0, graceMs);
    const deadline = t.state.stopDeadline ? Math.min(Date.parse(t.state.stopDeadline), asked) : asked;
    const killed = kill || !!t.state.killed;
    if (t.state.phase !== 'stopping' || t.state.stopDeadline !== new Date(deadline).toISOString() || killed !== !!t.state.killed) {
      t.state.phase = 'stopping';
      t.state.stopDeadline = new Date(deadline).toISOString();
      if (killed) t.state.killed = true;
      // Written before anything is sent: an agent restarted from here on finds the same deadline.
      // Best effort: on a full or read-only disk the stop goes on, and only a restarted agent
      // would grant a fresh grace (or take a kill for a stop).
      await writeFile(join(t.dir, STOP_FILE), JSON.stringify({ deadline: t.state.stopDeadline, ...(killed ? { killed: true } : {}) })).catch(() => undefined);
      this.emit('change', uid);
    }
    if (now >= deadline) {
      await this.killQemu(t);
      return;
    }
    // The guest's init turns the ACPI power button into a clean shutdown; one sent before the
    // init listens is lost, which is why every call sends it again.
    await qmpCommand(join(t.dir, QMP_SOCKET_FILE), 'system_powerdown', undefined, POWERDOWN_QMP_TIMEOUT_MS).catch(() => undefined);
  }

  /**
   * SIGKILLs the VM's QEMU, which its supervisor then records in exit.json. The pid is read at
   * kill time, not before the grace: QEMU writes qemu.pid only once it has initialised, so a VM
   * stopped right after its launch (an eviction with grace 0, say) has none yet — then the pid
   * the supervisor recorded when it spawned QEMU (child.pid) is the same process.
   */
  private async killQemu(t: Tracked): Promise<void> {
    const until = Date.now() + 5_000;
    for (;;) {
      const pid = await this.qemuPid(t);
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Exited on its own meanwhile: nothing left to kill.
        }
        return;
      }
      // The supervisor writes child.pid right after spawning QEMU; this wait is for that instant.
      if (Date.now() > until || !(await this.running(t))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * SIGKILLs every QEMU of this node that has not exited, marked as fenced. The supervisors do
   * this on their own (and keep doing it while the agent is frozen); this is the agent's own
   * pass, for a guest whose supervisor was lost and so has no dead man's switch left. Kill
   * first, record after: the marker is only a record, and a run dir that is full, read-only or
   * gone must not keep the guest alive (the exit is reported Fenced from memory then).
   */
  async fence(): Promise<void> {
    await Promise.all(
      [...this.instances.entries()].map(async ([uid, t]) => {
        if (existsSync(join(t.dir, EXIT_FILE))) return;
        if (!isAlive(await this.qemuPid(t))) return;
        t.fenced = true;
        await this.killQemu(t);
        await writeFile(join(t.dir, FENCED_MARKER), '').catch(() => undefined);
        await this.refresh(uid);
      }),
    );
  }

  /** QEMU's pid: its own pidfile, else the one its supervisor recorded at spawn, else the last one read. */
  private async qemuPid(t: Tracked): Promise<number | undefined> {
    return (await readPid(join(t.dir, PID_FILE))) ?? (await readPid(join(t.dir, CHILD_PID_FILE))) ?? t.qemuPid;
  }

  private async running(t: Tracked): Promise<boolean> {
    return isAlive((await readPid(join(t.dir, SUPERVISOR_PID))) ?? t.supervisorPid) && !existsSync(join(t.dir, EXIT_FILE));
  }

  async remove(uid: string): Promise<void> {
    const t = this.instances.get(uid);
    this.instances.delete(uid);
    await rm(t?.dir ?? join(this.vmsDir, uid), { recursive: true, force: true });
  }

  state(uid: string): InstanceState | undefined {
    const t = this.instances.get(uid);
    return t ? { ...t.state } : undefined;
  }

  list(): InstanceState[] {
    return [...this.instances.values()].map((t) => ({ ...t.state }));
  }

  consoleLog(uid: string): string | undefined {
    const t = this.instances.get(uid);
    return t ? join(t.dir, SERIAL_LOG_FILE) : undefined;
  }

  async close(): Promise<void> {
    clearInterval(this.poller);
    for (const t of this.refreshTimers.values()) clearTimeout(t);
    await this.watcher?.close();
  }

  /**
   * A booting guest writes its console many times a second: coalesce the file events of one VM
   * into at most one re-read per REFRESH_COALESCE_MS, so the agent does not compete with the
   * guest for CPU while it boots.
   */
  private scheduleRefresh(uid: string): void {
    if (this.refreshTimers.has(uid)) return;
    this.refreshTimers.set(
      uid,
      setTimeout(() => {
        this.refreshTimers.delete(uid);
        void this.refresh(uid);
      }, REFRESH_COALESCE_MS),
    );
  }

  /** Re-reads an instance's files and emits 'change' when what they say moved on. */
  private refresh(uid: string, emit = true): Promise<void> {
    const t = this.instances.get(uid);
    if (!t) return Promise.resolve();
    // A look that failed (an I/O error) is only lost: the next poll looks again, and the chain
    // of looks goes on rather than staying rejected.
    t.refreshing = (t.refreshing ?? Promise.resolve()).then(() => this.reread(t, uid, emit)).catch(() => undefined);
    return t.refreshing;
  }

  private async reread(t: Tracked, uid: string, emit: boolean): Promise<void> {
    const before = JSON.stringify(t.state);
    const s = t.state;
    const pid = await readPid(join(t.dir, PID_FILE));
    t.qemuPid = pid ?? (await readPid(join(t.dir, CHILD_PID_FILE))) ?? t.qemuPid;
    // A pid QEMU reported once stays reported while its run dir cannot be read.
    s.pid = pid ?? s.pid;
    await readNew(join(t.dir, SERIAL_LOG_FILE), t.console);
    const markers = t.console.markers;
    if (!s.bootedAt) {
      // Recorded in a file so a restarted agent keeps it even once the marker scrolled out of reach.
      const recorded = await readJson<{ bootedAt: string; ip?: string }>(join(t.dir, BOOT_FILE));
      if (recorded) Object.assign(s, recorded);
      else if (markers.booted) {
        s.bootedAt = new Date().toISOString();
        s.ip = markers.booted.ip;
        // Best effort: this process knows it already; only a restarted agent would miss it.
        await writeFile(join(t.dir, BOOT_FILE), JSON.stringify({ bootedAt: s.bootedAt, ip: s.ip })).catch(() => undefined);
      }
    }
    const exit = await readJson<{ code: number; fenced: boolean; at: string }>(join(t.dir, EXIT_FILE));
    t.supervisorPid = (await readPid(join(t.dir, SUPERVISOR_PID))) ?? t.supervisorPid;
    const supervisorAlive = isAlive(t.supervisorPid);
    if (exit || !supervisorAlive) {
      const code = markers.exitCode;
      // The marker counts without exit.json too: a guest whose supervisor was lost, fenced by
      // fence(); and fence()'s own word counts without either (a run dir it could not write).
      const fenced = t.fenced || exit?.fenced || existsSync(join(t.dir, FENCED_MARKER));
      const reason = fenced
        ? FENCED_REASON
        : code !== undefined
          ? code === 0
            ? 'Completed'
            : 'CommandFailed'
          : markers.shutdown
            ? 'ShutDown'
            : exit
              ? exit.code === 0
                ? 'GuestPoweredOff'
                : 'QemuFailed'
              : 'SupervisorLost';
      s.phase = 'exited';
      s.pid = undefined;
      t.qemuPid = undefined;
      s.exit = {
        success: reason === 'Completed' || reason === 'ShutDown' || reason === 'GuestPoweredOff',
        code,
        reason,
        at: exit?.at ?? new Date().toISOString(),
      };
    } else if (s.phase !== 'stopping') {
      s.phase = s.bootedAt ? 'running' : 'starting';
    }
    if (emit && JSON.stringify(s) !== before) this.emit('change', uid);
  }
}

/** Feeds what the log gained since the scanner last looked. */
async function readNew(path: string, scanner: MarkerScanner): Promise<void> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return;
  try {
    const { size } = await fh.stat();
    while (scanner.offset < size) {
      const buf = Buffer.alloc(Math.min(size - scanner.offset, 1024 * 1024));
      const { bytesRead } = await fh.read(buf, 0, buf.length, scanner.offset);
      if (bytesRead === 0) break;
      scanner.offset += bytesRead;
      scanner.feed(buf.subarray(0, bytesRead).toString());
    }
  } finally {
    await fh.close();
  }
}

/** A command given as argv, as one `sh -c` string for the guest. */
export function shellJoin(argv: string[]): string {
  if (argv.length >= 3 && (argv[0] === 'sh' || argv[0] === '/bin/sh') && argv[1] === '-c') return argv[2]!;
  return argv.map((a) => (/^[A-Za-z0-9_./=:@%+-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/** How QEMU networks the guest: taps on Networks; else none, or user networking forwarding the published ports from every node address. */
function qemuNetwork(spec: VmLaunchSpec): QemuNetwork {
  if (spec.nics?.length) return { mode: 'tap', nics: spec.nics };
  if (spec.network === 'none') return { mode: 'none' };
  const hostForwards = (spec.ports ?? []).map((p) => ({
    protocol: p.protocol === 'UDP' ? ('udp' as const) : ('tcp' as const),
    hostAddress: '0.0.0.0',
    hostPort: p.hostPort,
    guestPort: p.guestPort,
  }));
  return { mode: 'user', ...(hostForwards.length ? { hostForwards } : {}) };
}
