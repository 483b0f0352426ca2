/**
 * The node's network devices on real kernels: two "nodes" (network namespaces joined by an
 * underlay veth pair) each with a bridge and a VXLAN device per Network, and "guests" (more
 * namespaces, joined to a node's bridge by a veth: a tap carries nothing without a QEMU behind
 * it) that talk across the overlay — within one Network only. Every ensure is idempotent: a
 * device already right keeps its ifindex.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { waitFor } from '@shoal/testing';
import { LinkError, Links } from './links.js';

const tag = `sl${process.pid % 100_000}`;
const ns = { nodeA: `${tag}-na`, nodeB: `${tag}-nb`, guestA1: `${tag}-ga1`, guestB1: `${tag}-gb1`, guestB2: `${tag}-gb2` };
const UNDERLAY = { a: '192.168.77.1', b: '192.168.77.2' };
const PORT = 4789;
const nodeA = new Links(ns.nodeA);
const nodeB = new Links(ns.nodeB);

const sh = (...args: string[]) => execa(args[0]!, args.slice(1));
const inNs = (name: string, ...args: string[]) => sh('ip', 'netns', 'exec', name, ...args);

/** A guest stand-in: a namespace with `ip` on eth0, whose other end is on `bridge` in `node`. */
async function guest(name: string, node: string, bridge: string, ip: string): Promise<void> {
  await sh('ip', 'netns', 'add', name);
  await sh('ip', '-n', node, 'link', 'add', `${name.slice(-3)}h`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
  await sh('ip', '-n', node, 'link', 'set', `${name.slice(-3)}h`, 'master', bridge, 'up');
  await sh('ip', '-n', name, 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
  await sh('ip', '-n', name, 'link', 'set', 'eth0', 'up');
}

const pings = (from: string, to: string) =>
  inNs(from, 'busybox', 'ping', '-c', '1', '-W', '1', to).then(
    () => true,
    () => false,
  );

before(async () => {
  await sh('ip', 'netns', 'add', ns.nodeA);
  await sh('ip', 'netns', 'add', ns.nodeB);
  await sh('ip', '-n', ns.nodeA, 'link', 'add', 'under', 'type', 'veth', 'peer', 'name', 'under', 'netns', ns.nodeB);
  await sh('ip', '-n', ns.nodeA, 'addr', 'add', `${UNDERLAY.a}/24`, 'dev', 'under');
  await sh('ip', '-n', ns.nodeB, 'addr', 'add', `${UNDERLAY.b}/24`, 'dev', 'under');
  for (const n of [ns.nodeA, ns.nodeB]) {
    await sh('ip', '-n', n, 'link', 'set', 'under', 'up');
    await sh('ip', '-n', n, 'link', 'set', 'lo', 'up');
  }
});

after(async () => {
  for (const n of Object.values(ns)) await sh('ip', 'netns', 'del', n).catch(() => undefined);
});

test('one Network spans two nodes over VXLAN: its guests talk; a guest of another Network on the same subnet does not', async () => {
  // Network 1 (VNI 101) on both nodes; Network 2 (VNI 102) on node B only.
  assert.equal(await nodeA.ensureBridge('shbr-n1', ['10.77.1.1/24']), 'created');
  assert.equal(await nodeA.ensureVxlan('shvx-n1', { vni: 101, local: UNDERLAY.a, port: PORT, bridge: 'shbr-n1', peers: [UNDERLAY.b] }), 'created');
  assert.equal(await nodeB.ensureBridge('shbr-n1'), 'created');
  assert.equal(await nodeB.ensureVxlan('shvx-n1', { vni: 101, local: UNDERLAY.b, port: PORT, bridge: 'shbr-n1', peers: [UNDERLAY.a] }), 'created');
  await nodeB.ensureBridge('shbr-n2');
  await nodeB.ensureVxlan('shvx-n2', { vni: 102, local: UNDERLAY.b, port: PORT, bridge: 'shbr-n2', peers: [UNDERLAY.a] });

  await guest(ns.guestA1, ns.nodeA, 'shbr-n1', '10.77.1.10');
  await guest(ns.guestB1, ns.nodeB, 'shbr-n1', '10.77.1.20');
  await guest(ns.guestB2, ns.nodeB, 'shbr-n2', '10.77.1.30');

  await waitFor(() => pings(ns.guestA1, '10.77.1.20'), { timeoutMs: 10_000, message: 'a guest on node A to reach one on node B' });
  assert.ok(await pings(ns.guestB1, '10.77.1.1'), 'and the gateway address on node A’s bridge');
  assert.equal(await pings(ns.guestB2, '10.77.1.10'), false, 'another Network’s guest, same subnet: nothing gets through');
  assert.equal(await pings(ns.guestB2, '10.77.1.20'), false, 'not even on the same node');
});

test('ensuring again changes nothing and keeps every device (an agent restart adopts, without a cut); what differs is put right', async () => {
  const spec = { vni: 101, local: UNDERLAY.a, port: PORT, bridge: 'shbr-n1', peers: [UNDERLAY.b] };
  const before = [await nodeA.ifindex('shbr-n1'), await nodeA.ifindex('shvx-n1')];
  assert.equal(await nodeA.ensureBridge('shbr-n1', ['10.77.1.1/24']), 'unchanged');
  assert.equal(await nodeA.ensureVxlan('shvx-n1', spec), 'unchanged');
  assert.deepEqual([await nodeA.ifindex('shbr-n1'), await nodeA.ifindex('shvx-n1')], before, 'the same devices');
  assert.ok(await pings(ns.guestA1, '10.77.1.20'), 'traffic flows on');

  // Peers and addresses are changed in place; the device stays.
  assert.equal(await nodeA.ensureVxlan('shvx-n1', { ...spec, peers: [] }), 'updated');
  const { stdout } = await sh('bridge', '-n', ns.nodeA, '-json', 'fdb', 'show', 'dev', 'shvx-n1');
  assert.deepEqual(
    (JSON.parse(stdout) as { mac: string; dst?: string }[]).filter((e) => e.mac === '00:00:00:00:00:00'),
    [],
    'no peer to flood to any more (what was learned stays until it ages out)',
  );
  assert.equal(await nodeA.ensureVxlan('shvx-n1', spec), 'updated');
  assert.equal(await nodeA.ifindex('shvx-n1'), before[1]);
  assert.equal(await nodeA.ensureBridge('shbr-n1', ['10.77.1.1/24', '10.77.9.1/24']), 'updated');
  assert.equal(await nodeA.ensureBridge('shbr-n1', ['10.77.1.1/24']), 'updated');

  // A VNI is fixed when the device is made: another one makes it anew, and it works again.
  assert.equal(await nodeA.ensureVxlan('shvx-n1', { ...spec, vni: 103 }), 'updated');
  assert.notEqual(await nodeA.ifindex('shvx-n1'), before[1]);
  assert.equal(await pings(ns.guestA1, '10.77.1.20'), false, 'VNI 103 here, 101 there: cut');
  assert.equal(await nodeA.ensureVxlan('shvx-n1', spec), 'updated');
  await waitFor(() => pings(ns.guestA1, '10.77.1.20'), { timeoutMs: 10_000, message: 'the segment back' });
});

test('a tap per VM NIC: made on the bridge, up, adopted as it is, removed once', async () => {
  assert.equal(await nodeA.ensureTap('shtap-vm1', 'shbr-n1'), 'created');
  const index = await nodeA.ifindex('shtap-vm1');
  assert.equal(await nodeA.ensureTap('shtap-vm1', 'shbr-n1'), 'unchanged');
  assert.equal(await nodeA.ifindex('shtap-vm1'), index);
  const { stdout } = await sh('ip', '-n', ns.nodeA, '-json', '-details', 'link', 'show', 'dev', 'shtap-vm1');
  const [tap] = JSON.parse(stdout) as { master?: string; flags: string[]; linkinfo?: { info_data?: { type?: string; persist?: boolean } } }[];
  assert.deepEqual([tap!.master, tap!.flags.includes('UP'), tap!.linkinfo?.info_data?.type, tap!.linkinfo?.info_data?.persist], ['shbr-n1', true, 'tap', true]);
  await assert.rejects(nodeA.ensureTap('shtap-vm2', 'shbr-none'), LinkError, 'a bridge that is not there is a clear error');
  assert.deepEqual(await nodeA.names('shtap-'), ['shtap-vm1'], 'and leaves no tap behind');
  assert.equal(await nodeA.remove('shtap-vm1'), true);
  assert.equal(await nodeA.remove('shtap-vm1'), false, 'gone already: nothing to do');
  await assert.rejects(nodeA.ensureTap('a-name-too-long-for-linux', 'shbr-n1'), /1 to 15 characters/);
});
