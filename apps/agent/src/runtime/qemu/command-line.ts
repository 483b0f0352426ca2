/**
 * The QEMU command line of one microVM: a pure function from a VM's spec to argv.
 *
 * The shape (checked on Debian 12, QEMU 7.2, the default guest image):
 *
 *   qemu-system-x86_64 -name shoal-vm:<uid> -M microvm,pit=on,pic=on,rtc=on -accel tcg|kvm
 *     -cpu max|host -smp N -m MiB -nodefaults -no-user-config -nographic -no-reboot
 *     -kernel vmlinuz -initrd initrd.cpio.gz -append "console=ttyS0 ... shoal.uid=... shoal.cmd=..."
 *     -chardev file,id=serial0,path=<dir>/serial.log -serial chardev:serial0
 *     -qmp unix:<dir>/qmp.sock,server=on,wait=off -qmp unix:<dir>/qmp-observer.sock,server=on,wait=off
 *     -pidfile <dir>/qemu.pid
 *     -netdev user,id=net0 -device virtio-net-device,netdev=net0,mac=52:54:00:..
 *     [-drive file=<disk>,if=none,id=disk0,format=qcow2 -device virtio-blk-device,drive=disk0]
 *     [-incoming <uri>] [-S]
 *
 * No -daemonize: the agent (or its per-VM supervisor) is QEMU's parent and watches it exit.
 * -no-reboot with panic=-1 turns a guest reboot or kernel panic into a QEMU exit, and the
 * guest's init ends with `poweroff -f`, so a QEMU process that is alive is a guest that runs.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Accelerator } from './accelerator.js';

/** x86 COMMAND_LINE_SIZE is 2048 bytes including the terminating NUL. */
export const KERNEL_CMDLINE_MAX_BYTES = 2047;
/** sun_path of a unix socket holds 108 bytes including the NUL. */
export const UNIX_SOCKET_PATH_MAX_BYTES = 107;

export const SERIAL_LOG_FILE = 'serial.log';
export const QMP_SOCKET_FILE = 'qmp.sock';
/**
 * A second QMP monitor, for anyone but the agent: an operator's query-status, a diagnostic
 * tool, the tests' /proc sampler. A QMP socket serves one client at a time and a migration
 * holds the agent's for its whole length; looking at a guest must neither wait for that nor
 * hold the agent up.
 */
export const QMP_OBSERVER_SOCKET_FILE = 'qmp-observer.sock';
export const PID_FILE = 'qemu.pid';

export interface HostForward {
  protocol?: 'tcp' | 'udp';
  /** Host address to listen on; 127.0.0.1 when omitted. */
  hostAddress?: string;
  hostPort: number;
  guestPort: number;
}

export type QemuNetwork =
  /** QEMU user-mode networking (slirp): DHCP gives the guest 10.0.2.15, outbound NAT, optional forwards. */
  | { mode: 'user'; hostForwards?: HostForward[]; mac?: string }
  /**
   * One NIC per Network, each on a tap device the node made on that Network's bridge
   * (network/links.ts), opened by name, in order (eth0 first): the guest is on those segments
   * and gets its addresses from the node's DHCP (network/dhcp.ts). QEMU must run in the
   * network namespace that holds the taps.
   */
  | { mode: 'tap'; nics: TapNic[] }
  | { mode: 'none' };

export interface TapNic {
  tap: string;
  mac: string;
}

export interface QemuDisk {
  /** Path of the image file (typically a qcow2 overlay over a shared base). */
  path: string;
  format?: 'qcow2' | 'raw';
  readOnly?: boolean;
}

