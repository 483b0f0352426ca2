/**
 * VM networks end to end: a real etcd, apiserver and controller-manager, and three QEMU agents,
 * each on a "host" of its own — a network namespace joined to a test datacenter bridge by a veth
 * pair (soak/topology.ts) — attaching VMs to Networks with their kernel parts (a bridge and a
 * VXLAN device per Network, a tap per NIC, dnsmasq, nftables). Real guests (the default image)
 * boot with the addresses the control plane gave them and:
 *
 *   two VMs on one Network, on two hosts    → ping each other, exchange TCP data (busybox nc),
 *                                             and reach outside their Network through their host
 *   a port the server publishes             → its node's address at the host port answers, from the
 *                                             node and from outside it; another node's does not
 *   a VM on another tenant's Network, on    → reaches its own gateway, never the first Network's
 *   the same host as one of them              VM (the host routes between its bridges)
 *   both hosts' agents killed and restarted → a TCP stream between the two guests goes on, on the
 *                                             same connection; the taps are the same devices
 *   the streaming VM live-migrated          → same address and MAC, the stream goes on, the tap moves
 *   a VM that names no Network              → on the cluster's default Network (shoal-system/default)
 *                                             once there is one: its address, outside through its host;
 *                                             shoalctl get -o wide and describe show the addresses
 *   a VM deleted                            → its tap, and its Network's bridge, VXLAN device and
 *                                             DHCP on that host (the last VM there) are gone; its
 *                                             address is given back
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { CLUSTER_NETWORK, type IPAddress, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import {
  killLeftoverVms,
  makeNodeMigrationCertificate,
  makeServerCertificates,
  startAgent,
  startCluster,
  waitFor,
  waitForObject,
  type AgentProcess,
  type TestCertificates,
  type TestCluster,
} from '@shoal/testing';
import { createTopology, type Host, type Topology } from '../soak/topology.js';
import { shoalctl } from '../apps/cli/src/test-support/shoalctl.js';
import { bridgeName, networkKey, TAP_PREFIX, tapName } from '../apps/agent/src/network/names.js';
import { stopAgentDhcp } from '../apps/agent/src/network/setup.js';

const NODES = ['net-n0', 'net-n1', 'net-n2'];
/** Where a test VM may go: pool a is net-n0 alone, pool b the other two (a migration between them). */
const POOL_LABEL = 'test.shoal.dev/pool';
const poolOf = (node: string) => (node === NODES[0] ? 'a' : 'b');
const LONG = { timeoutMs: 120_000 };
const BLUE = { name: 'blue', cidr: '10.90.0.0/24' };
const PUBLISHED_PORT = 8700;
const DEFAULT_CIDR = '10.95.0.0/24';
const TENANT = { namespace: 'tenant-b', name: 'private', cidr: '10.91.0.0/24' };

let topology: Topology;
let cluster: TestCluster;
let client: ShoalClient;
let server: string;
let migrationCa: TestCertificates;
const agents = new Map<string, AgentProcess>();

function hostOf(node: string): Host {
  return topology.hosts.find((h) => h.nodeName === node)!;
}

async function startHostAgent(node: string, dataDir?: string): Promise<AgentProcess> {
  const host = hostOf(node);
  const agent = await startAgent(server, node, {
    prefix: topology.inHost(host),
    ...(dataDir ? { dataDir } : {}),
    args: [
      '--runtime',
      'qemu',
      '--bind',
      host.address,
      '--vm-networks',
      '--overlay-address',
      host.address,
      '--labels',
      `${POOL_LABEL}=${poolOf(node)}`,
      ...(await makeNodeMigrationCertificate(migrationCa, node, [host.address])),
    ],
  });
  agents.set(node, agent);
  return agent;
}

