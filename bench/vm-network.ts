/**
 * VM-to-VM networking across two agents against the same two hosts without VMs, in one run on
 * one machine. Two "hosts" (network namespaces on a datacenter bridge, soak/topology.ts), each
 * with a QEMU agent attaching VMs to Networks; one Network; a server guest on one host and a
 * client guest on the other, so every packet crosses the VXLAN overlay. Measured with the same
 * tools on both sides (busybox nc and ping):
 *
 *   throughput   BENCH_NET_MIB of zeros through one TCP connection, client → server, timed
 *                around the sender (guests: /proc/uptime inside the client; hosts: the wall)
 *   round trip   BENCH_NET_PINGS pings, 0.2 s apart: the average round trip
 *
 * The baseline is the two hosts' namespaces talking directly over their veths; the ratios say
 * what the guests (TCG-emulated here), the taps, the bridges and the overlay cost together.
 * Writes bench/results/vm-network-<time>.json. Asserts nothing.
 *
 * Environment: BENCH_NET_MIB [16], BENCH_NET_ROUNDS [3], BENCH_NET_PINGS [20].
 */
import { pathToFileURL } from 'node:url';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Node, VirtualMachine } from '@shoal/api';
import { killLeftoverVms, startAgent, startCluster, waitFor, waitForObject, type AgentProcess } from '@shoal/testing';
import { createTopology, type Topology } from '../soak/topology.js';
import { stopAgentDhcp } from '../apps/agent/src/network/setup.js';
import { describeMachine, machineAtEnd } from './machine.js';
import { writeResults } from './report.js';
import { summarize } from './stats.js';

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const NODES = ['bench-net-a', 'bench-net-b'];
const ns = { namespace: 'default' };
const PORT = 5001;

const envInt = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  return Number.isInteger(v) && v > 0 ? v : fallback;
};

/** `round-trip min/avg/max = 0.1/0.2/0.3 ms` (busybox ping) → the average. */
function averageRtt(text: string): number | undefined {
  const m = /round-trip min\/avg\/max = [\d.]+\/([\d.]+)\/[\d.]+ ms/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The same transfer and pings between the two hosts' namespaces, no VM involved. */
async function measureHosts(topology: Topology, mib: number, rounds: number, pings: number) {
  const [server, client] = topology.hosts as [Topology['hosts'][0], Topology['hosts'][0]];
  const mibPerSecond: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // The listener's stdin stays open (busybox nc ends a connection when its stdin ends).
    const listener = execa('ip', ['netns', 'exec', server.namespace, 'busybox', 'nc', '-l', '-p', String(PORT)], {
      stdin: 'pipe',
      stdout: 'ignore',
      reject: false,
    });
    await waitFor(async () => (await execa('ip', ['netns', 'exec', server.namespace, 'ss', '-ltn', `sport = :${PORT}`])).stdout.includes(`:${PORT}`), {
      timeoutMs: 10_000,
      message: 'the host listener',
    });
    const started = performance.now();
    await execa('ip', [
      'netns',
      'exec',
      client.namespace,
      'sh',
      '-c',
      `dd if=/dev/zero bs=64k count=${mib * 16} 2>/dev/null | busybox nc ${server.address} ${PORT}`,
    ]);
    mibPerSecond.push(mib / ((performance.now() - started) / 1000));
    listener.kill();
    await listener;
  }
  const ping = await execa('ip', ['netns', 'exec', client.namespace, 'busybox', 'ping', '-c', String(pings), '-i', '0.2', server.address], { reject: false });
  return { mibPerSecond, rttMs: averageRtt(ping.stdout) };
}