export interface QemuVmSpec {
  /** The VirtualMachine's metadata.uid: names the process, seeds the MAC, echoed by the guest's boot marker. */
  uid: string;
  /** Guest hostname (shoal.hostname); must be a DNS label. */
  hostname?: string;
  vcpus: number;
  memoryMiB: number;
  accelerator: Accelerator;
  /** Host TSC frequency in kHz. Under TCG the guest's TSC ticks at the host's rate and, without
   * HPET or a PM timer on microvm, its own calibration against the PIT fails or hangs on a busy
   * host; passing tsc_early_khz makes the boot deterministic. Ignored under KVM. */
  tscKhz?: number;
  kernel: string;
  initrd?: string;
  /** Shell command the guest's init runs with `sh -c` (sent base64-encoded); none = idle. */
  command?: string;
  /** Extra kernel command-line arguments, appended after Shoal's own. */
  kernelArgs?: string[];
  /** Keep the kernel's console messages (default true: they are what explains a failed boot). */
  kernelLog?: boolean;
  /** Directory of the VM's runtime files: serial.log, qmp.sock, qemu.pid. */
  runDir: string;
  /** Append to serial.log instead of starting it afresh. */
  appendSerialLog?: boolean;
  network?: QemuNetwork;
  rootDisk?: QemuDisk;
  /** More disks, after rootDisk: virtio-blk devices disk0, disk1, ... in this order. */
  disks?: QemuDisk[];
  /** Live-migration target: start paused and wait for the source (e.g. "tcp:0.0.0.0:4444" or "defer"). */
  incoming?: string;
  /** Start with the vCPUs stopped (-S) until a QMP `cont`: a live-migration target whose guest must not run before the source has stopped for good (migration/target.ts). */
  startPaused?: boolean;
  /** The QEMU binary; qemu-system-x86_64 from PATH by default. */
  qemuBinary?: string;
}

export interface QemuCommandLine {
  binary: string;
  args: string[];
  /** The -append string as the guest sees it in /proc/cmdline. */
  kernelCmdline: string;
  serialLog: string;
  qmpSocket: string;
  pidFile: string;
  mac?: string;
}

export class QemuSpecError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'QemuSpecError';
  }
}

/** Builds QEMU's argv for a VM. Pure: no I/O, throws QemuSpecError on a spec QEMU or the guest would reject. */
export function buildQemuCommandLine(spec: QemuVmSpec): QemuCommandLine {
  validate(spec);
  const serialLog = join(spec.runDir, SERIAL_LOG_FILE);
  const qmpSocket = join(spec.runDir, QMP_SOCKET_FILE);
  const pidFile = join(spec.runDir, PID_FILE);
  const longestSocket = join(spec.runDir, QMP_OBSERVER_SOCKET_FILE);
  if (Buffer.byteLength(longestSocket) > UNIX_SOCKET_PATH_MAX_BYTES) {
    throw new QemuSpecError(
      'runDir',
      `the QMP socket path ${longestSocket} is longer than ${UNIX_SOCKET_PATH_MAX_BYTES} bytes (a unix socket limit): use a shorter run directory`,
    );
  }
  const kernelCmdline = buildKernelCmdline(spec);

  const kvm = spec.accelerator === 'kvm';
  const args: string[] = [
    '-name',
    `shoal-vm:${spec.uid}`,
    '-M',
    'microvm,pit=on,pic=on,rtc=on',
    '-accel',
    spec.accelerator,
    '-cpu',
    kvm ? 'host' : 'max',
    '-smp',
    String(spec.vcpus),
    '-m',
    String(spec.memoryMiB),
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    '-kernel',
    spec.kernel,
    ...(spec.initrd ? ['-initrd', spec.initrd] : []),
    '-append',
    kernelCmdline,
    '-chardev',
    `file,id=serial0,path=${escapeOption(serialLog)}${spec.appendSerialLog ? ',append=on' : ''}`,
    '-serial',
    'chardev:serial0',
    '-qmp',
    `unix:${escapeOption(qmpSocket)},server=on,wait=off`,
    '-qmp',
    `unix:${escapeOption(join(spec.runDir, QMP_OBSERVER_SOCKET_FILE))},server=on,wait=off`,
    '-pidfile',
    pidFile,
  ];

  let mac: string | undefined;
  const network = spec.network ?? { mode: 'user' };
  if (network.mode === 'user') {
    mac = network.mac ?? macForUid(spec.uid);
    const forwards = (network.hostForwards ?? []).map((f) => `,hostfwd=${f.protocol ?? 'tcp'}:${f.hostAddress ?? '127.0.0.1'}:${f.hostPort}-:${f.guestPort}`);
    args.push('-netdev', `user,id=net0${forwards.join('')}`, '-device', `virtio-net-device,netdev=net0,mac=${mac}`);
  } else if (network.mode === 'tap') {
    mac = network.nics[0]?.mac;
    // script=no: the node set the taps up already; QEMU only opens them.
    for (const [i, nic] of network.nics.entries())
      args.push('-netdev', `tap,id=net${i},ifname=${nic.tap},script=no,downscript=no`, '-device', `virtio-net-device,netdev=net${i},mac=${nic.mac}`);
  }

  for (const [i, d] of [...(spec.rootDisk ? [spec.rootDisk] : []), ...(spec.disks ?? [])].entries()) {
    args.push(
      '-drive',
      `file=${escapeOption(d.path)},if=none,id=disk${i},format=${d.format ?? 'qcow2'}${d.readOnly ? ',readonly=on' : ''}`,
      '-device',
      `virtio-blk-device,drive=disk${i}`,
    );
  }

  if (spec.incoming) args.push('-incoming', spec.incoming);
  if (spec.startPaused) args.push('-S');

  return { binary: spec.qemuBinary ?? 'qemu-system-x86_64', args, kernelCmdline, serialLog, qmpSocket, pidFile, mac };
}