before(async () => {
  migrationCa = await makeServerCertificates();
  topology = await createTopology(`e${(process.pid % 0xfffff).toString(16)}`, NODES);
  cluster = await startCluster({ apiserverArgs: ['--bind', '0.0.0.0'], controllerManager: true });
  client = cluster.client;
  // The agents reach the apiserver across their veth, at the datacenter bridge's address.
  server = `http://${topology.bridgeAddress}:${cluster.apiserver.port}`;
  for (const node of NODES) await startHostAgent(node);
  await client.create('network', { metadata: { name: BLUE.name }, spec: { cidr: BLUE.cidr } }, { namespace: 'default' });
  await client.create('namespace', { metadata: { name: TENANT.namespace } });
  await client.create('network', { metadata: { name: TENANT.name }, spec: { cidr: TENANT.cidr } }, { namespace: TENANT.namespace });
});

after(async () => {
  for (const a of agents.values()) {
    await a.kill().catch(() => undefined);
    await killLeftoverVms(a.dataDir);
    await stopAgentDhcp(a.dataDir);
    await rm(a.dataDir, { recursive: true, force: true });
  }
  await cluster?.stop();
  await topology?.teardown();
  if (migrationCa) await rm(migrationCa.dir, { recursive: true, force: true });
});

/** A VM on `network`, placed in `pool`, running `command` in its guest. */
async function createVm(
  namespace: string,
  name: string,
  network: string,
  pool: 'a' | 'b',
  command: string,
  more: Partial<VirtualMachine['spec']> = {},
): Promise<VirtualMachine> {
  await client.create(
    'vm',
    {
      metadata: { name },
      spec: {
        resources: { vcpus: 1, memoryMiB: 128 },
        ...(network ? { networks: [{ name: network }] } : {}),
        nodeSelector: { [POOL_LABEL]: pool },
        command: ['sh', '-c', command],
        ...more,
      },
    },
    { namespace },
  );
  return waitForObject(client, 'VirtualMachine', name, (v) => v.status?.phase === 'Running', {
    ...LONG,
    namespace,
    message: `${namespace}/${name} Running`,
  });
}

/** A VM's interface on its first Network, once the control plane gave it. */
async function addressOf(namespace: string, name: string): Promise<string> {
  const vm = await waitForObject(client, 'VirtualMachine', name, (v) => !!v.status?.interfaces?.length, {
    ...LONG,
    namespace,
    message: `${namespace}/${name} given an address`,
  });
  return vm.status!.interfaces![0]!.ip;
}

async function consoleOf(vm: VirtualMachine): Promise<string> {
  return readFile(join(agents.get(vm.spec.nodeName!)!.dataDir, 'vms', vm.metadata.uid!, 'serial.log'), 'utf8').catch(() => '');
}

/** Waits until the VM's console satisfies `done`; a timeout shows the console's end. */
async function waitForConsole(vm: VirtualMachine, done: (text: string) => boolean, what: string): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      last = await consoleOf(vm);
      return done(last);
    },
    { ...LONG, message: what, lastSeen: () => last.slice(-800) },
  );
}

async function devicesIn(node: string): Promise<{ name: string; ifindex: number }[]> {
  const r = await execa('ip', ['-n', hostOf(node).namespace, '-json', 'link', 'show']);
  return (JSON.parse(r.stdout) as { ifname: string; ifindex: number }[]).map((l) => ({ name: l.ifname, ifindex: l.ifindex }));
}

const highestTick = (text: string) => Math.max(0, ...[...text.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1])));

let serverVm: VirtualMachine;
let clientVm: VirtualMachine;

