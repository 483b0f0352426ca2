/**
 * One owner per status field, proven on a running cluster (the README's table of status owners).
 *
 * A secured cluster as `shoal up` runs it — each controller under its own identity
 * (--controller-tokens-dir), each agent as its node, every write in the audit log — goes through
 * a VM's whole life: created, unschedulable, bound, run, preempted (evicted and unbound by its
 * agent), rescued from a lost node (unbound by the health controller), bound again. A watch sees
 * every version of every VM and Node; the audit log says who wrote each one. Each version's
 * status is compared with the one before it, and every field or condition that changed must
 * belong to its writer — or to the apiserver's own rules, for a create or an unbind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEntry, Condition, KubeObject, VirtualMachine, WatchEvent } from '@shoal/api';
import { readAuditLog, startCluster, waitFor, waitForObject, type AgentProcess, type TestCluster } from '@shoal/testing';
import { CONTROLLER_NAMES } from '../apps/controller-manager/src/controllers.js';

/** Every controller, each under its own identity. */
const CONTROLLERS = CONTROLLER_NAMES;
const NODES = ['own-a', 'own-b'];
const ADMIN = 'admin-token';
const tokenOf = (who: string) => `${who}-token`;

/** What each writer may change in a VM's status: top-level fields and condition types. */
interface Owned {
  fields: readonly string[];
  conditions: readonly string[];
}

/** What the node agent reports about its guest while the VM is bound to its node. */
const AGENT: Owned = {
  fields: ['phase', 'nodeName', 'ip', 'pid', 'bootedAt', 'restarts', 'nextRestartAt', 'reason', 'message', 'observedGeneration'],
  conditions: ['Ready'],
};
const VM_OWNERS: Record<string, Owned> = {
  'system:shoal:scheduler': { fields: [], conditions: ['Scheduled'] },
  'system:shoal:preemptor': { fields: ['preemptedBy', 'nominatedNodeName'], conditions: [] },
  'system:shoal:health': { fields: [], conditions: [] },
  'system:shoal:network': { fields: ['interfaces'], conditions: ['NetworksReady'] },
  admin: { fields: [], conditions: [] },
};
/** The binding subresource: the Scheduled condition, and the nomination it uses up. */
const BINDING: Owned = { fields: ['nominatedNodeName'], conditions: ['Scheduled'] };
/** The apiserver, when an update takes spec.nodeName away: what the node reported goes, the VM is Pending, with the eviction's reason. */
const UNBIND: Owned = { fields: ['phase', 'nodeName', 'ip', 'pid', 'bootedAt', 'reason', 'message'], conditions: ['Ready', 'Scheduled'] };
/** Node status: the agent reports what the host offers; the health controller says whether it is Ready. */
const NODE_AGENT: Owned = { fields: ['capacity', 'allocatable', 'agentAddress', 'runtime', 'fencing', 'images'], conditions: [] };
const NODE_OWNERS: Record<string, Owned> = { 'system:shoal:health': { fields: [], conditions: ['Ready'] }, admin: { fields: [], conditions: [] } };

let cluster: TestCluster;
let dir: string;
const agents = new Map<string, AgentProcess>();
const versions: WatchEvent<KubeObject>[] = [];
const stopWatches = new AbortController();
/** The verdict on every version, once the life of the first test has run. */
let checked: Checked | undefined;
let watching: Promise<void>[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-ownership-'));
  const tokensDir = join(dir, 'controller-tokens');
  await mkdir(tokensDir, { mode: 0o700 });
  const lines = [`${ADMIN},admin,1,system:masters`];
  CONTROLLERS.forEach((c, i) => lines.push(`${tokenOf(c)},system:shoal:${c},${10 + i},`));
  NODES.forEach((n, i) => lines.push(`${tokenOf(n)},system:node:${n},${20 + i},system:nodes`));
  await writeFile(join(dir, 'tokens.csv'), `${lines.join('\n')}\n`);
  for (const c of CONTROLLERS) await writeFile(join(tokensDir, `${c}.token`), `${tokenOf(c)}\n`, { mode: 0o600 });

  cluster = await startCluster({
    apiserverArgs: ['--token-auth-file', join(dir, 'tokens.csv'), '--authorization-mode', 'Node,RBAC', '--audit-log-path', join(dir, 'audit.log')],
    client: { token: ADMIN },
  });
  // Every version from the start: a watch from the revision before anything was created.
  const from = (await cluster.client.list('vm')).metadata.resourceVersion!;
  watching = (['vm', 'node'] as const).map(async (kind) => {
    try {
      for await (const e of cluster.client.watch(kind, { resourceVersion: from }, stopWatches.signal)) versions.push(e);
    } catch (err) {
      if (!stopWatches.signal.aborted) throw err;
    }
  });
  await cluster.startControllerManager({ args: ['--controller-tokens-dir', tokensDir] });
  // Side by side: each agent start is seconds of loading.
  const started = await Promise.all(
    NODES.map((n) =>
      cluster.startAgent(n, {
        args: ['--runtime', 'simulated', '--token', tokenOf(n), '--vcpus', '2', '--memory-mib', '4096', '--lease-duration', '2', '--fence-timeout', '2'],
      }),
    ),
  );
  for (const [i, agent] of started.entries()) agents.set(NODES[i]!, agent);
});

