/**
 * DHCP for a Network's guests on a real kernel: a node namespace with the Network's bridge, a
 * guest namespace on it (a veth with the VM NIC's MAC), busybox udhcpc as the guest's client —
 * the one the guest image's init runs. The guest gets the address the control plane gave its
 * MAC and the gateway; a MAC nobody gave an address gets none; dnsmasq survives its agent.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { DhcpServers, dnsmasqArgs } from './dhcp.js';
import { Links } from './links.js';

const tag = `sd${process.pid % 100_000}`;
const NODE = `${tag}-n`;
const GUEST = `${tag}-g`;
const BRIDGE = 'shbr-dhcp';
const MAC = '52:54:00:12:34:56';
const net = { bridge: BRIDGE, cidr: '10.79.0.0/24', gateway: '10.79.0.1' };
let runDir: string;

const sh = (...args: string[]) => execa(args[0]!, args.slice(1));

/** What the guest's DHCP client is offered: its address and router, or undefined when nothing answers. */
async function lease(): Promise<{ ip: string; router: string } | undefined> {
  const script = join(runDir, 'udhcpc-script');
  const r = await execa('ip', ['netns', 'exec', GUEST, 'busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-t', '3', '-T', '1', '-s', script], {
    reject: false,
  });
  if (r.exitCode !== 0) return undefined;
  const seen = await readFile(join(runDir, 'offer'), 'utf8');
  const [ip, router] = seen.trim().split(' ');
  return { ip: ip!, router: router! };
}

before(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'shoal-dhcp-'));
  // dnsmasq reads its hosts file as nobody (dhcp.ts): mkdtemp's 0700 would hide it.
  await chmod(runDir, 0o755);
  // udhcpc runs its script with the offer in the environment; this one writes it down.
  await writeFile(join(runDir, 'udhcpc-script'), `#!/bin/sh\n[ "$1" = bound ] && echo "$ip $router" > ${runDir}/offer\nexit 0\n`, { mode: 0o755 });
  await sh('ip', 'netns', 'add', NODE);
  await sh('ip', 'netns', 'add', GUEST);
  await new Links(NODE).ensureBridge(BRIDGE, ['10.79.0.1/24']);
  await sh('ip', '-n', NODE, 'link', 'add', 'gvh', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', GUEST);
  await sh('ip', '-n', NODE, 'link', 'set', 'gvh', 'master', BRIDGE, 'up');
  await sh('ip', '-n', GUEST, 'link', 'set', 'eth0', 'address', MAC, 'up');
});

after(async () => {
  await new DhcpServers(runDir, NODE).stop(BRIDGE).catch(() => undefined);
  for (const n of [GUEST, NODE]) await sh('ip', 'netns', 'del', n).catch(() => undefined);
  await rm(runDir, { recursive: true, force: true });
});

test('a guest gets the address its MAC was given and the gateway; new leases are a reload, not a restart', async () => {
  const dhcp = new DhcpServers(runDir, NODE);
  assert.equal(await dhcp.ensure(net, [{ mac: MAC, ip: '10.79.0.23' }]), 'started');
  assert.deepEqual(await lease(), { ip: '10.79.0.23', router: '10.79.0.1' });
  const pid = await readFile(join(runDir, BRIDGE, 'dnsmasq.pid'), 'utf8');

  assert.equal(await dhcp.ensure(net, [{ mac: MAC, ip: '10.79.0.23' }]), 'unchanged');
  assert.equal(await dhcp.ensure(net, [{ mac: MAC.toUpperCase(), ip: '10.79.0.42' }]), 'reloaded');
  assert.deepEqual(await lease(), { ip: '10.79.0.42', router: '10.79.0.1' }, 'the new address, MACs in either case');
  assert.equal(await readFile(join(runDir, BRIDGE, 'dnsmasq.pid'), 'utf8'), pid, 'the same dnsmasq');
});

test('a MAC without a lease gets nothing; a new agent adopts the running dnsmasq; stop ends it', async () => {
  const dhcp = new DhcpServers(runDir, NODE);
  await dhcp.ensure(net, [{ mac: '52:54:00:99:99:99', ip: '10.79.0.50' }]);
  assert.equal(await lease(), undefined, 'static leases only: an unknown guest is not given an address');

  const pid = Number(await readFile(join(runDir, BRIDGE, 'dnsmasq.pid'), 'utf8'));
  const restarted = new DhcpServers(runDir, NODE);
  assert.equal(await restarted.ensure(net, [{ mac: '52:54:00:99:99:99', ip: '10.79.0.50' }]), 'unchanged', 'adopted as it is');
  assert.equal(await restarted.ensure({ ...net, leaseSeconds: 120 }, []), 'started', 'other settings: a new dnsmasq');
  assert.notEqual(Number(await readFile(join(runDir, BRIDGE, 'dnsmasq.pid'), 'utf8')), pid);
  await restarted.stop(BRIDGE);
  assert.equal(await readFile(join(runDir, BRIDGE, 'dnsmasq.pid'), 'utf8').catch(() => 'gone'), 'gone');
  assert.equal(await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => 'gone'), 'gone');
});

test('dnsmasq is told DHCP only, static leases only, on the bridge only', () => {
  const args = dnsmasqArgs({ ...net, cidr: '10.80.0.0/20' }, { pid: '/run/p', hosts: '/run/h' });
  assert.ok(args.includes('--port=0'), 'no DNS');
  assert.ok(args.includes(`--interface=${BRIDGE}`) && args.includes('--bind-interfaces'));
  assert.ok(args.includes('--dhcp-range=10.80.0.0,static,255.255.240.0,3600'));
  assert.ok(args.includes('--dhcp-option=option:router,10.79.0.1'));
  assert.throws(() => dnsmasqArgs({ ...net, cidr: '10.80.0.0' }, { pid: '', hosts: '' }), /ADDRESS\/PREFIX/);
});