test('two VMs on one Network, on two hosts: the addresses the control plane gave, ping, TCP both ways, and outside through their host', async () => {
  // The server answers on 7000 (a line per connection) and prints what one stream sends to 7001.
  serverVm = await createVm(
    'default',
    'server',
    BLUE.name,
    'a',
    // busybox nc ends a connection when its stdin ends: the stream's listener reads a stdin that never does.
    '(while true; do echo hello-from-server | nc -l -p 7000; done) & sleep 100000 | nc -l -p 7001 | while read -r line; do echo "server got $line"; done',
    { ports: [{ name: 'hello', protocol: 'TCP', hostPort: PUBLISHED_PORT, guestPort: 7000 }] },
  );
  const serverIp = await addressOf('default', 'server');
  assert.equal(serverVm.status?.ip, serverIp, 'the guest took the address the control plane gave it');

  const outside = topology.bridgeAddress;
  clientVm = await createVm(
    'default',
    'client',
    BLUE.name,
    'b',
    `for i in $(seq 1 60); do if reply="$(nc -w 2 ${serverIp} 7000 </dev/null)" && [ -n "$reply" ]; then echo "GOT $reply"; break; fi; sleep 1; done; ` +
      `ping -c 1 -W 2 ${serverIp} >/dev/null && echo PINGED-SERVER; ` +
      `ping -c 1 -W 2 ${outside} >/dev/null && echo OUTSIDE-REACHED; ` +
      `i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.5; done | nc ${serverIp} 7001`,
  );
  const clientIp = await addressOf('default', 'client');
  assert.notEqual(clientIp, serverIp);
  assert.equal(clientVm.status?.ip, clientIp);
  assert.notEqual(serverVm.spec.nodeName, clientVm.spec.nodeName, 'on two hosts: the Network crosses the overlay');

  const said = (vm: VirtualMachine, line: string, what: string) => waitForConsole(vm, (text) => text.includes(line), what);
  await said(clientVm, 'GOT hello-from-server', 'the client to read the server over TCP');
  await said(clientVm, 'PINGED-SERVER', 'the client to ping the server');
  await said(clientVm, 'OUTSIDE-REACHED', 'the client to reach outside');
  await waitForConsole(serverVm, (text) => highestTick(text) >= 3, 'the server to get the client’s stream');
});

/** What a TCP connection from inside `namespace` (or the root namespace) to address:port reads first, within 5 s. */
async function readFirstLine(namespace: string | undefined, address: string, port: number): Promise<string> {
  const script = `exec 3<>/dev/tcp/${address}/${port} && read -r -t 5 line <&3 && echo "$line"`;
  const cmd = namespace ? ['ip', 'netns', 'exec', namespace, 'timeout', '6', 'bash', '-c', script] : ['timeout', '6', 'bash', '-c', script];
  return (await execa(cmd[0]!, cmd.slice(1), { reject: false })).stdout.trim();
}

test('a published port: the node’s address at the host port reaches the guest, from the node itself (127.0.0.1 too) and from elsewhere', async () => {
  const host = hostOf(serverVm.spec.nodeName!);
  // The guest's listener serves one connection, then starts again: a connection in between is refused.
  const answers = (namespace: string | undefined, address: string, what: string) =>
    waitFor(async () => (await readFirstLine(namespace, address, PUBLISHED_PORT)) === 'hello-from-server', { timeoutMs: 20_000, message: what });
  await answers(host.namespace, host.address, 'the published port to answer from the node itself');
  await answers(host.namespace, '127.0.0.1', 'the published port to answer on the node’s 127.0.0.1');
  await answers(undefined, host.address, 'the published port to answer from outside the node');
  const other = hostOf(clientVm.spec.nodeName!);
  assert.equal(await readFirstLine(undefined, other.address, PUBLISHED_PORT), '', 'not on another node');
});

test('a VM on another tenant’s Network, on the same host as the server: its own gateway answers, the other Network never does, here or across hosts', async () => {
  const serverIp = serverVm.status!.interfaces![0]!.ip;
  const clientIp = clientVm.status!.interfaces![0]!.ip; // on another host
  const gateway = TENANT.cidr.replace(/0\/24$/, '1');
  const probe = await createVm(
    TENANT.namespace,
    'prober',
    TENANT.name,
    'a',
    `for i in $(seq 1 30); do ping -c 1 -W 1 ${gateway} >/dev/null && { echo GATEWAY-OK; break; }; sleep 1; done; ` +
      `for i in 1 2 3; do if nc -w 2 ${serverIp} 7000 </dev/null | grep -q hello; then echo LEAKED; fi; ` +
      `if ping -c 1 -W 1 ${serverIp} >/dev/null; then echo LEAKED-PING; fi; ` +
      `if ping -c 1 -W 1 ${clientIp} >/dev/null; then echo LEAKED-PING-ACROSS-HOSTS; fi; done; echo PROBES-DONE`,
  );
  assert.equal(probe.spec.nodeName, serverVm.spec.nodeName);
  await waitFor(async () => (await consoleOf(probe)).includes('PROBES-DONE'), { ...LONG, message: 'the prober to finish' });
  const text = await consoleOf(probe);
  assert.match(text, /GATEWAY-OK/, 'its own Network works');
  assert.doesNotMatch(text, /LEAKED/, 'nothing of the other Network answered');
});