after(async () => {
  stopWatches.abort();
  await Promise.allSettled(watching);
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const vmSpec = (vcpus: number, extra: object = {}) => ({ resources: { vcpus, memoryMiB: 128 }, ...extra });
const running = (name: string, where?: (vm: VirtualMachine) => boolean) =>
  waitForObject(cluster.client, 'VirtualMachine', name, (vm) => vm.status?.phase === 'Running' && (!where || where(vm)), {
    namespace: 'default',
    timeoutMs: 30_000,
    message: 'Running',
  });

test('a VM lives through scheduling, preemption and a lost node; every status write is its writer’s own', async () => {
  const { client } = cluster;
  await client.create('priorityclass', { metadata: { name: 'low' }, spec: { value: 100, evictionGracePeriodSeconds: 0 } });
  await client.create('priorityclass', { metadata: { name: 'high' }, spec: { value: 900 } });

  // Unschedulable: the scheduler's condition.
  await client.create('vm', { metadata: { name: 'too-big' }, spec: vmSpec(64) });
  await waitForObject(
    client,
    'VirtualMachine',
    'too-big',
    (vm) => vm.status?.conditions?.some((c) => c.type === 'Scheduled' && c.reason === 'Unschedulable') ?? false,
    {
      namespace: 'default',
      message: 'Unschedulable',
    },
  );

  // Four low-priority VMs fill both nodes (2 vCPUs each); a high-priority one preempts two of them.
  for (const name of ['low-1', 'low-2', 'low-3', 'low-4']) await client.create('vm', { metadata: { name }, spec: vmSpec(1, { priorityClassName: 'low' }) });
  for (const name of ['low-1', 'low-2', 'low-3', 'low-4']) await running(name);
  await client.create('vm', { metadata: { name: 'boss' }, spec: vmSpec(2, { priorityClassName: 'high' }) });
  const boss = await running('boss');
  const victims = (await client.list<VirtualMachine>('vm', { namespace: 'default' })).items.filter((vm) => vm.status?.preemptedBy === 'default/boss');
  assert.equal(victims.length, 2, 'two low VMs made room for boss');

  // The node without boss is lost: its VMs are unbound by the health controller and have no room left to go to.
  const lost = NODES.find((n) => n !== boss.spec.nodeName)!;
  const onLost = (await client.list<VirtualMachine>('vm', { namespace: 'default' })).items
    .filter((vm) => vm.spec.nodeName === lost)
    .map((vm) => vm.metadata.name!);
  assert.ok(onLost.length > 0, `some VM runs on ${lost}`);
  await agents.get(lost)!.kill();
  for (const name of onLost)
    await waitForObject(client, 'VirtualMachine', name, (vm) => vm.status?.reason === 'NodeLost' && vm.spec.nodeName !== lost, {
      namespace: 'default',
      timeoutMs: 30_000,
      message: `moved off ${lost}`,
    });

  // Every version seen so far, judged once the audit log has caught up with them.
  const seen = versions.slice();
  const log = await waitForAudit(seen);
  checked = checkOwnership(seen, log);
});

/** Each writer of the README's table, as checkOwnership names it. */
const WRITERS: [who: string, writer: string][] = [
  ['the apiserver, creating a VM', 'create'],
  ['a node agent, reporting on the VMs bound to its node', 'agent'],
  ['the scheduler, through the binding subresource', 'binding'],
  ['the scheduler, saying a VM fits nowhere', 'system:shoal:scheduler'],
  ['the preemptor', 'system:shoal:preemptor'],
  ['a node agent unbinding an evicted VM (with the apiserver’s unbind rule)', 'unbind by system:node'],
  ['the health controller unbinding the VMs of a lost node (with the apiserver’s unbind rule)', 'unbind by system:shoal:health'],
  ['a node agent, reporting on its Node', 'node agent'],
  ['the health controller, saying whether a Node is Ready', 'node system:shoal:health'],
];

for (const [who, writer] of WRITERS) {
  test(`${who} wrote, and changed only status it owns`, () => {
    assert.ok(checked, 'the life above ran');
    // The writer did write, so its check is not empty.
    assert.ok(checked.writers.has(writer), `no write by ${writer} was seen (writers: ${[...checked.writers].join(', ')})`);
    assert.deepEqual(checked.violations.get(writer) ?? [], []);
  });
}

test('every version of every VM and Node was written by someone the audit log names, and every writer is in the table', () => {
  assert.ok(checked, 'the life above ran');
  assert.deepEqual(checked.violations.get('unknown') ?? [], []);
  const known = new Set(WRITERS.map(([, writer]) => writer));
  assert.deepEqual(
    [...checked.writers].filter((w) => !known.has(w)),
    [],
    'a writer the table does not name',
  );
});

const audit = () => readAuditLog(join(dir, 'audit.log'));

/** The version before each one, by object uid, in the order etcd wrote them. */
function previousVersions(seen: WatchEvent<KubeObject>[]): Map<WatchEvent<KubeObject>, KubeObject | undefined> {
  const last = new Map<string, KubeObject>();
  const prev = new Map<WatchEvent<KubeObject>, KubeObject | undefined>();
  for (const v of seen) {
    const uid = v.object.metadata.uid!;
    prev.set(v, last.get(uid));
    last.set(uid, v.object);
  }
  return prev;
}

/** One version of one object: objects written in one etcd transaction share a resourceVersion, so it names the object too. */
const PLURAL: Record<string, string> = { VirtualMachine: 'virtualmachines', Node: 'nodes' };
const versionOf = (resource: string | undefined, name: string | undefined, resourceVersion: string | undefined) => `${resource}/${name}@${resourceVersion}`;
const versionOfObject = (obj: KubeObject) => versionOf(PLURAL[obj.kind!], obj.metadata.name, obj.metadata.resourceVersion);

/** A version that bound the VM (the binding subresource answers a Status, so its audit line has no resourceVersion). */
function binds(v: WatchEvent<KubeObject>, prev: KubeObject | undefined): boolean {
  return v.object.kind === 'VirtualMachine' && !!prev && !(prev as VirtualMachine).spec.nodeName && !!(v.object as VirtualMachine).spec.nodeName;
}

/** The audit log once it has a line for every version (its lines are appended a moment after each answer). */
async function waitForAudit(seen: WatchEvent<KubeObject>[]): Promise<AuditEntry[]> {
  const prevOf = previousVersions(seen);
  const modified = seen.filter((v) => v.type === 'MODIFIED');
  const wanted = modified.filter((v) => !binds(v, prevOf.get(v))).map((v) => versionOfObject(v.object));
  const bound = modified.length - wanted.length;
  return waitFor(
    async () => {
      const lines = await audit();
      const have = new Set(lines.map((l) => versionOf(l.resource, l.name, l.resourceVersion)));
      const bindings = lines.filter((l) => l.subresource === 'binding' && l.code === 201).length;
      return wanted.every((rv) => have.has(rv)) && bindings >= bound ? lines : undefined;
    },
    { timeoutMs: 10_000, message: 'every version in the audit log' },
  );
}

/** Top-level status fields and condition types that differ between two statuses. */
function changes(before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined): { fields: string[]; conditions: string[] } {
  const b = before ?? {};
  const a = after ?? {};
  const fields = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => k !== 'conditions' && JSON.stringify(b[k]) !== JSON.stringify(a[k]));
  const byType = (s: Record<string, unknown>) => new Map(((s.conditions as Condition[] | undefined) ?? []).map((c) => [c.type, JSON.stringify(c)]));
  const bc = byType(b);
  const ac = byType(a);
  const conditions = [...new Set([...bc.keys(), ...ac.keys()])].filter((t) => bc.get(t) !== ac.get(t));
  return { fields, conditions };
}

function outside(changed: { fields: string[]; conditions: string[] }, ...owned: Owned[]): string[] {
  return [
    ...changed.fields.filter((f) => !owned.some((o) => o.fields.includes(f))).map((f) => `status.${f}`),
    ...changed.conditions.filter((t) => !owned.some((o) => o.conditions.includes(t))).map((t) => `condition ${t}`),
  ];
}

/** Judges every version against the table; answers the writers seen and every violation. */
interface Checked {
  /** Every writer seen (the names WRITERS uses). */
  writers: Set<string>;
  /** What each writer changed that is not its own; 'unknown' for a version no audited write produced. */
  violations: Map<string, string[]>;
}

function checkOwnership(seen: WatchEvent<KubeObject>[], log: AuditEntry[]): Checked {
  const writers = new Set<string>();
  const violations = new Map<string, string[]>();
  const flag = (writer: string, message: string) => violations.set(writer, [...(violations.get(writer) ?? []), message]);
  const prevOf = previousVersions(seen);
  for (const v of seen) {
    if (v.type !== 'ADDED' && v.type !== 'MODIFIED') continue;
    const obj = v.object;
    const prev = prevOf.get(v);
    const what = `${obj.kind} ${obj.metadata.name} at ${obj.metadata.resourceVersion}`;
    const changed = changes(prev?.status as Record<string, unknown> | undefined, obj.status as Record<string, unknown> | undefined);
    if (!prev) {
      // A create: the apiserver's Pending for a VM; a Node starts with no status.
      writers.add('create');
      const allowed = obj.kind === 'VirtualMachine' ? [{ fields: ['phase'], conditions: [] }] : [];
      for (const bad of outside(changed, ...allowed)) flag('create', `${what}: ${bad} set at creation`);
      continue;
    }
    if (!changed.fields.length && !changed.conditions.length) continue;
    if (binds(v, prev)) {
      writers.add('binding');
      const bound = log.some((l) => l.subresource === 'binding' && l.name === obj.metadata.name && l.user === 'system:shoal:scheduler' && l.code === 201);
      if (!bound) flag('binding', `${what}: bound, but not by the scheduler's binding`);
      for (const bad of outside(changed, BINDING)) flag('binding', `${what}: the bind changed ${bad}`);
      continue;
    }
    const authors = log.filter((l) => versionOf(l.resource, l.name, l.resourceVersion) === versionOfObject(obj) && l.code < 300);
    if (!authors.length) {
      flag('unknown', `${what}: no audited write produced it`);
      continue;
    }
    // A write that changes nothing answers the version it found, so one version can have several
    // audited writes: its author is one whose rights cover what changed (a VM's; the other writes
    // changed nothing), else the one audited first — which is then flagged.
    const ownedBy = (user: string): Owned[] =>
      obj.kind === 'Node' ? [] : user.startsWith('system:node:') ? [AGENT] : VM_OWNERS[user] ? [VM_OWNERS[user]!] : [];
    const byTime = authors.sort((x, y) => x.time.localeCompare(y.time));
    const author = (obj.kind === 'VirtualMachine' && byTime.find((a) => outside(changed, ...ownedBy(a.user)).length === 0)) || byTime[0]!;
    const isNode = author.user.startsWith('system:node:');
    if (obj.kind === 'Node') {
      const own = isNode ? [NODE_AGENT] : NODE_OWNERS[author.user] ? [NODE_OWNERS[author.user]!] : [];
      const writer = `node ${isNode ? 'agent' : author.user}`;
      writers.add(writer);
      if (isNode && author.user !== `system:node:${obj.metadata.name}`) flag(writer, `${what}: written by ${author.user}`);
      for (const bad of outside(changed, ...own)) flag(writer, `${what}: ${author.user} changed ${bad}`);
      continue;
    }
    const vm = obj as VirtualMachine;
    const unbound = !!(prev as VirtualMachine).spec.nodeName && !vm.spec.nodeName;
    const own = isNode ? [AGENT] : VM_OWNERS[author.user] ? [VM_OWNERS[author.user]!] : [];
    const writer = unbound ? `unbind by ${isNode ? 'system:node' : author.user}` : isNode ? 'agent' : author.user;
    writers.add(writer);
    if (isNode && (prev as VirtualMachine).spec.nodeName !== author.user.slice('system:node:'.length))
      flag(writer, `${what}: written by ${author.user}, not the node it is bound to`);
    for (const bad of outside(changed, ...own, ...(unbound ? [UNBIND] : []))) flag(writer, `${what}: ${author.user} changed ${bad}`);
  }
  return { writers, violations };
}
