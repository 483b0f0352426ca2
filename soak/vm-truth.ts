/**
 * The ground truth about VMs, read from the kernel and from QEMU, never from Shoal's own state:
 * every QEMU process of this run (its command line names the VM's uid, `-name shoal-vm:<uid>`,
 * and its run dir, `-pidfile <data-dir>/vms/<uid>/qemu.pid`, which says which host runs it) and,
 * over that VM's observer QMP socket (the one no agent holds), `query-status`: running, paused,
 * inmigrate (a live migration's target waiting), finish-migrate / postmigrate (its source
 * stopped for the switchover, and after), ... or no answer. PIDs are shared by all namespaces, so one /proc scan sees every host.
 *
 * Only processes under this run's dir count: other engineers' tests on the same machine run
 * QEMUs too.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { qmpCommand } from '../apps/agent/src/runtime/qemu/qmp-client.js';

/** How long one QMP query may take (a QEMU busy starting or dying may not answer). */
const QMP_TIMEOUT_MS = 1_000;
/** The monitor every agent-started QEMU has for observers (the agent's own, qmp.sock, may be held by a migration). */
const OBSERVER_SOCKET = 'qmp-observer.sock';

export interface QemuProcess {
  pid: number;
  uid: string;
  /** The VM's run dir (`<data-dir>/vms/<uid>`). */
  runDir: string;
  /** The node whose data dir holds the run dir, if any. */
  node: string | undefined;
  /** QMP query-status: `running`, `paused`, `inmigrate`, `postmigrate`, ..., `starting` (no monitor yet), `no-answer` (busy, or dying) or `exited`. */
  status: string;
}

export interface SupervisorProcess {
  pid: number;
  runDir: string;
  node: string | undefined;
}

export interface VmTruth {
  atMs: number;
  qemus: QemuProcess[];
  supervisors: SupervisorProcess[];
  /** uid → its QEMU processes. */
  byUid: Map<string, QemuProcess[]>;
}

const NAME = /(?:^|\0)shoal-vm:([0-9a-f-]{36})(?:\0|$)/;
const PIDFILE = /\0-pidfile\0([^\0]+)/;

/**
 * A QEMU that says it runs the guest, or that we cannot ask: a copy that may be running, for the
 * never-twice check. Every other status has the guest's vCPUs stopped (QMP's `running: false`).
 */
export const mayBeRunning = (q: Pick<QemuProcess, 'status'>) => q.status === 'running' || q.status === 'no-answer';

/** What /proc says, without asking QEMU anything: quick enough to run several times a second. */
export async function scanProcesses(
  runDir: string,
  nodeOfDataDir: ReadonlyMap<string, string>,
): Promise<{ qemus: Omit<QemuProcess, 'status'>[]; supervisors: SupervisorProcess[] }> {
  const qemus: Omit<QemuProcess, 'status'>[] = [];
  const supervisors: SupervisorProcess[] = [];
  const nodeOf = (vmRunDir: string) => nodeOfDataDir.get(dirname(dirname(vmRunDir)));
  const mine = `${runDir}/`;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    // A zombie (exited, not yet reaped) has an empty cmdline: it runs nothing.
    if (!cmdline.includes(mine)) continue;
    const argv0 = cmdline.slice(0, cmdline.indexOf('\0'));
    if (argv0.includes('qemu-system')) {
      const uid = NAME.exec(cmdline)?.[1];
      const pidfile = PIDFILE.exec(cmdline)?.[1];
      if (!uid || !pidfile) continue;
      const vmRunDir = dirname(pidfile);
      qemus.push({ pid: Number(entry), uid, runDir: vmRunDir, node: nodeOf(vmRunDir) });
    } else if (cmdline.includes('vm-supervisor.sh\0')) {
      // sh vm-supervisor.sh RUN_DIR HEARTBEAT FENCE -- qemu...; its forked fence watcher shares the command line.
      const args = cmdline.split('\0');
      const vmRunDir = args[args.findIndex((a) => a.endsWith('vm-supervisor.sh')) + 1];
      if (vmRunDir) supervisors.push({ pid: Number(entry), runDir: vmRunDir, node: nodeOf(vmRunDir) });
    }
  }
  return { qemus, supervisors };
}

/** Asks each QEMU over QMP whether its guest runs, all at once. */
export function withQmpStatus(qemus: readonly Omit<QemuProcess, 'status'>[], timeoutMs = QMP_TIMEOUT_MS): Promise<QemuProcess[]> {
  return Promise.all(qemus.map((q) => qmpStatusOf(q, timeoutMs)));
}

export async function qmpStatusOf(q: Omit<QemuProcess, 'status'>, timeoutMs = QMP_TIMEOUT_MS): Promise<QemuProcess> {
  let refused = false;
  const answer = (await qmpCommand(join(q.runDir, OBSERVER_SOCKET), 'query-status', undefined, timeoutMs).catch((err: NodeJS.ErrnoException) => {
    refused = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
    return undefined;
  })) as { status?: string } | undefined;
  if (answer?.status) return { ...q, status: answer.status };
  // No monitor listening yet: QEMU makes its sockets before it starts any vCPU, so it runs nothing yet.
  if (refused) return { ...q, status: 'starting' };
  // No answer from a process that is gone (or a zombie, whose cmdline is empty): it runs nothing.
  const cmdline = await readFile(`/proc/${q.pid}/cmdline`, 'utf8').catch(() => '');
  return { ...q, status: cmdline ? 'no-answer' : 'exited' };
}

/** /proc, then QMP for every QEMU found. */
export async function readVmTruth(runDir: string, nodeOfDataDir: ReadonlyMap<string, string>, atMs: number): Promise<VmTruth> {
  const { qemus, supervisors } = await scanProcesses(runDir, nodeOfDataDir);
  return truthOf(await withQmpStatus(qemus), supervisors, atMs);
}

export function truthOf(withStatus: QemuProcess[], supervisors: SupervisorProcess[], atMs: number): VmTruth {
  const byUid = new Map<string, QemuProcess[]>();
  for (const q of withStatus) byUid.set(q.uid, [...(byUid.get(q.uid) ?? []), q]);
  return { atMs, qemus: withStatus, supervisors, byUid };
}