/** The guest kernel's command line: console, fail-fast panics, clock hints under TCG, then shoal.* for the init. */
export function buildKernelCmdline(spec: QemuVmSpec): string {
  const parts = ['console=ttyS0', 'reboot=t', 'panic=-1'];
  if (spec.accelerator === 'tcg' && spec.tscKhz) parts.push(`tsc_early_khz=${Math.round(spec.tscKhz)}`, 'tsc=reliable');
  if (spec.kernelLog === false) parts.push('quiet');
  parts.push(`shoal.uid=${spec.uid}`);
  if (spec.hostname) parts.push(`shoal.hostname=${spec.hostname}`);
  if ((spec.network ?? { mode: 'user' }).mode === 'none') parts.push('shoal.net=off');
  if (spec.command !== undefined && spec.command !== '') parts.push(`shoal.cmd=${Buffer.from(spec.command, 'utf8').toString('base64')}`);
  parts.push(...(spec.kernelArgs ?? []));
  const cmdline = parts.join(' ');
  const bytes = Buffer.byteLength(cmdline);
  if (bytes > KERNEL_CMDLINE_MAX_BYTES) {
    throw new QemuSpecError(
      spec.command ? 'command' : 'kernelArgs',
      `the kernel command line would be ${bytes} bytes, more than the ${KERNEL_CMDLINE_MAX_BYTES} the kernel accepts (the command travels base64-encoded in it): shorten the command or put it on a disk`,
    );
  }
  return cmdline;
}