async function main(): Promise<void> {
  const mib = envInt('BENCH_NET_MIB', 16);
  const rounds = envInt('BENCH_NET_ROUNDS', 3);
  const pings = envInt('BENCH_NET_PINGS', 20);
  const startedAt = new Date();
  const machine = describeMachine();
  const topology = await createTopology(`b${(process.pid % 0xfffff).toString(16)}`, NODES);
  const cluster = await startCluster({ apiserverArgs: ['--bind', '0.0.0.0'], controllerManager: true });
  const agents: AgentProcess[] = [];
  try {
    const server = `http://${topology.bridgeAddress}:${cluster.apiserver.port}`;
    for (const host of topology.hosts)
      agents.push(
        await startAgent(server, host.nodeName, {
          prefix: topology.inHost(host),
          args: ['--runtime', 'qemu', '--bind', host.address, '--vm-networks', '--overlay-address', host.address, '--stop-vms-on-exit'],
        }),
      );
    await cluster.client.create('network', { metadata: { name: 'bench' }, spec: { cidr: '10.97.0.0/24' } }, ns);

    log(`hosts: ${mib} MiB × ${rounds} and ${pings} pings between the namespaces`);
    const hosts = await measureHosts(topology, mib, rounds, pings);

    log('guests: booting a server and a client on the two hosts');
    const vm = async (name: string, node: string, command: string) => {
      await cluster.client.create('vm', {
        metadata: { name, ...ns },
        spec: {
          resources: { vcpus: 1, memoryMiB: 256 },
          networks: [{ name: 'bench' }],
          nodeSelector: { 'shoal.dev/hostname': node },
          command: ['sh', '-c', command],
        },
      });
      return waitForObject(cluster.client, 'VirtualMachine', name, (v) => v.status?.phase === 'Running' && !!v.status.ip, {
        ...ns,
        timeoutMs: 180_000,
        message: `${name} running`,
      });
    };
    // Its listener's stdin is a FIFO it holds open itself: never an end (busybox nc ends a connection
    // when its stdin ends), and nothing left behind when one connection ends and the next listens.
    const serverVm = await vm('server', NODES[0]!, `mkfifo /tmp/in; exec 3<>/tmp/in; while true; do nc -l -p ${PORT} <&3 >/dev/null; done`);
    const ip = serverVm.status!.ip!;
    const clientVm: VirtualMachine = await vm(
      'client',
      NODES[1]!,
      `until ping -c 1 -W 1 ${ip} >/dev/null; do sleep 1; done; sleep 2; ` +
        `for r in $(seq 1 ${rounds}); do s=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero bs=64k count=${mib * 16} 2>/dev/null | nc ${ip} ${PORT}; ` +
        `e=$(cut -d' ' -f1 /proc/uptime); echo "XFER $s $e"; sleep 1; done; ping -c ${pings} -i 0.2 ${ip} | sed 's/^/PING /'; echo BENCH-DONE`,
    );
    const consoleFile = join(agents[1]!.dataDir, 'vms', clientVm.metadata.uid!, 'serial.log');
    let text = '';
    await waitFor(
      async () => {
        text = await readFile(consoleFile, 'utf8').catch(() => '');
        return text.includes('BENCH-DONE');
      },
      { timeoutMs: 600_000, intervalMs: 1_000, message: 'the guests’ measurements', lastSeen: () => text.slice(-500) },
    );
    const guestMibPerSecond = [...text.matchAll(/XFER ([\d.]+) ([\d.]+)/g)].map((m) => mib / (Number(m[2]) - Number(m[1])));
    const guestRtt = averageRtt(text.replaceAll('PING ', ''));

    const round = (x: number | undefined) => (x === undefined ? null : Math.round(x * 100) / 100);
    const p50 = (xs: number[]) => round(summarize(xs).p50Ms);
    const results = {
      bench: 'vm-network',
      machine: machineAtEnd(machine),
      settings: { mib, rounds, pings, accelerator: (await cluster.client.get<Node>('node', NODES[0]!)).status?.runtime?.accelerator ?? 'unknown' },
      hosts: { mibPerSecond: hosts.mibPerSecond.map(round), p50MibPerSecond: p50(hosts.mibPerSecond), rttMs: round(hosts.rttMs) },
      guests: { mibPerSecond: guestMibPerSecond.map(round), p50MibPerSecond: p50(guestMibPerSecond), rttMs: round(guestRtt) },
      ratios: {
        throughputGuestsOverHosts: round(summarize(guestMibPerSecond).p50Ms / summarize(hosts.mibPerSecond).p50Ms),
        rttGuestsOverHosts: guestRtt && hosts.rttMs ? round(guestRtt / hosts.rttMs) : null,
      },
      definitions: {
        throughput: `${mib} MiB of zeros through one TCP connection (busybox nc), timed around the sender`,
        rtt: `the average of ${pings} busybox pings, 0.2 s apart`,
        hosts: 'the two hosts’ network namespaces over their veths and the datacenter bridge: no VM, no tap, no overlay',
        guests: 'guest on host A → tap → Network bridge → VXLAN → datacenter bridge → VXLAN → bridge → tap → guest on host B',
      },
    };
    log(
      `hosts ${results.hosts.p50MibPerSecond} MiB/s, rtt ${results.hosts.rttMs} ms; guests ${results.guests.p50MibPerSecond} MiB/s, rtt ${results.guests.rttMs} ms`,
    );
    const { file } = await writeResults('vm-network', startedAt, results);
    log(`→ ${file}`);
  } finally {
    for (const a of agents) {
      await a.stop().catch(() => undefined);
      await killLeftoverVms(a.dataDir);
      await stopAgentDhcp(a.dataDir);
      await rm(a.dataDir, { recursive: true, force: true });
    }
    await cluster.stop();
    await topology.teardown();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
