import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildKernelCmdline, buildQemuCommandLine, escapeOption, KERNEL_CMDLINE_MAX_BYTES, macForUid, QemuSpecError, type QemuVmSpec } from './command-line.js';

const base: QemuVmSpec = {
  uid: '0b7f3c2e-1d4a-4c5e-9f00-123456789abc',
  vcpus: 2,
  memoryMiB: 512,
  accelerator: 'tcg',
  tscKhz: 2299998,
  kernel: '/var/cache/shoal/images/default/vmlinuz',
  initrd: '/var/cache/shoal/images/default/initrd.cpio.gz',
  runDir: '/var/lib/shoal/vms/abc',
};

/** The value following a flag (the first occurrence). */
function opt(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

test('a TCG VM gets the proven microvm command line', () => {
  const cmd = buildQemuCommandLine({ ...base, command: 'echo hi' });
  assert.equal(cmd.binary, 'qemu-system-x86_64');
  assert.deepEqual(cmd.args, [
    '-name',
    `shoal-vm:${base.uid}`,
    '-M',
    'microvm,pit=on,pic=on,rtc=on',
    '-accel',
    'tcg',
    '-cpu',
    'max',
    '-smp',
    '2',
    '-m',
    '512',
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    '-kernel',
    base.kernel,
    '-initrd',
    base.initrd,
    '-append',
    `console=ttyS0 reboot=t panic=-1 tsc_early_khz=2299998 tsc=reliable shoal.uid=${base.uid} shoal.cmd=ZWNobyBoaQ==`,
    '-chardev',
    'file,id=serial0,path=/var/lib/shoal/vms/abc/serial.log',
    '-serial',
    'chardev:serial0',
    '-qmp',
    'unix:/var/lib/shoal/vms/abc/qmp.sock,server=on,wait=off',
    '-qmp',
    'unix:/var/lib/shoal/vms/abc/qmp-observer.sock,server=on,wait=off',
    '-pidfile',
    '/var/lib/shoal/vms/abc/qemu.pid',
    '-netdev',
    'user,id=net0',
    '-device',
    `virtio-net-device,netdev=net0,mac=${macForUid(base.uid)}`,
  ]);
  assert.equal(cmd.serialLog, '/var/lib/shoal/vms/abc/serial.log');
  assert.equal(cmd.qmpSocket, '/var/lib/shoal/vms/abc/qmp.sock');
  assert.equal(cmd.pidFile, '/var/lib/shoal/vms/abc/qemu.pid');
  assert.ok(!cmd.args.includes('-daemonize'), 'the agent supervises QEMU: never -daemonize');
});

test('KVM uses the host CPU and needs no TSC hints', () => {
  const cmd = buildQemuCommandLine({ ...base, accelerator: 'kvm' });
  assert.equal(opt(cmd.args, '-accel'), 'kvm');
  assert.equal(opt(cmd.args, '-cpu'), 'host');
  assert.doesNotMatch(cmd.kernelCmdline, /tsc/);
});

test('the command travels base64-encoded and round-trips, quotes and newlines included', () => {
  const command = `printf '%s\\n' "a b" 'c'\necho "$SHOAL_UID" ; exit 3`;
  const cmdline = buildKernelCmdline({ ...base, command });
  const b64 = cmdline.match(/(?:^| )shoal\.cmd=(\S+)/)?.[1];
  assert.ok(b64);
  assert.equal(Buffer.from(b64, 'base64').toString('utf8'), command);
  assert.ok(!/\s/.test(b64));
});

test('no command means no shoal.cmd (the guest idles); an empty command is no command', () => {
  assert.doesNotMatch(buildKernelCmdline(base), /shoal\.cmd/);
  assert.doesNotMatch(buildKernelCmdline({ ...base, command: '' }), /shoal\.cmd/);
});

test('hostname, quiet, network off and extra kernel args land on the kernel command line', () => {
  const cmd = buildQemuCommandLine({ ...base, hostname: 'web-1', kernelLog: false, network: { mode: 'none' }, kernelArgs: ['loglevel=7', 'mitigations=off'] });
  assert.equal(
    cmd.kernelCmdline,
    `console=ttyS0 reboot=t panic=-1 tsc_early_khz=2299998 tsc=reliable quiet shoal.uid=${base.uid} shoal.hostname=web-1 shoal.net=off loglevel=7 mitigations=off`,
  );
  assert.ok(!cmd.args.includes('-netdev'));
  assert.ok(!cmd.args.some((a) => a.startsWith('virtio-net-device')));
  assert.equal(cmd.mac, undefined);
});

test('host forwards, a fixed MAC, a root disk and an incoming migration', () => {
  const cmd = buildQemuCommandLine({
    ...base,
    network: {
      mode: 'user',
      mac: '52:54:00:aa:bb:cc',
      hostForwards: [
        { hostPort: 2222, guestPort: 22 },
        { protocol: 'udp', hostAddress: '0.0.0.0', hostPort: 5353, guestPort: 53 },
      ],
    },
    rootDisk: { path: '/var/lib/shoal/vms/abc/root.qcow2' },
    incoming: 'tcp:0.0.0.0:4444',
  });
  assert.equal(opt(cmd.args, '-netdev'), 'user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp:0.0.0.0:5353-:53');
  assert.ok(cmd.args.includes('virtio-net-device,netdev=net0,mac=52:54:00:aa:bb:cc'));
  assert.equal(opt(cmd.args, '-drive'), 'file=/var/lib/shoal/vms/abc/root.qcow2,if=none,id=disk0,format=qcow2');
  assert.ok(cmd.args.includes('virtio-blk-device,drive=disk0'));
  assert.equal(opt(cmd.args, '-incoming'), 'tcp:0.0.0.0:4444');
  assert.ok(!cmd.args.includes('-S'), 'an incoming VM starts its guest when the migration completes unless asked otherwise');
  assert.ok(buildQemuCommandLine({ ...base, incoming: 'defer', startPaused: true }).args.includes('-S'));
  const ro = buildQemuCommandLine({ ...base, rootDisk: { path: '/images/base.raw', format: 'raw', readOnly: true } });
  assert.equal(opt(ro.args, '-drive'), 'file=/images/base.raw,if=none,id=disk0,format=raw,readonly=on');
});

test('tap NICs: QEMU opens the node’s taps by name, in order, with the MACs the control plane gave, and runs no script', () => {
  const nics = [
    { tap: 'shtap-abc', mac: '52:54:00:00:00:01' },
    { tap: 'shtap-def', mac: '52:54:00:00:00:02' },
  ];
  const cmd = buildQemuCommandLine({ ...base, network: { mode: 'tap', nics } });
  const all = (flag: string) => cmd.args.filter((_, i) => cmd.args[i - 1] === flag);
  assert.deepEqual(all('-netdev'), ['tap,id=net0,ifname=shtap-abc,script=no,downscript=no', 'tap,id=net1,ifname=shtap-def,script=no,downscript=no']);
  assert.deepEqual(
    all('-device').filter((d) => d.startsWith('virtio-net')),
    ['virtio-net-device,netdev=net0,mac=52:54:00:00:00:01', 'virtio-net-device,netdev=net1,mac=52:54:00:00:00:02'],
  );
  assert.equal(cmd.mac, '52:54:00:00:00:01', 'eth0’s');
  assert.doesNotMatch(cmd.kernelCmdline, /shoal\.net=off/, 'the guest asks DHCP on its NICs');
});

test('commas in paths are doubled inside QEMU options, but not in plain path arguments', () => {
  assert.equal(escapeOption('/a,b/c'), '/a,,b/c');
  const cmd = buildQemuCommandLine({ ...base, runDir: '/tmp/a,b', rootDisk: { path: '/d,1.qcow2' } });
  assert.equal(opt(cmd.args, '-chardev'), 'file,id=serial0,path=/tmp/a,,b/serial.log');
  assert.equal(opt(cmd.args, '-qmp'), 'unix:/tmp/a,,b/qmp.sock,server=on,wait=off');
  assert.equal(opt(cmd.args, '-pidfile'), '/tmp/a,b/qemu.pid');
  assert.equal(opt(cmd.args, '-drive'), 'file=/d,,1.qcow2,if=none,id=disk0,format=qcow2');
});

test('appendSerialLog keeps the earlier console output', () => {
  assert.equal(
    opt(buildQemuCommandLine({ ...base, appendSerialLog: true }).args, '-chardev'),
    'file,id=serial0,path=/var/lib/shoal/vms/abc/serial.log,append=on',
  );
});

test("the MAC is stable per uid, locally administered under QEMU's prefix, and differs between uids", () => {
  assert.equal(macForUid('a'), macForUid('a'));
  assert.notEqual(macForUid('a'), macForUid('b'));
  assert.match(macForUid('a'), /^52:54:00(:[0-9a-f]{2}){3}$/);
});

test('bad specs are refused with the field that is wrong', () => {
  const cases: Array<[Partial<QemuVmSpec>, string]> = [
    [{ uid: 'has space' }, 'uid'],
    [{ uid: '' }, 'uid'],
    [{ vcpus: 0 }, 'vcpus'],
    [{ vcpus: 1.5 }, 'vcpus'],
    [{ memoryMiB: 16 }, 'memoryMiB'],
    [{ accelerator: 'hvf' as never }, 'accelerator'],
    [{ tscKhz: -1 }, 'tscKhz'],
    [{ kernel: '' }, 'kernel'],
    [{ hostname: 'Not_A_Label' }, 'hostname'],
    [{ kernelArgs: ['two words'] }, 'kernelArgs[0]'],
    [{ kernelArgs: ['shoal.uid=spoof'] }, 'kernelArgs[0]'],
    [{ network: { mode: 'user', mac: 'nope' } }, 'network.mac'],
    [{ network: { mode: 'user', hostForwards: [{ hostPort: 0, guestPort: 22 }] } }, 'network.hostForwards[0].hostPort'],
    [{ network: { mode: 'bridge' } as never }, 'network.mode'],
    [{ network: { mode: 'tap', nics: [{ tap: 'a,tap=with-commas', mac: '52:54:00:00:00:01' }] } }, 'network.nics[0].tap'],
    [{ network: { mode: 'tap', nics: [{ tap: 'shtap-0123456789', mac: '52:54:00:00:00:01' }] } }, 'network.nics[0].tap'],
    [{ network: { mode: 'tap', nics: [{ tap: 'shtap-a', mac: 'nope' }] } }, 'network.nics[0].mac'],
    [{ network: { mode: 'tap', nics: [] } }, 'network.nics'],
    [{ rootDisk: { path: '/x', format: 'vmdk' as never } }, 'rootDisk.format'],
    [{ incoming: '' }, 'incoming'],
    [{ runDir: '/' + 'x'.repeat(120) }, 'runDir'],
  ];
  for (const [patch, field] of cases) {
    assert.throws(
      () => buildQemuCommandLine({ ...base, ...patch }),
      (err: unknown) => err instanceof QemuSpecError && err.field === field,
      `expected a QemuSpecError on ${field} for ${JSON.stringify(patch)}`,
    );
  }
});

test('a command too long for the kernel command line is refused, one that fits is not', () => {
  const fixed = Buffer.byteLength(buildKernelCmdline(base)) + ' shoal.cmd='.length;
  const fits = Math.floor((KERNEL_CMDLINE_MAX_BYTES - fixed) / 4) * 3;
  assert.ok(Buffer.byteLength(buildKernelCmdline({ ...base, command: 'x'.repeat(fits) })) <= KERNEL_CMDLINE_MAX_BYTES);
  assert.throws(
    () => buildKernelCmdline({ ...base, command: 'x'.repeat(fits + 3) }),
    (err: unknown) => err instanceof QemuSpecError && err.field === 'command',
  );
});
