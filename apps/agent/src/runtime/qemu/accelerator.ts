/**
 * Which QEMU accelerator a microVM gets on this host: KVM when it really runs guests, TCG otherwise.
 *
 * `/dev/kvm` existing is not enough. On the build machines it is backed by the PVM module
 * (kvm_pvm), which runs only PVM-aware guest kernels: QEMU starts fine with -accel kvm, runs
 * real-mode and even long-mode code, and a stock Debian kernel then hangs right after its
 * real-mode setup ("Probing EDD ... ok", then nothing). So the probe, in order:
 *
 *   1. SHOAL_ACCELERATOR=kvm|tcg in the environment decides outright (operators, tests);
 *   2. /dev/kvm must be readable and writable;
 *   3. a PVM-only KVM (kvm_pvm loaded, no kvm_intel/kvm_amd) means TCG;
 *   4. with a guest kernel given: that kernel must print its banner under -accel kvm within the
 *      timeout (a second on real KVM, never under PVM);
 *      without one: a 64 KiB firmware that enters long mode and writes to isa-debug-exit must
 *      make QEMU exit with the expected code.
 */
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export type Accelerator = 'kvm' | 'tcg';

export interface AcceleratorProbe {
  accelerator: Accelerator;
  /** Why: shown in the Node's runtime info and the agent's startup line. */
  reason: string;
}

export interface ProbeOptions {
  qemuBinary?: string;
  /** A guest kernel (the default image's vmlinuz): its boot under KVM is the decisive test. */
  kernel?: string;
  /** How long a KVM guest may take to show it runs; default 3000 ms (real KVM needs well under 1 s). */
  timeoutMs?: number;
  /** Defaults: /dev/kvm and /sys/module (tests point them at fixtures). */
  devKvm?: string;
  sysModuleDir?: string;
  env?: NodeJS.ProcessEnv;
}

export const ACCELERATOR_ENV = 'SHOAL_ACCELERATOR';

