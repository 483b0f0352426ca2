import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectKvmModules, kernelStartsUnder, longModeProbe, longModeProbeFirmware, probeAccelerator, tscKhzFromCpuinfo } from './accelerator.js';
import { locateGuestImage } from './guest-image.js';

async function fixture(modules: string[]): Promise<{ dir: string; devKvm: string; sysModule: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-accel-'));
  const sysModule = join(dir, 'module');
  for (const m of modules) await mkdir(join(sysModule, m), { recursive: true });
  const devKvm = join(dir, 'kvm');
  await writeFile(devKvm, '');
  return { dir, devKvm, sysModule };
}

test('SHOAL_ACCELERATOR decides outright, and a wrong value is an error', async () => {
  assert.deepEqual(await probeAccelerator({ env: { SHOAL_ACCELERATOR: 'tcg' } }), { accelerator: 'tcg', reason: 'set by SHOAL_ACCELERATOR' });
  assert.equal((await probeAccelerator({ env: { SHOAL_ACCELERATOR: 'kvm' }, devKvm: '/nonexistent' })).accelerator, 'kvm');
  await assert.rejects(probeAccelerator({ env: { SHOAL_ACCELERATOR: 'hvf' } }), /must be kvm or tcg/);
});

test('no usable /dev/kvm means TCG', async () => {
  const r = await probeAccelerator({ env: {}, devKvm: '/nonexistent/kvm' });
  assert.equal(r.accelerator, 'tcg');
  assert.match(r.reason, /ENOENT/);
});

test('a PVM-only KVM means TCG without starting QEMU; kvm_intel or kvm_amd beside it does not', async () => {
  const pvm = await fixture(['kvm', 'kvm_pvm']);
  const both = await fixture(['kvm', 'kvm_pvm', 'kvm_intel']);
  try {
    assert.deepEqual(await inspectKvmModules(pvm.sysModule), { pvm: true, intel: false, amd: false, pvmOnly: true });
    assert.equal((await inspectKvmModules(both.sysModule)).pvmOnly, false);
    const r = await probeAccelerator({ env: {}, devKvm: pvm.devKvm, sysModuleDir: pvm.sysModule, qemuBinary: '/nonexistent/qemu' });
    assert.equal(r.accelerator, 'tcg');
    assert.match(r.reason, /kvm_pvm/);
    // Not PVM-only: the functional probe runs, and a QEMU that cannot start means TCG.
    const r2 = await probeAccelerator({ env: {}, devKvm: both.devKvm, sysModuleDir: both.sysModule, qemuBinary: '/nonexistent/qemu' });
    assert.equal(r2.accelerator, 'tcg');
    assert.match(r2.reason, /long-mode probe failed/);
  } finally {
    await rm(pvm.dir, { recursive: true, force: true });
    await rm(both.dir, { recursive: true, force: true });
  }
});

test('the long-mode probe firmware is 64 KiB with a jump at the reset vector, and runs to its exit under TCG', async () => {
  const rom = longModeProbeFirmware();
  assert.equal(rom.length, 65536);
  assert.equal(rom[0xfff0], 0xe9);
  const r = await longModeProbe('tcg', { timeoutMs: 30_000 });
  assert.ok(r.ok, r.detail);
});

test('this host: the probe answers, and a stock kernel that starts under TCG is told apart from one that hangs', async () => {
  const image = await locateGuestImage();
  const tcg = await kernelStartsUnder('tcg', image.kernel, { timeoutMs: 30_000 });
  assert.ok(tcg.ok, tcg.detail);
  const probe = await probeAccelerator({ env: {}, kernel: image.kernel });
  assert.ok(probe.accelerator === 'kvm' || probe.accelerator === 'tcg');
  assert.ok(probe.reason.length > 0);
  // On the build machines /dev/kvm is PVM: the guest kernel must not be trusted to KVM there.
  if ((await inspectKvmModules('/sys/module')).pvmOnly) {
    assert.equal(probe.accelerator, 'tcg');
    const kvm = await kernelStartsUnder('kvm', image.kernel, { timeoutMs: 3000 });
    assert.equal(kvm.ok, false, 'a stock kernel does not start under PVM');
  }
});

const vmCpuinfo = `processor\t: 0
model name\t: Intel(R) Xeon(R) Processor
cpu MHz\t\t: 2299.998
flags\t\t: fpu tsc constant_tsc nonstop_tsc tsc_known_freq hypervisor

processor\t: 1
cpu MHz\t\t: 1.000
`;

test('the host TSC rate comes from cpu MHz when it is the TSC, else from the nominal model-name frequency', () => {
  assert.equal(tscKhzFromCpuinfo(vmCpuinfo, { frequencyScaling: false }), 2299998);
  const scaled = `model name\t: Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz\ncpu MHz\t\t: 3400.112\nflags\t\t: fpu tsc constant_tsc\n`;
  assert.equal(tscKhzFromCpuinfo(scaled, { frequencyScaling: true }), 1900000);
  const amd = `model name\t: AMD EPYC 7B13\ncpu MHz\t\t: 2450.000\nflags\t\t: fpu tsc\n`;
  assert.equal(tscKhzFromCpuinfo(amd, { frequencyScaling: true }), 2450000);
  assert.equal(tscKhzFromCpuinfo('', { frequencyScaling: false }), undefined);
});