/** A stable locally administered MAC (52:54:00 is QEMU's prefix) derived from the VM's uid, so it survives restarts and migrations. */
export function macForUid(uid: string): string {
  const h = createHash('sha256').update(uid).digest();
  return ['52', '54', '00', ...[h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** QEMU's option parser splits on commas; a literal comma in a value is written twice. */
export function escapeOption(value: string): string {
  return value.replaceAll(',', ',,');
}

const UID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const HOSTNAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function validate(spec: QemuVmSpec): void {
  if (!UID_RE.test(spec.uid ?? ''))
    throw new QemuSpecError('uid', `must be 1-128 letters, digits, '.', '_' or '-' (it goes on the kernel command line), got ${JSON.stringify(spec.uid)}`);
  if (spec.hostname !== undefined && !HOSTNAME_RE.test(spec.hostname))
    throw new QemuSpecError('hostname', `must be a DNS label (lowercase letters, digits, '-'), got ${JSON.stringify(spec.hostname)}`);
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1 || spec.vcpus > 255)
    throw new QemuSpecError('vcpus', `must be an integer from 1 to 255, got ${spec.vcpus}`);
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 64)
    throw new QemuSpecError('memoryMiB', `must be an integer of at least 64, got ${spec.memoryMiB}`);
  if (spec.accelerator !== 'kvm' && spec.accelerator !== 'tcg')
    throw new QemuSpecError('accelerator', `must be kvm or tcg, got ${JSON.stringify(spec.accelerator)}`);
  if (spec.tscKhz !== undefined && !(Number.isFinite(spec.tscKhz) && spec.tscKhz > 0))
    throw new QemuSpecError('tscKhz', `must be a positive number, got ${spec.tscKhz}`);
  if (!spec.kernel) throw new QemuSpecError('kernel', 'is required');
  if (!spec.runDir) throw new QemuSpecError('runDir', 'is required');
  for (const [i, a] of (spec.kernelArgs ?? []).entries()) {
    if (a === '' || /\s/.test(a)) throw new QemuSpecError(`kernelArgs[${i}]`, `must be one non-empty word without spaces, got ${JSON.stringify(a)}`);
    if (a.startsWith('shoal.')) throw new QemuSpecError(`kernelArgs[${i}]`, `shoal.* arguments are set by Shoal itself, got ${JSON.stringify(a)}`);
  }
  const net = spec.network;
  if (net && net.mode !== 'user' && net.mode !== 'tap' && net.mode !== 'none')
    throw new QemuSpecError('network.mode', `must be user, tap or none, got ${JSON.stringify((net as { mode: unknown }).mode)}`);
  if (net?.mode === 'tap') {
    if (!Array.isArray(net.nics) || net.nics.length === 0) throw new QemuSpecError('network.nics', 'must list at least one tap');
    for (const [i, nic] of net.nics.entries()) {
      if (!/^[A-Za-z0-9_.-]{1,15}$/.test(nic.tap ?? ''))
        throw new QemuSpecError(
          `network.nics[${i}].tap`,
          `must be a network device name of 1 to 15 letters, digits, '.', '_' or '-', got ${JSON.stringify(nic.tap)}`,
        );
      if (!MAC_RE.test(nic.mac ?? '')) throw new QemuSpecError(`network.nics[${i}].mac`, `must look like 52:54:00:12:34:56, got ${JSON.stringify(nic.mac)}`);
    }
  }
  if (net?.mode === 'user') {
    if (net.mac !== undefined && !MAC_RE.test(net.mac))
      throw new QemuSpecError('network.mac', `must look like 52:54:00:12:34:56, got ${JSON.stringify(net.mac)}`);
    for (const [i, f] of (net.hostForwards ?? []).entries()) {
      for (const key of ['hostPort', 'guestPort'] as const) {
        if (!Number.isInteger(f[key]) || f[key] < 1 || f[key] > 65535)
          throw new QemuSpecError(`network.hostForwards[${i}].${key}`, `must be a port from 1 to 65535, got ${f[key]}`);
      }
      if (f.protocol !== undefined && f.protocol !== 'tcp' && f.protocol !== 'udp')
        throw new QemuSpecError(`network.hostForwards[${i}].protocol`, `must be tcp or udp, got ${JSON.stringify(f.protocol)}`);
      if (f.hostAddress !== undefined && !/^[0-9a-fA-F.:]+$/.test(f.hostAddress))
        throw new QemuSpecError(`network.hostForwards[${i}].hostAddress`, `must be an IP address, got ${JSON.stringify(f.hostAddress)}`);
    }
  }
  const disks: [string, QemuDisk][] = [
    ...(spec.rootDisk ? [['rootDisk', spec.rootDisk] as [string, QemuDisk]] : []),
    ...(spec.disks ?? []).map((d, i): [string, QemuDisk] => [`disks[${i}]`, d]),
  ];
  for (const [field, d] of disks) {
    if (!d.path) throw new QemuSpecError(`${field}.path`, 'is required');
    if (d.format !== undefined && d.format !== 'qcow2' && d.format !== 'raw')
      throw new QemuSpecError(`${field}.format`, `must be qcow2 or raw, got ${JSON.stringify(d.format)}`);
  }
  if (spec.incoming !== undefined && (spec.incoming === '' || /\s/.test(spec.incoming)))
    throw new QemuSpecError('incoming', `must be a QEMU migration URI such as tcp:0.0.0.0:4444, got ${JSON.stringify(spec.incoming)}`);
}