test('both hosts’ agents killed and restarted: the TCP stream between the guests goes on, on the same connection and the same taps', async () => {
  const tapsBefore = new Map<string, number>();
  for (const vm of [serverVm, clientVm])
    for (const d of await devicesIn(vm.spec.nodeName!)) if (d.name === tapName(vm.metadata.uid!, 0)) tapsBefore.set(d.name, d.ifindex);
  assert.equal(tapsBefore.size, 2, 'each guest’s tap found');

  for (const vm of [serverVm, clientVm]) {
    const node = vm.spec.nodeName!;
    const old = agents.get(node)!;
    await old.kill();
    await startHostAgent(node, old.dataDir);
  }
  const afterRestart = highestTick(await consoleOf(serverVm));
  // The client's nc exits on a broken connection, and the server's accepts one connection only:
  // ticks still arriving are the same connection.
  await waitFor(async () => highestTick(await consoleOf(serverVm)) >= afterRestart + 6, {
    timeoutMs: 30_000,
    message: `the stream to go on past tick-${afterRestart}`,
  });
  for (const vm of [serverVm, clientVm])
    for (const d of await devicesIn(vm.spec.nodeName!)) if (tapsBefore.has(d.name)) assert.equal(d.ifindex, tapsBefore.get(d.name), `${d.name} not made again`);
});

test('a live migration of a VM on a Network: its address and MAC go with it, its TCP stream goes on, its tap moves', async () => {
  const before = await client.get<VirtualMachine>('vm', 'client', { namespace: 'default' });
  const from = before.spec.nodeName!;
  const to = NODES.find((n) => n !== from && n !== serverVm.spec.nodeName)!;
  const tap = tapName(before.metadata.uid!, 0);
  const sent = highestTick(await consoleOf(serverVm));
  await client.create('migration', { metadata: { name: 'move-client' }, spec: { vmName: 'client', targetNode: to } }, { namespace: 'default' });
  await waitForObject(client, 'Migration', 'move-client', (m) => ['Succeeded', 'Failed'].includes(m.status?.phase ?? ''), {
    ...LONG,
    namespace: 'default',
    message: 'the migration to end',
  });
  const after = await client.get<VirtualMachine>('vm', 'client', { namespace: 'default' });
  assert.equal(after.spec.nodeName, to, `moved: ${JSON.stringify((await client.get('migration', 'move-client', { namespace: 'default' })).status)}`);
  assert.deepEqual(after.status?.interfaces, before.status?.interfaces, 'the same address and MAC');
  // The server reads on: the stream's connection outlived the move (nc exits on a broken one).
  await waitForConsole(serverVm, (text) => highestTick(text) >= sent + 10, 'the stream to go on after the move');
  assert.ok(
    (await devicesIn(to)).some((d) => d.name === tap),
    'the tap on the new node',
  );
  await waitFor(async () => !(await devicesIn(from)).some((d) => d.name === tap), { ...LONG, message: 'the tap gone from the old node' });
  clientVm = after;
});

