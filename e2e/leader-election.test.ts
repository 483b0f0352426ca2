/**
 * Leader election end to end: a real etcd and apiserver, two real shoal-controller-manager
 * processes with --leader-elect and the default timing (lease 4 s, renew deadline 3 s, retry
 * 0.4 s) and Nodes made through the API. One process schedules, the other stands by; a steady
 * write load does not make any Lease change hands; kill -9 of the leader hands the
 * scheduler over once its Lease expired; SIGTERM hands it over at once because the Lease is
 * released. A watch on every VM event runs the whole time: a VM's spec.nodeName, once set,
 * never changes — no VM is bound twice, whoever leads.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { nodeOptionsOf, type Condition, type Lease, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { commandLine, nodeFlagsBefore, startCluster, waitFor, type TestCluster, type ShoalProcess } from '@shoal/testing';
import { CONTROLLER_NAMES } from '../apps/controller-manager/src/controllers.js';

/** The defaults (DEFAULT_ELECTION_TIMING): what an operator gets with --leader-elect alone. */
const LEASE_S = 4;
const RETRY_S = 0.4;
const FLAGS = ['--leader-elect'];
/** Every controller: each leads through a Lease of its own. */
const CONTROLLERS = CONTROLLER_NAMES;
const LEASE = 'shoal-controller-manager-scheduler';

interface Manager {
  proc: ShoalProcess;
  identity: string;
  base: string;
  gone?: boolean;
}

let cp: TestCluster;
let client: ShoalClient;
const managers: Manager[] = [];
const watching = new AbortController();
let watchDone: Promise<void>;
/** Every VM's nodeName as first seen bound, and every later event that disagreed. */
const boundTo = new Map<string, string>();
const rebinds: string[] = [];
let vmEvents = 0;
let vmCount = 0;

before(async () => {
  cp = await startCluster();
  client = cp.client;
  for (const name of ['le-node-1', 'le-node-2', 'le-node-3']) await addNode(name);
  const list = await client.list<VirtualMachine>('vm');
  watchDone = (async () => {
    try {
      for await (const e of client.watch<VirtualMachine>('vm', { resourceVersion: list.metadata.resourceVersion }, watching.signal)) {
        if (e.type === 'BOOKMARK' || e.type === 'ERROR') continue;
        vmEvents++;
        const vm = e.object;
        const name = vm.metadata.name!;
        const node = vm.spec?.nodeName;
        const first = boundTo.get(name);
        if (first === undefined && node) boundTo.set(name, node);
        else if (first !== undefined && node !== first && e.type !== 'DELETED')
          rebinds.push(`${name}: ${first} → ${node ?? '(unbound)'} (${e.type} at ${vm.metadata.resourceVersion})`);
      }
    } catch (err) {
      if (!watching.signal.aborted) rebinds.push(`the VM watch failed: ${(err as Error).message}`);
    }
  })();
  const [a, b] = await Promise.all([startManager(), startManager()]);
  managers.push(a!, b!);
});

after(async () => {
  watching.abort();
  await watchDone;
  await cp?.stop();
});

async function addNode(name: string): Promise<void> {
  await client.create('node', { metadata: { name }, spec: { unschedulable: false } });
  const room = { vcpus: 64, memoryMiB: 65_536 };
  const ready: Condition = { type: 'Ready', status: 'True', reason: 'AgentReady', lastTransitionTime: new Date().toISOString() };
  await client.patch('node', name, { status: { capacity: room, allocatable: room, conditions: [ready] } }, { type: 'merge', status: true });
}

async function startManager(): Promise<Manager> {
  const proc = await cp.startControllerManager({ args: ['--log-level', 'info', ...FLAGS] });
  const base = /ready on (http:\/\/\S+)/.exec(proc.readyLine)![1]!;
  // The default identity, <hostname>_<random>, from the process's own log line.
  const identity = await waitFor(() => logLines(proc).find((l) => l.msg === 'leader election on')?.identity as string | undefined, {
    timeoutMs: 5000,
    message: 'the "leader election on" log line',
  });
  return { proc, identity, base };
}

