/**
 * Real guests on a Network's data plane, on one node: a node namespace with the Network's
 * bridge, a tap per guest, DHCP with one static lease per guest MAC and NAT to an "outside"
 * namespace; two QEMU microVMs (the default image, TCG here) opened on the taps. Each boots
 * with the address its lease names, and one talks to the other over TCP (busybox nc) and
 * reaches outside through the node.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { waitFor } from '@shoal/testing';
import { detectAccelerator, hostTscKhz } from '../runtime/qemu/accelerator.js';
import { buildQemuCommandLine, macForUid } from '../runtime/qemu/command-line.js';
import { locateGuestImage } from '../runtime/qemu/guest-image.js';
import { DhcpServers } from './dhcp.js';
import { Links } from './links.js';
import { Nat } from './nat.js';

const tag = `sg${process.pid % 100_000}`;
const NODE = `${tag}-n`;
const OUTSIDE = `${tag}-o`;
const BRIDGE = 'shbr-guests';
const net = { bridge: BRIDGE, cidr: '10.82.0.0/24', gateway: '10.82.0.1' };
const guests = [
  { uid: 'net-guest-server', ip: '10.82.0.10', tap: 'shtap-g1' },
  { uid: 'net-guest-client', ip: '10.82.0.11', tap: 'shtap-g2' },
];
let runDir: string;
const qemus: ResultPromise[] = [];

const sh = (...args: string[]) => execa(args[0]!, args.slice(1));

before(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'shoal-net-guests-'));
  await chmod(runDir, 0o755); // dnsmasq reads its hosts file as nobody
  await sh('ip', 'netns', 'add', NODE);
  await sh('ip', 'netns', 'add', OUTSIDE);
  const links = new Links(NODE);
  await links.ensureBridge(BRIDGE, [`${net.gateway}/24`]);
  for (const g of guests) await links.ensureTap(g.tap, BRIDGE);
  await new DhcpServers(join(runDir, 'dhcp'), NODE).ensure(
    net,
    guests.map((g) => ({ mac: macForUid(g.uid), ip: g.ip })),
  );
  await sh('ip', '-n', NODE, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0', 'netns', OUTSIDE);
  await sh('ip', '-n', NODE, 'addr', 'add', '192.168.82.1/24', 'dev', 'up0');
  await sh('ip', '-n', OUTSIDE, 'addr', 'add', '192.168.82.2/24', 'dev', 'up0');
  for (const n of [NODE, OUTSIDE]) await sh('ip', '-n', n, 'link', 'set', 'up0', 'up');
  await new Nat(NODE).ensure({ subnets: [net.cidr], ports: [] });
});

after(async () => {
  for (const q of qemus) q.kill('SIGKILL');
  await Promise.allSettled(qemus);
  await new DhcpServers(join(runDir, 'dhcp'), NODE).stop(BRIDGE).catch(() => undefined);
  for (const n of [NODE, OUTSIDE]) await sh('ip', 'netns', 'del', n).catch(() => undefined);
  await rm(runDir, { recursive: true, force: true });
});

/** Boots a guest on its tap, inside the node's namespace (where the tap is); answers its console. */
async function boot(g: (typeof guests)[number], command?: string): Promise<() => Promise<string>> {
  const image = await locateGuestImage();
  const dir = join(runDir, g.uid);
  const line = buildQemuCommandLine({
    uid: g.uid,
    vcpus: 1,
    memoryMiB: 128,
    accelerator: (await detectAccelerator({ kernel: image.kernel })).accelerator,
    tscKhz: await hostTscKhz(),
    kernel: image.kernel,
    initrd: image.initrd,
    runDir: dir,
    network: { mode: 'tap', nics: [{ tap: g.tap, mac: macForUid(g.uid) }] },
    command,
  });
  await execa('mkdir', ['-p', dir]);
  const qemu = execa('ip', ['netns', 'exec', NODE, line.binary, ...line.args], { reject: false, stdin: 'ignore' });
  qemus.push(qemu);
  return () => readFile(line.serialLog, 'utf8').catch(() => '');
}

test('two guests on a Network get their leased addresses, talk over TCP, and reach outside through their node', async () => {
  const [server, client] = guests as [(typeof guests)[0], (typeof guests)[0]];
  const serverConsole = await boot(server, 'while true; do echo served-by-the-server | nc -l -p 7000; done');
  const clientConsole = await boot(
    client,
    `for i in $(seq 1 30); do if reply="$(nc -w 2 ${server.ip} 7000 </dev/null)" && [ -n "$reply" ]; then echo "GOT $reply"; break; fi; sleep 1; done; ` +
      'ping -c 1 -W 2 192.168.82.2 >/dev/null && echo OUTSIDE-REACHED',
  );

  for (const [g, console] of [
    [server, serverConsole],
    [client, clientConsole],
  ] as const)
    await waitFor(async () => new RegExp(`SHOAL-BOOTED uid=${g.uid} ip=${g.ip.replaceAll('.', '\\.')} `).test(await console()), {
      timeoutMs: 90_000,
      message: `${g.uid} booted with ${g.ip}`,
    });
  await waitFor(async () => (await clientConsole()).includes('GOT served-by-the-server'), { timeoutMs: 60_000, message: 'the client to read the server' });
  await waitFor(async () => (await clientConsole()).includes('OUTSIDE-REACHED'), { timeoutMs: 30_000, message: 'the client to reach outside' });
});