test('a VM that names no Network joins the cluster’s default Network: an address from it, its gateway, outside through its host; shoalctl shows the addresses', async () => {
  await client.create('network', { metadata: { name: CLUSTER_NETWORK.name }, spec: { cidr: DEFAULT_CIDR } }, { namespace: CLUSTER_NETWORK.namespace });
  const outside = topology.bridgeAddress;
  const plain = await createVm(
    'default',
    'plain',
    '',
    'b',
    `for i in $(seq 1 30); do ping -c 1 -W 1 ${outside} >/dev/null && { echo OUTSIDE-REACHED; break; }; sleep 1; done; sleep 100000`,
  );
  const nic = plain.status!.interfaces![0]!;
  assert.equal(nic.network, 'shoal-system/default');
  assert.match(nic.ip, /^10\.95\.0\.\d+$/);
  assert.equal(plain.status?.ip, nic.ip, 'the guest took the default Network’s address');
  await waitForConsole(plain, (text) => text.includes('OUTSIDE-REACHED'), 'the VM on the default Network to reach outside');

  const wide = await shoalctl(['get', 'vms', '-o', 'wide', '--server', cluster.url]);
  assert.equal(wide.exitCode, 0, wide.stderr);
  for (const vm of [serverVm, clientVm, plain])
    assert.match(wide.stdout, new RegExp(`^${vm.metadata.name}\\s.*\\s${vm.status!.interfaces![0]!.ip.replaceAll('.', '\\.')}\\s`, 'm'));
  const described = await shoalctl(['describe', 'vm', 'server', '--server', cluster.url]);
  assert.match(
    described.stdout,
    new RegExp(`eth0 +blue +${serverVm.status!.interfaces![0]!.ip.replaceAll('.', '\\.')}/24 +10\\.90\\.0\\.1 +${serverVm.status!.interfaces![0]!.mac}`),
  );
  const held = (await client.list<IPAddress>('ipaddress', { namespace: CLUSTER_NETWORK.namespace })).items;
  assert.deepEqual(
    held.map((a) => [a.spec.vmNamespace, a.spec.vmName, a.spec.address]),
    [['default', 'plain', nic.ip]],
    'held in the default Network’s namespace, for the VM in its own',
  );
  await client.delete('vm', 'plain', { namespace: 'default' });
  await waitFor(async () => (await client.list<IPAddress>('ipaddress', { namespace: CLUSTER_NETWORK.namespace })).items.length === 0, {
    ...LONG,
    message: 'the default Network’s address given back',
  });
});

test('a VM deleted: its tap goes, and its Network’s bridge, VXLAN device and DHCP on a host it was the last there; its address is given back', async () => {
  const prober = await client.get<VirtualMachine>('vm', 'prober', { namespace: TENANT.namespace });
  const node = prober.spec.nodeName!;
  const bridge = bridgeName(networkKey(TENANT.namespace, TENANT.name));
  assert.ok(
    (await devicesIn(node)).some((d) => d.name === bridge),
    'the tenant Network’s bridge on its host',
  );
  await client.delete('vm', 'prober', { namespace: TENANT.namespace });
  await waitFor(
    async () => {
      const names = (await devicesIn(node)).map((d) => d.name);
      return !names.includes(bridge) && !names.includes(tapName(prober.metadata.uid!, 0));
    },
    { ...LONG, message: 'the prober’s tap and its Network’s devices removed' },
  );
  const names = (await devicesIn(node)).map((d) => d.name);
  assert.ok(names.includes(bridgeName(networkKey('default', BLUE.name))), 'the server’s Network stays');
  assert.ok(names.includes(tapName(serverVm.metadata.uid!, 0)), 'the server’s tap stays');
  assert.equal(names.filter((n) => n.startsWith(TAP_PREFIX)).length, 1, 'no other tap');
  await waitFor(async () => (await execa('pgrep', ['-f', `interface=${bridge}`], { reject: false })).stdout.trim() === '', {
    timeoutMs: 10_000,
    message: 'its DHCP server stopped',
  });
  await waitFor(async () => (await client.list<IPAddress>('ipaddress', { namespace: TENANT.namespace })).items.length === 0, {
    ...LONG,
    message: 'the prober’s address given back',
  });
});