function logLines(proc: ShoalProcess): Record<string, unknown>[] {
  return proc
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

const getLease = () => client.get<Lease>('lease', LEASE, { namespace: 'shoal-system' });

async function leader(): Promise<{ leader: Manager; standby: Manager; lease: Lease }> {
  const alive = managers.filter((m) => !m.gone);
  return waitFor(
    async () => {
      const lease = await getLease();
      const l = alive.find((m) => m.identity === lease.spec?.holderIdentity);
      return l ? { leader: l, standby: alive.find((m) => m !== l)!, lease } : undefined;
    },
    { timeoutMs: 10_000, message: 'one of the two controller-managers to hold the scheduler Lease' },
  );
}

async function metric(m: Manager, pattern: RegExp): Promise<string | undefined> {
  const text = await (await fetch(`${m.base}/metrics`)).text();
  return pattern.exec(text)?.[1];
}

async function createVms(prefix: string, n: number): Promise<string[]> {
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await Promise.all(names.map((name) => client.create('vm', { metadata: { name, namespace: 'default' }, spec: { resources: { vcpus: 1, memoryMiB: 128 } } })));
  vmCount += n;
  return names;
}

async function allBound(names: string[], timeoutMs = 10_000): Promise<void> {
  await waitFor(
    async () => {
      const vms = (await client.list<VirtualMachine>('vm', { namespace: 'default' })).items.filter((v) => names.includes(v.metadata.name!));
      return vms.length === names.length && vms.every((v) => v.spec.nodeName);
    },
    { timeoutMs, message: `${names.length} VMs (${names[0]}…) to be bound` },
  );
}

test('one of two controller-managers leads the scheduler and binds every VM; the standby is ready and reconciles nothing', async () => {
  const { leader: l, standby, lease } = await leader();
  for (const m of [l, standby])
    assert.ok(m.identity.startsWith(`${hostname()}_`) && /_[0-9a-f-]{36}$/.test(m.identity), `identity ${m.identity} is <hostname>_<uuid>`);
  assert.notEqual(l.identity, standby.identity);
  assert.equal(lease.spec?.leaseDurationSeconds, LEASE_S);
  // Started as its bin line starts it: node gets the controller-manager's flags (a larger young generation) before the script.
  assert.ok(nodeOptionsOf('shoal-controller-manager').length > 0);
  for (const m of [l, standby]) {
    const argv = (await commandLine(m.proc.pid)) ?? [];
    assert.deepEqual(nodeFlagsBefore(argv, 'shoal-controller-manager'), [...nodeOptionsOf('shoal-controller-manager')], argv.join(' '));
  }
  const vms = await createVms('first', 12);
  await allBound(vms);
  assert.equal(await metric(l, /^shoal_leader_is_leader\{controller="scheduler"\} (\d)$/m), '1');
  assert.equal(await metric(standby, /^shoal_leader_is_leader\{controller="scheduler"\} (\d)$/m), '0');
  assert.equal((await fetch(`${standby.base}/readyz`)).status, 200, 'a standby is ready: healthy, just not leading');
  assert.equal(await metric(standby, /^(shoal_controller_reconcile_total\{controller="scheduler").*$/m), undefined, 'the standby never reconciled');
  assert.ok(logLines(l.proc).some((x) => x.msg === 'acquired leadership' && x.controller === 'scheduler'));
  // Said when the standby first reads the leader's Lease; a standby that led for a moment under
  // load says it once its next campaign reads the Lease (it retries every 0.5 s).
  await waitFor(() => logLines(standby.proc).some((x) => x.msg === 'another candidate leads; standing by' && x.holder === l.identity), {
    timeoutMs: 10_000,
    message: `the standby to say ${l.identity} leads`,
  });
  assert.deepEqual(rebinds, []);
});

test('under a steady write load no Lease changes hands: the leader renews in time, nothing flaps', async (t) => {
  const leases = async () => Promise.all(CONTROLLERS.map((c) => client.get<Lease>('lease', `shoal-controller-manager-${c}`, { namespace: 'shoal-system' })));
  const before = await leases();
  // 32 writers patching VMs back to back for 15 s: the apiserver and etcd busy on both cores.
  const names = await createVms('load', 32);
  const until = Date.now() + 15_000;
  let writes = 0;
  await Promise.all(
    names.map(async (name, i) => {
      for (let n = 0; Date.now() < until; n++) {
        await client.patch('vm', name, { metadata: { labels: { beat: String(n) } } }, { type: 'merge', namespace: 'default' });
        writes++;
      }
      return i;
    }),
  );
  const after = await leases();
  t.diagnostic(`${writes} writes in 15 s while the leader renewed ${CONTROLLERS.length} Leases`);
  for (const [i, c] of CONTROLLERS.entries()) {
    assert.equal(after[i]!.spec.holderIdentity, before[i]!.spec.holderIdentity, `${c}: the same leader`);
    assert.equal(after[i]!.spec.leaseTransitions ?? 0, before[i]!.spec.leaseTransitions ?? 0, `${c}: no transition`);
    assert.ok(Date.parse(after[i]!.spec.renewTime!) > Date.parse(before[i]!.spec.renewTime!), `${c}: renewed meanwhile`);
  }
  for (const m of managers)
    assert.ok(!logLines(m.proc).some((x) => x.msg === 'leadership lost; stopping the controller and standing by'), 'nobody lost leadership');
  await allBound(names);
});

test('kill -9 of the leader: the standby takes over once the Lease expired, within the lease duration, and binds new VMs', async (t) => {
  const { leader: l, standby } = await leader();
  // Keep the last record the leader wrote, as anyone could read it, until somebody else holds it.
  let lastByLeader = await getLease();
  await l.proc.kill();
  l.gone = true;
  const killedAt = Date.now();
  const taken = await waitFor(
    async () => {
      const lease = await getLease();
      if (lease.spec?.holderIdentity === l.identity) lastByLeader = lease;
      return lease.spec?.holderIdentity === standby.identity ? lease : undefined;
    },
    { timeoutMs: (LEASE_S + 4 * RETRY_S) * 1000, intervalMs: 20, message: 'the standby to take the scheduler Lease' },
  );
  const takeoverMs = Date.now() - killedAt;
  const quietMs = Date.parse(taken.spec!.acquireTime!) - Date.parse(lastByLeader.spec!.renewTime!);
  t.diagnostic(`took over ${takeoverMs} ms after kill -9, ${quietMs} ms after the dead leader's last renewal`);
  assert.ok(quietMs >= LEASE_S * 1000, `the standby waited for expiry: ${quietMs} ms after the last renewal`);
  // Expiry, then at most two attempts a (jittered) retry period apart; a second of slack for a loaded host.
  assert.ok(takeoverMs <= (LEASE_S + 2 * 1.2 * RETRY_S) * 1000 + 1000, `took over ${takeoverMs} ms after the kill`);
  assert.equal(taken.spec?.leaseTransitions, (lastByLeader.spec?.leaseTransitions ?? 0) + 1);
  assert.equal(await metric(standby, /^shoal_leader_is_leader\{controller="scheduler"\} (\d)$/m), '1');
  const vms = await createVms('after-kill', 8);
  await allBound(vms);
  // The next standby, for the clean handover below.
  managers.push(await startManager());
  assert.deepEqual(rebinds, []);
});

test('SIGTERM of the leader releases its Lease: the standby takes over within about a retry period, and binds new VMs', async (t) => {
  const { leader: l, standby } = await leader();
  // VMs arriving while the leader stops: whoever binds them, each is bound once.
  const during = createVms('during-handover', 8);
  const stoppingAt = Date.now();
  const stopped = l.proc.stop();
  l.gone = true;
  const taken = await waitFor(async () => ((await getLease()).spec?.holderIdentity === standby.identity ? Date.now() : undefined), {
    timeoutMs: LEASE_S * 1000,
    intervalMs: 20,
    message: 'the standby to take the released Lease',
  });
  t.diagnostic(`took over ${taken - stoppingAt} ms after SIGTERM`);
  assert.ok(taken - stoppingAt < 2500, `handed over ${taken - stoppingAt} ms after SIGTERM (the lease lasts ${LEASE_S} s)`);
  await stopped;
  assert.deepEqual(await l.proc.exited, { exitCode: 0, signal: undefined });
  assert.ok(logLines(l.proc).some((x) => x.msg === 'released the leader lease' && x.controller === 'scheduler'));
  await allBound(await during);
  await allBound(await createVms('after-sigterm', 8));
});

test('through every handover, each VM was bound exactly once', async () => {
  await waitFor(() => boundTo.size === vmCount, { timeoutMs: 5000, message: `the watch to have seen all ${vmCount} VMs bound` });
  assert.deepEqual(rebinds, []);
  assert.ok(vmEvents >= 2 * vmCount, `the watch saw creations and bindings (${vmEvents} events)`);
  const vms = (await client.list<VirtualMachine>('vm', { namespace: 'default' })).items;
  for (const vm of vms) assert.equal(vm.spec.nodeName, boundTo.get(vm.metadata.name!), vm.metadata.name);
});