export async function probeAccelerator(opts: ProbeOptions = {}): Promise<AcceleratorProbe> {
  const env = opts.env ?? process.env;
  const forced = env[ACCELERATOR_ENV];
  if (forced !== undefined && forced !== '') {
    if (forced !== 'kvm' && forced !== 'tcg') throw new Error(`${ACCELERATOR_ENV} must be kvm or tcg, got ${JSON.stringify(forced)}`);
    return { accelerator: forced, reason: `set by ${ACCELERATOR_ENV}` };
  }

  const devKvm = opts.devKvm ?? '/dev/kvm';
  try {
    await access(devKvm, constants.R_OK | constants.W_OK);
  } catch (err) {
    return { accelerator: 'tcg', reason: `${devKvm} is not usable (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }

  const modules = await inspectKvmModules(opts.sysModuleDir ?? '/sys/module');
  if (modules.pvmOnly) {
    return { accelerator: 'tcg', reason: `${devKvm} is served by kvm_pvm (no kvm_intel or kvm_amd), which runs only PVM-aware guest kernels` };
  }

  const qemu = opts.qemuBinary ?? 'qemu-system-x86_64';
  const timeoutMs = opts.timeoutMs ?? 3000;
  if (opts.kernel) {
    const booted = await kernelStartsUnder('kvm', opts.kernel, { qemuBinary: qemu, timeoutMs });
    return booted.ok
      ? { accelerator: 'kvm', reason: `a guest kernel started under KVM in ${booted.ms} ms` }
      : { accelerator: 'tcg', reason: `a guest kernel did not start under KVM: ${booted.detail}` };
  }
  const probe = await longModeProbe('kvm', { qemuBinary: qemu, timeoutMs });
  return probe.ok
    ? { accelerator: 'kvm', reason: `a long-mode probe ran under KVM in ${probe.ms} ms` }
    : { accelerator: 'tcg', reason: `a long-mode probe failed under KVM: ${probe.detail}` };
}

let memo: Promise<AcceleratorProbe> | undefined;

/** probeAccelerator once per process (the answer does not change while the host runs). */
export function detectAccelerator(opts: ProbeOptions = {}): Promise<AcceleratorProbe> {
  memo ??= probeAccelerator(opts).catch((err) => {
    memo = undefined;
    throw err;
  });
  return memo;
}

export interface KvmModules {
  pvm: boolean;
  intel: boolean;
  amd: boolean;
  /** KVM is provided by PVM alone: stock guest kernels will not run. */
  pvmOnly: boolean;
}

export async function inspectKvmModules(sysModuleDir: string): Promise<KvmModules> {
  const has = async (name: string) => (await stat(join(sysModuleDir, name)).catch(() => undefined))?.isDirectory() === true;
  const [pvm, intel, amd] = await Promise.all([has('kvm_pvm'), has('kvm_intel'), has('kvm_amd')]);
  return { pvm, intel, amd, pvmOnly: pvm && !intel && !amd };
}

export interface ProbeResult {
  ok: boolean;
  ms: number;
  detail: string;
}

/** Boots `kernel` (no initrd, so it panics and exits later) and waits for its "Linux version" banner on the serial port. */
export async function kernelStartsUnder(
  accelerator: Accelerator,
  kernel: string,
  opts: { qemuBinary?: string; timeoutMs?: number } = {},
): Promise<ProbeResult> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 3000;
  const proc = execa(
    opts.qemuBinary ?? 'qemu-system-x86_64',
    [
      '-M',
      'microvm,pit=on,pic=on,rtc=on',
      '-accel',
      accelerator,
      '-cpu',
      accelerator === 'kvm' ? 'host' : 'max',
      '-m',
      '128',
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-no-reboot',
      '-kernel',
      kernel,
      '-append',
      'console=ttyS0 panic=-1 reboot=t',
      '-serial',
      'stdio',
    ],
    { reject: false, buffer: false, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' },
  );
  let out = '';
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const ok = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Linux version')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    void proc.then(() => {
      clearTimeout(timer);
      resolve(out.includes('Linux version'));
    });
  });
  const ms = Date.now() - started;
  proc.kill('SIGKILL');
  const result = await proc;
  if (ok) return { ok, ms, detail: 'banner seen' };
  const lastLine = out.trim().split('\n').pop()?.trim();
  if (result.exitCode === undefined && !result.isTerminated) return { ok, ms, detail: result.shortMessage ?? 'QEMU did not start' };
  const why =
    result.exitCode !== undefined && !result.isTerminated
      ? `QEMU exited with code ${result.exitCode}${err.trim() ? `: ${err.trim().split('\n').pop()}` : ''}`
      : `no kernel banner within ${timeoutMs} ms${lastLine ? ` (last output: ${JSON.stringify(lastLine)})` : ''}`;
  return { ok, ms, detail: why };
}

/**
 * A 64 KiB firmware for -bios: from the reset vector it loads a GDT, enters protected mode,
 * identity-maps the first 2 MiB and the top 2 MiB below 4 GiB, enables long mode and, in 64-bit
 * code, writes 0x2a to port 0xf4 (isa-debug-exit), so QEMU exits with (0x2a << 1) | 1 = 85.
 *
 * Assembled with GNU as (`as --64`, `ld -Ttext=0xFFFF0000 --oformat binary`) from:
 *   .code16; _start: cli; lgdtl %cs:(gdt_desc-_start); mov %cr0,%eax; or $1,%eax; mov %eax,%cr0
 *            ljmpl $0x08,$pm32
 *   .code32; pm32: mov $0x10,%ax; mov %ax,%ds/%es/%ss; zero 0x1000..0x4fff (rep stosl)
 *            PML4[0]=0x2003 PDPT[0]=0x3003 PDPT[3]=0x4003 PD0[0]=0x83 PD3[511]=0xFFE00083
 *            CR4.PAE; CR3=0x1000; EFER.LME; CR0.PG; ljmp $0x18,$lm64
 *   .code64; lm64: mov $0x2a,%al; out %al,$0xf4; 1: hlt; jmp 1b
 *   gdt: null, 32-bit code 0x00CF9A000000FFFF, data 0x00CF92000000FFFF, 64-bit code 0x00AF9A000000FFFF
 *   at 0xFFF0 (the reset vector): .code16; jmp _start
 */
const LONG_MODE_PROBE_CODE =
  'fa2e660f0116c0000f20c06683c8010f22c066ea1a00ffff080066b810008ed8' +
  '8ec08ed0bf0010000031c0b900100000f3abc7050010000003200000c7050020' +
  '000003300000c7051820000003400000c7050030000083000000c705f84f0000' +
  '8300e0ff0f20e083c8200f22e0b8001000000f22d8b9800000c00f320d000100' +
  '000f300f20c00d000000800f22c0ea9500ffff1800b02ae6f4f4ebfd8db40000' +
  '0000000000000000ffff0000009acf00ffff00000092cf00ffff0000009aaf00' +
  '1f00a000ffff';
const LONG_MODE_PROBE_CODE_OFFSET = 0;
const RESET_VECTOR = 'e90d00';
const LONG_MODE_PROBE_EXIT_CODE = 85;

export function longModeProbeFirmware(): Buffer {
  const rom = Buffer.alloc(64 * 1024, 0);
  Buffer.from(LONG_MODE_PROBE_CODE, 'hex').copy(rom, LONG_MODE_PROBE_CODE_OFFSET);
  Buffer.from(RESET_VECTOR, 'hex').copy(rom, 0xfff0);
  return rom;
}

/** Runs longModeProbeFirmware under the accelerator: ok when QEMU exits with the probe's code in time. */
export async function longModeProbe(accelerator: Accelerator, opts: { qemuBinary?: string; timeoutMs?: number } = {}): Promise<ProbeResult> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-accel-probe-'));
  const started = Date.now();
  try {
    const bios = join(dir, 'probe.bin');
    await writeFile(bios, longModeProbeFirmware());
    const r = await execa(
      opts.qemuBinary ?? 'qemu-system-x86_64',
      [
        '-M',
        'microvm',
        '-accel',
        accelerator,
        '-m',
        '16',
        '-nodefaults',
        '-no-user-config',
        '-display',
        'none',
        '-bios',
        bios,
        '-device',
        'isa-debug-exit,iobase=0xf4,iosize=1',
      ],
      { reject: false, stdin: 'ignore', timeout: opts.timeoutMs ?? 3000, killSignal: 'SIGKILL' },
    );
    const ms = Date.now() - started;
    if (r.exitCode === LONG_MODE_PROBE_EXIT_CODE) return { ok: true, ms, detail: 'probe exited as expected' };
    if (r.timedOut) return { ok: false, ms, detail: `no exit within ${opts.timeoutMs ?? 3000} ms` };
    if (r.exitCode === undefined && !r.signal) return { ok: false, ms, detail: r.shortMessage ?? 'QEMU did not start' };
    const msg = String(r.stderr ?? '')
      .trim()
      .split('\n')
      .pop();
    return { ok: false, ms, detail: `QEMU exited with code ${r.exitCode ?? r.signal}${msg ? `: ${msg}` : ''}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The host's TSC frequency in kHz, for tsc_early_khz under TCG (whose guest TSC is the host's).
 * Sources, best first: /sys/devices/system/cpu/cpu0/tsc_freq_khz (some kernels), then
 * /proc/cpuinfo: "cpu MHz" when it is the TSC's rate (constant_tsc and no cpufreq scaling, as
 * in VMs), else the nominal "@ 2.30GHz" of the model name, else "cpu MHz" anyway.
 */
export async function hostTscKhz(): Promise<number | undefined> {
  const sysfs = await readFile('/sys/devices/system/cpu/cpu0/tsc_freq_khz', 'utf8').catch(() => undefined);
  const fromSysfs = sysfs ? Number.parseInt(sysfs.trim(), 10) : NaN;
  if (Number.isFinite(fromSysfs) && fromSysfs > 0) return fromSysfs;
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const scaled = (await stat('/sys/devices/system/cpu/cpu0/cpufreq').catch(() => undefined)) !== undefined;
  return tscKhzFromCpuinfo(cpuinfo, { frequencyScaling: scaled });
}

export function tscKhzFromCpuinfo(cpuinfo: string, opts: { frequencyScaling: boolean }): number | undefined {
  const first = cpuinfo.split(/\n\s*\n/)[0] ?? '';
  const field = (name: string) => first.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim();
  const flags = new Set((field('flags') ?? '').split(/\s+/));
  const mhz = Number.parseFloat(field('cpu MHz') ?? '');
  const cpuMhzKhz = Number.isFinite(mhz) && mhz > 0 ? Math.round(mhz * 1000) : undefined;
  if (cpuMhzKhz && flags.has('constant_tsc') && (!opts.frequencyScaling || flags.has('tsc_known_freq'))) return cpuMhzKhz;
  const nominal = (field('model name') ?? '').match(/@\s*([\d.]+)\s*GHz/i);
  if (nominal) return Math.round(Number.parseFloat(nominal[1]!) * 1_000_000);
  return cpuMhzKhz;
}
