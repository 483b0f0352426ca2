/**
 * A cluster with authentication and Node,RBAC authorization on, as `shoal up` runs it: the
 * apiserver over HTTPS with a static token file, the controller-manager as
 * system:shoal-controller-manager (bootstrap RBAC only), a simulated agent as system:node:<name>
 * (the Node mode only). Checks the Node mode request by request, then that the real processes
 * schedule and run a VM with nothing more than that; then the controller-manager again with one
 * token per controller (--controller-tokens-dir, system:shoal:<controller>, as `shoal up` runs
 * it): scheduling, a node going NotReady, preemption, quota status and the deletion of a
 * namespace's contents work, and each controller's token is refused what the others do; then
 * stock kubectl with a kubeconfig.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import type { Lease, Node, ResourceQuota, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { makeServerCertificates, securedApiserverArgs, startCluster, waitFor, waitForObject, type TestCertificates, type TestCluster } from '@shoal/testing';

const V = '/apis/shoal.dev/v1alpha1';
const TOKENS = {
  admin: 'admin-token',
  alice: 'alice-token',
  cm: 'controller-manager-token',
  nodeA: 'node-a-token',
  nodeSim: 'node-sim-token',
  scheduler: 'scheduler-token',
  health: 'health-token',
  preemptor: 'preemptor-token',
  namespace: 'namespace-token',
  resourcequota: 'resourcequota-token',
  volume: 'volume-token',
  migration: 'migration-token',
  evacuation: 'evacuation-token',
  network: 'network-token',
  image: 'image-token',
  'backup-schedule': 'backup-schedule-token',
  backup: 'backup-token',
  restore: 'restore-token',
  gitrepository: 'gitrepository-token',
  gitsync: 'gitsync-token',
};

let cluster: TestCluster;
let certs: TestCertificates;
let url: string;
let trusting: Agent;
let admin: ShoalClient;

async function call(
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: any }> {
  const res = await request(`${url}${path}`, {
    method: method as 'GET',
    dispatcher: trusting,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': contentType } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  try {
    return { status: res.statusCode, body: JSON.parse(text) };
  } catch {
    return { status: res.statusCode, body: text };
  }
}

const asNodeA = (method: string, path: string, body?: unknown) =>
  call(TOKENS.nodeA, method, path, body, method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');

before(async () => {
  certs = await makeServerCertificates();
  const tokenFile = join(certs.dir, 'tokens.csv');
  await writeFile(
    tokenFile,
    [
      `${TOKENS.admin},admin,1,system:masters`,
      `${TOKENS.alice},alice,2,`,
      `${TOKENS.cm},system:shoal-controller-manager,3,`,
      `${TOKENS.nodeA},system:node:node-a,4,system:nodes`,
      `${TOKENS.nodeSim},system:node:node-sim,5,system:nodes`,
      `${TOKENS.scheduler},system:shoal:scheduler,6,`,
      `${TOKENS.health},system:shoal:health,7,`,
      `${TOKENS.preemptor},system:shoal:preemptor,8,`,
      `${TOKENS.namespace},system:shoal:namespace,9,`,
      `${TOKENS.resourcequota},system:shoal:resourcequota,10,`,
      `${TOKENS.volume},system:shoal:volume,11,`,
      `${TOKENS.migration},system:shoal:migration,12,`,
      `${TOKENS.evacuation},system:shoal:evacuation,13,`,
      `${TOKENS.network},system:shoal:network,14,`,
      `${TOKENS.image},system:shoal:image,15,`,
      `${TOKENS['backup-schedule']},system:shoal:backup-schedule,16,`,
      `${TOKENS.backup},system:shoal:backup,17,`,
      `${TOKENS.restore},system:shoal:restore,18,`,
      `${TOKENS.gitrepository},system:shoal:gitrepository,19,`,
      `${TOKENS.gitsync},system:shoal:gitsync,20,`,
    ].join('\n'),
  );
  cluster = await startCluster({
    apiserverArgs: securedApiserverArgs(certs, tokenFile),
    client: { caFile: certs.caFile, token: TOKENS.admin },
  });
  url = cluster.url;
  trusting = new Agent({ connect: { ca: await readFile(certs.caFile) } });
  admin = cluster.client;
  // Both VMs the controller-manager runs here are this class: equal priority (neither preempts
  // the other once evicted) and no eviction grace (a victim stops at once).
  await admin.create('priorityclass', { metadata: { name: 'low' }, spec: { value: 100, evictionGracePeriodSeconds: 0 } });
  await admin.create('priorityclass', { metadata: { name: 'critical' }, spec: { value: 900 } });
});

after(async () => {
  await cluster?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

test('Node mode: a node registers and updates only its own Node and Lease, and reads every Node and Network', async () => {
  const created = await asNodeA('POST', `${V}/nodes`, { metadata: { name: 'node-a' }, spec: {} });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const other = await asNodeA('POST', `${V}/nodes`, { metadata: { name: 'node-b' }, spec: {} });
  assert.equal(other.status, 403);
  assert.match(
    other.body.message,
    /User "system:node:node-a" cannot create resource "nodes" in API group "shoal.dev" at the cluster scope: node "node-a" may read Nodes, and create, update and patch only its own/,
  );
  await admin.create('node', { metadata: { name: 'node-b' }, spec: {} });

  assert.equal((await asNodeA('PATCH', `${V}/nodes/node-a/status`, { status: { agentAddress: 'http://127.0.0.1:1' } })).status, 200);
  assert.equal((await asNodeA('PATCH', `${V}/nodes/node-a`, { metadata: { labels: { a: 'b' } } })).status, 200);
  assert.equal((await asNodeA('GET', `${V}/nodes/node-a`)).status, 200);
  assert.equal((await asNodeA('PATCH', `${V}/nodes/node-b/status`, { status: { agentAddress: 'x' } })).status, 403);
  // Every Node and Network may be read (where its VMs' Networks reach the other nodes), none written.
  assert.equal((await asNodeA('GET', `${V}/nodes`)).status, 200, 'it lists the Nodes');
  assert.equal((await asNodeA('GET', `${V}/nodes/node-b`)).status, 200);
  assert.equal((await asNodeA('GET', `${V}/networks`)).status, 200, 'it lists the Networks');
  assert.equal((await asNodeA('POST', `${V}/namespaces/default/networks`, { metadata: { name: 'n' }, spec: { cidr: '10.9.0.0/24' } })).status, 403);
  assert.equal((await asNodeA('DELETE', `${V}/nodes/node-a`)).status, 403, 'not even its own');

  const lease = (name: string) => ({ metadata: { name }, spec: { holderIdentity: name, leaseDurationSeconds: 40 } });
  assert.equal((await asNodeA('POST', `${V}/namespaces/shoal-node-lease/leases`, lease('node-a'))).status, 201);
  assert.equal((await asNodeA('PATCH', `${V}/namespaces/shoal-node-lease/leases/node-a`, { spec: { renewTime: new Date().toISOString() } })).status, 200);
  assert.equal((await asNodeA('POST', `${V}/namespaces/shoal-node-lease/leases`, lease('node-b'))).status, 403);
  assert.equal((await asNodeA('POST', `${V}/namespaces/shoal-system/leases`, lease('node-a'))).status, 403, 'only in shoal-node-lease');
});

test('Node mode: a node changes only VMs bound to it, lists them only by its own spec.nodeName, and may create events', async () => {
  const vm = (name: string, nodeName?: string) => ({
    metadata: { name },
    spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 }, ...(nodeName ? { nodeName } : {}) },
  });
  await admin.create('vm', vm('on-a', 'node-a'));
  await admin.create('vm', vm('on-b', 'node-b'));
  await admin.create('vm', vm('unbound'));

  const vms = `${V}/namespaces/default/virtualmachines`;
  assert.equal((await asNodeA('PATCH', `${vms}/on-a/status`, { status: { phase: 'Pending' } })).status, 200);
  assert.equal((await asNodeA('PATCH', `${vms}/on-a`, { metadata: { finalizers: ['shoal.dev/agent'] } })).status, 200);
  // Of the object itself a node changes only what running the VM takes (node-restriction.ts).
  const rewrite = await asNodeA('PATCH', `${vms}/on-a`, { spec: { command: ['sh', '-c', 'not what was asked'] } });
  assert.equal(rewrite.status, 403);
  assert.match(rewrite.body.message, /node "node-a": a node may only unbind a virtualmachine \(spec.nodeName: null\), not change spec.command/);
  assert.equal((await asNodeA('PATCH', `${vms}/on-a`, { spec: { nodeName: 'node-b' } })).status, 403, 'no moving it to another node');
  assert.equal((await asNodeA('PATCH', `${vms}/on-a`, { metadata: { finalizers: ['shoal.dev/agent', 'other'] } })).status, 403, 'no finalizers but its own');
  assert.equal((await admin.get<VirtualMachine>('vm', 'on-a', { namespace: 'default' })).spec.command, undefined, 'nothing was changed');
  const onB = await asNodeA('PATCH', `${vms}/on-b/status`, { status: { phase: 'Running' } });
  assert.equal(onB.status, 403);
  assert.match(
    onB.body.message,
    /virtualmachines\.shoal\.dev "on-b" is forbidden: User "system:node:node-a" cannot patch resource "virtualmachines\/status" in API group "shoal.dev" in the namespace "default": node "node-a" may change only virtualmachines bound to it/,
  );
  assert.equal((await asNodeA('PATCH', `${vms}/unbound`, { metadata: { labels: { x: 'y' } } })).status, 403);
  assert.equal((await asNodeA('DELETE', `${vms}/on-a`)).status, 403);
  assert.equal((await asNodeA('POST', `${vms}/unbound/binding`, { target: { name: 'node-a' } })).status, 403, 'nodes do not bind');
  assert.equal((await asNodeA('GET', `${vms}/on-b`)).status, 200, 'get is allowed');

  const all = await asNodeA('GET', `${V}/virtualmachines`);
  assert.equal(all.status, 403);
  assert.match(all.body.message, /may list and watch only the virtualmachines bound to it \(fieldSelector spec\.nodeName=node-a\)/);
  assert.equal((await asNodeA('GET', `${V}/virtualmachines?fieldSelector=spec.nodeName%3Dnode-b`)).status, 403);
  const mine = await asNodeA('GET', `${V}/virtualmachines?fieldSelector=spec.nodeName%3Dnode-a`);
  assert.equal(mine.status, 200);
  assert.deepEqual(
    mine.body.items.map((o: { metadata: { name: string } }) => o.metadata.name),
    ['on-a'],
  );
  const watch = await request(`${url}${V}/virtualmachines?watch=1&timeoutSeconds=1&fieldSelector=spec.nodeName%3Dnode-a`, {
    dispatcher: trusting,
    headers: { authorization: `Bearer ${TOKENS.nodeA}` },
  });
  assert.equal(watch.statusCode, 200);
  await watch.body.dump();

  const event = {
    metadata: { name: 'on-a.1' },
    involvedObject: { kind: 'VirtualMachine', name: 'on-a', namespace: 'default' },
    reason: 'Started',
    message: 'hi',
  };
  assert.equal((await asNodeA('POST', `${V}/namespaces/default/events`, event)).status, 201);
  assert.equal((await asNodeA('GET', `${V}/namespaces/default/events`)).status, 403);
  assert.equal((await asNodeA('GET', `${V}/priorityclasses`)).status, 403);
  assert.equal((await call(TOKENS.alice, 'GET', `${V}/virtualmachines?fieldSelector=spec.nodeName%3Dnode-a`)).status, 403, 'the Node mode is for nodes only');
});

test('the controller-manager with its token and a simulated agent with its node token schedule and run a VM, under RBAC', async () => {
  const cm = await cluster.startControllerManager({
    args: ['--token', TOKENS.cm, '--certificate-authority', certs.caFile, '--leader-elect', '--log-level', 'warn'],
    timeoutMs: 30_000,
  });
  // Room for two VMs: a third (critical) one preempts in the per-controller test below.
  const agent = await cluster.startAgent('node-sim', {
    args: ['--runtime', 'simulated', '--vcpus', '2', '--memory-mib', '4096', '--token', TOKENS.nodeSim, '--certificate-authority', certs.caFile],
  });
  await admin.create('vm', { metadata: { name: 'scheduled' }, spec: { priorityClassName: 'low', resources: { vcpus: 1, memoryMiB: 128 } } });
  const vm = await waitForObject(admin, 'VirtualMachine', 'scheduled', (v) => v.spec.nodeName === 'node-sim' && v.status?.phase === 'Running', {
    timeoutMs: 60_000,
    message: 'bound to node-sim and Running',
  });
  assert.equal(vm.spec.nodeName, 'node-sim');
  // The controller-manager leads through its Lease in shoal-system (the bootstrap Role allows that).
  const leases = await admin.list<Lease>('lease', { namespace: 'shoal-system' });
  assert.ok(
    leases.items.some((l) => l.metadata.name === 'shoal-controller-manager-scheduler'),
    JSON.stringify(leases.items.map((l) => l.metadata.name)),
  );
  const denials = `${cm.output()}\n${agent.output()}`.split('\n').filter((l) => /forbidden|\b403\b/i.test(l));
  assert.deepEqual(denials, [], 'neither process was refused anything');
  // Stopping releases its Leases: the per-controller controller-manager below takes over at once.
  await cm.stop();
});

const CONTROLLERS = [
  'scheduler',
  'health',
  'preemptor',
  'namespace',
  'resourcequota',
  'volume',
  'migration',
  'evacuation',
  'network',
  'image',
  'backup-schedule',
  'backup',
  'restore',
  'gitrepository',
  'gitsync',
] as const;
const readyOf = (n: Node) => n.status?.conditions?.find((c) => c.type === 'Ready');

test('with one token per controller (--controller-tokens-dir) the controllers schedule, mark a silent node NotReady, preempt, keep quota status and empty a deleted namespace, each as its own user', async () => {
  const dir = join(certs.dir, 'controller-tokens');
  await mkdir(dir, { mode: 0o700 });
  for (const c of CONTROLLERS) await writeFile(join(dir, `${c}.token`), `${TOKENS[c]}\n`, { mode: 0o600 });
  // The tokens come from files only: no --token, so nothing runs with the union of the rights.
  const cm = await cluster.startControllerManager({
    args: [
      '--controller-tokens-dir',
      dir,
      '--certificate-authority',
      certs.caFile,
      '--leader-elect',
      '--leader-elect-identity',
      'per-controller',
      '--log-level',
      'warn',
    ],
    timeoutMs: 30_000,
  });

  // Each controller leads through its own Lease, written with its own token.
  await waitFor(
    async () => {
      const leases = await admin.list<Lease>('lease', { namespace: 'shoal-system' });
      return (
        CONTROLLERS.every((c) => leases.items.some((l) => l.metadata.name === `shoal-controller-manager-${c}` && l.spec.holderIdentity === 'per-controller')) ||
        undefined
      );
    },
    { timeoutMs: 30_000, message: 'the per-controller process holding all three Leases' },
  );

  // Scheduling (scheduler) and running (agent).
  await admin.create('vm', { metadata: { name: 'scheduled-2' }, spec: { priorityClassName: 'low', resources: { vcpus: 1, memoryMiB: 128 } } });
  await waitForObject(admin, 'VirtualMachine', 'scheduled-2', (v) => v.spec.nodeName === 'node-sim' && v.status?.phase === 'Running', {
    timeoutMs: 60_000,
    message: 'bound to node-sim and Running',
  });

  // Health: a hand-made node (no room: nothing is placed there) whose Lease stops being renewed.
  await admin.create('node', { metadata: { name: 'silent' }, spec: {} });
  await admin.patch('node', 'silent', { status: { fencing: { leaseDurationSeconds: 2, fenceTimeoutSeconds: 3600 } } }, { type: 'merge', status: true });
  await admin.create(
    'lease',
    { metadata: { name: 'silent' }, spec: { holderIdentity: 'silent', leaseDurationSeconds: 2, renewTime: new Date().toISOString() } },
    { namespace: 'shoal-node-lease' },
  );
  const notReady = await waitForObject(
    admin,
    'Node',
    'silent',
    (n) => readyOf(n)?.status === 'Unknown' && !!n.spec.taints?.some((t) => t.key === 'node.shoal.dev/unreachable'),
    {
      timeoutMs: 20_000,
      message: 'NotReady and tainted',
    },
  );
  assert.equal(readyOf(notReady)?.reason, 'NodeStatusUnknown');

  // Preemption: node-sim is full (two low VMs); a critical one evicts one of them and runs.
  await admin.create('vm', { metadata: { name: 'critical' }, spec: { priorityClassName: 'critical', resources: { vcpus: 1, memoryMiB: 128 } } });
  await waitForObject(admin, 'VirtualMachine', 'critical', (v) => v.spec.nodeName === 'node-sim' && v.status?.phase === 'Running', {
    timeoutMs: 60_000,
    message: 'Running on node-sim after preempting',
  });
  const victims = (await admin.list<VirtualMachine>('vm', { namespace: 'default' })).items.filter((v) => v.status?.preemptedBy === 'default/critical');
  assert.equal(victims.length, 1, 'exactly one low VM evicted');

  // Resourcequota: status.used follows the namespace's VMs. Namespace: deleting it deletes them, then it goes.
  await admin.create('namespace', { metadata: { name: 'tenant' }, spec: {} });
  await admin.create('resourcequota', { metadata: { name: 'compute' }, spec: { hard: { vcpus: 8, virtualmachines: 4 } } }, { namespace: 'tenant' });
  for (const name of ['t-1', 't-2'])
    await admin.create('vm', { metadata: { name }, spec: { runStrategy: 'Halted', resources: { vcpus: 2, memoryMiB: 64 } } }, { namespace: 'tenant' });
  await waitFor(
    async () => {
      const used = (await admin.get<ResourceQuota>('resourcequota', 'compute', { namespace: 'tenant' })).status?.used;
      return used?.vcpus === 4 && used.virtualmachines === 2 ? used : undefined;
    },
    { timeoutMs: 20_000, message: 'tenant/compute status.used = 4 vCPUs, 2 VMs' },
  );
  await admin.delete('namespace', 'tenant');
  await waitFor(
    async () =>
      admin.get('namespace', 'tenant').then(
        () => undefined,
        (err: { code?: number }) => err.code === 404 || undefined,
      ),
    {
      timeoutMs: 30_000,
      message: 'namespace tenant emptied and gone',
    },
  );
  assert.equal((await admin.list('vm', { namespace: 'tenant' })).items.length, 0);

  // \b: a port such as 44037 in the ready line is not a 403.
  const denials = cm
    .output()
    .split('\n')
    .filter((l) => /forbidden|\b403\b/i.test(l));
  assert.deepEqual(denials, [], 'no controller was refused anything it does');
});

test("each controller's token holds only that controller's rights", async () => {
  const vms = `${V}/namespaces/default/virtualmachines`;
  const as = (who: keyof typeof TOKENS, method: string, path: string, body?: unknown) =>
    call(TOKENS[who], method, path, body, method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
  await admin.create('vm', { metadata: { name: 'probe' }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } });

  // What each does is allowed.
  assert.equal((await as('scheduler', 'GET', `${V}/virtualmachines`)).status, 200);
  assert.equal((await as('scheduler', 'PATCH', `${vms}/probe/status`, { status: { phase: 'Pending' } })).status, 200);
  assert.equal((await as('health', 'GET', `${V}/namespaces/shoal-node-lease/leases`)).status, 200);
  assert.equal((await as('health', 'PATCH', `${V}/nodes/silent/status`, { status: {} })).status, 200);
  assert.equal((await as('preemptor', 'GET', `${V}/priorityclasses`)).status, 200);
  assert.equal((await as('preemptor', 'PATCH', `${vms}/probe`, { metadata: { annotations: { probe: 'x' } } })).status, 200);

  // The scheduler neither changes nodes nor evicts (a VM's own metadata and spec are not its to write).
  const schedulerNode = await as('scheduler', 'PATCH', `${V}/nodes/silent`, { metadata: { labels: { x: 'y' } } });
  assert.equal(schedulerNode.status, 403);
  assert.match(schedulerNode.body.message, /User "system:shoal:scheduler" cannot patch resource "nodes"/);
  assert.equal((await as('scheduler', 'PATCH', `${V}/nodes/silent/status`, { status: {} })).status, 403);
  assert.equal((await as('scheduler', 'PATCH', `${vms}/probe`, { metadata: { annotations: { 'shoal.dev/eviction-requested': '{}' } } })).status, 403);
  assert.equal((await as('scheduler', 'DELETE', `${vms}/probe`)).status, 403);
  // The health controller does not bind, nor read priority classes, nor node leases outside their namespace.
  const healthBind = await as('health', 'POST', `${vms}/probe/binding`, { target: { name: 'node-sim' } });
  assert.equal(healthBind.status, 403);
  assert.match(healthBind.body.message, /User "system:shoal:health" cannot create resource "virtualmachines\/binding"/);
  assert.equal((await as('health', 'GET', `${V}/priorityclasses`)).status, 403);
  assert.equal((await as('health', 'GET', `${V}/namespaces/default/leases`)).status, 403);
  // The preemptor neither changes nodes nor binds.
  const preemptorNode = await as('preemptor', 'PATCH', `${V}/nodes/silent`, { spec: { unschedulable: true } });
  assert.equal(preemptorNode.status, 403);
  assert.match(preemptorNode.body.message, /User "system:shoal:preemptor" cannot patch resource "nodes"/);
  assert.equal((await as('preemptor', 'POST', `${vms}/probe/binding`, { target: { name: 'node-sim' } })).status, 403);
  // None reads or writes another controller's Lease, nor anything cluster-wide like RBAC.
  assert.equal((await as('scheduler', 'GET', `${V}/namespaces/shoal-system/leases/shoal-controller-manager-health`)).status, 403);
  assert.equal(
    (
      await as('health', 'PUT', `${V}/namespaces/shoal-system/leases/shoal-controller-manager-scheduler`, {
        metadata: { name: 'shoal-controller-manager-scheduler' },
        spec: {},
      })
    ).status,
    403,
  );
  assert.equal((await as('scheduler', 'GET', `${V}/namespaces/shoal-system/leases/shoal-controller-manager-scheduler`)).status, 200);
  // The gitsync controller applies whatever a repository holds (RBAC objects too), as Flux's does; the others read no RBAC.
  for (const who of CONTROLLERS.filter((c) => c !== 'gitsync')) assert.equal((await as(who, 'GET', `${V}/clusterroles`)).status, 403, who);
  assert.equal((await as('gitsync', 'GET', `${V}/clusterroles`)).status, 200);

  // The namespace controller lists and deletes a namespace's contents, and nothing more.
  await admin.create('vm', { metadata: { name: 'probe-delete' }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } });
  assert.equal((await as('namespace', 'GET', `${V}/namespaces/default/leases`)).status, 200);
  assert.equal((await as('namespace', 'DELETE', `${vms}/probe-delete`)).status, 200);
  const namespacePatch = await as('namespace', 'PATCH', `${vms}/probe`, { metadata: { labels: { x: 'y' } } });
  assert.equal(namespacePatch.status, 403);
  assert.match(namespacePatch.body.message, /User "system:shoal:namespace" cannot patch resource "virtualmachines"/);
  assert.equal((await as('namespace', 'POST', vms, { metadata: { name: 'sneaky' }, spec: { resources: { vcpus: 1, memoryMiB: 64 } } })).status, 403);
  assert.equal((await as('namespace', 'DELETE', `${V}/nodes/silent`)).status, 403);
  assert.equal((await as('namespace', 'PATCH', `${V}/namespaces/default/resourcequotas/none/status`, { status: {} })).status, 403);
  // The resourcequota controller writes quota status, and nothing more.
  await admin.create('resourcequota', { metadata: { name: 'roomy' }, spec: { hard: { virtualmachines: 1000 } } }, { namespace: 'default' });
  assert.equal((await as('resourcequota', 'GET', `${V}/resourcequotas`)).status, 200);
  assert.equal(
    (await as('resourcequota', 'PATCH', `${V}/namespaces/default/resourcequotas/roomy/status`, { status: { used: { virtualmachines: 1 } } })).status,
    200,
  );
  const quotaSpec = await as('resourcequota', 'PATCH', `${V}/namespaces/default/resourcequotas/roomy`, { spec: { hard: { virtualmachines: 1 } } });
  assert.equal(quotaSpec.status, 403);
  assert.match(quotaSpec.body.message, /User "system:shoal:resourcequota" cannot patch resource "resourcequotas"/);
  assert.equal((await as('resourcequota', 'PATCH', `${vms}/probe/status`, { status: { phase: 'Pending' } })).status, 403);
  assert.equal(
    (
      await as('resourcequota', 'POST', `${V}/namespaces/default/events`, {
        metadata: { name: 'rq.1' },
        involvedObject: { kind: 'ResourceQuota', name: 'roomy', namespace: 'default' },
        reason: 'X',
        message: 'y',
      })
    ).status,
    403,
  );
  // The volume controller makes, deletes and lets go Volumes (never their status, the agents'), and nothing more.
  const volumes = `${V}/namespaces/default/volumes`;
  assert.equal((await as('volume', 'GET', `${V}/storagepools`)).status, 200);
  assert.equal((await as('volume', 'GET', `${vms}/probe`)).status, 200);
  assert.equal((await as('volume', 'POST', volumes, { metadata: { name: 'probe-volume' }, spec: { sizeGiB: 1, source: { blank: {} } } })).status, 201);
  assert.equal((await as('volume', 'PATCH', `${volumes}/probe-volume`, { metadata: { labels: { x: 'y' } } })).status, 200);
  assert.equal((await as('volume', 'PATCH', `${volumes}/probe-volume/status`, { status: { phase: 'Available' } })).status, 403);
  const volumeVm = await as('volume', 'PATCH', `${vms}/probe`, { metadata: { labels: { x: 'y' } } });
  assert.equal(volumeVm.status, 403);
  assert.match(volumeVm.body.message, /User "system:shoal:volume" cannot patch resource "virtualmachines"/);
  assert.equal((await as('volume', 'POST', `${V}/storagepools`, { metadata: { name: 'sneaky' }, spec: { type: 'local' } })).status, 403);
  assert.equal((await as('volume', 'DELETE', `${volumes}/probe-volume`)).status, 200);
  // The migration controller writes Migrations (finalizer, status) and moves VMs (spec.nodeName), and deletes nothing.
  assert.equal((await as('migration', 'GET', `${V}/namespaces/default/migrations`)).status, 200);
  assert.equal((await as('migration', 'GET', `${vms}/probe`)).status, 200);
  assert.equal((await as('migration', 'PATCH', `${vms}/probe`, { metadata: { labels: { x: 'y' } } })).status, 200);
  assert.equal((await as('migration', 'POST', `${V}/namespaces/default/migrations`, { metadata: { name: 'sneaky' }, spec: { vmName: 'probe' } })).status, 403);
  assert.equal((await as('migration', 'PATCH', `${vms}/probe/status`, { status: { phase: 'Pending' } })).status, 403);
  // The evacuation controller starts Migrations and marks their VMs, and writes no status.
  assert.equal(
    (await as('evacuation', 'POST', `${V}/namespaces/default/migrations`, { metadata: { name: 'evac-probe' }, spec: { vmName: 'probe' } })).status,
    201,
  );
  assert.equal((await as('evacuation', 'PATCH', `${vms}/probe`, { metadata: { annotations: { x: 'y' } } })).status, 200);
  assert.equal((await as('evacuation', 'PATCH', `${V}/namespaces/default/migrations/evac-probe/status`, { status: { phase: 'Failed' } })).status, 403);
  assert.equal((await as('evacuation', 'PATCH', `${vms}/probe/status`, { status: { phase: 'Pending' } })).status, 403);
  await admin.delete('migration', 'evac-probe', { namespace: 'default' });
  // The network controller takes and gives back addresses and writes VM interfaces; it edits no VM spec.
  await admin.create('network', { metadata: { name: 'probe-net' }, spec: { cidr: '10.70.0.0/24' } }, { namespace: 'default' });
  const claim = { metadata: { name: 'probe-net.10-70-0-9' }, spec: { network: 'probe-net', address: '10.70.0.9', vmName: 'probe', vmUID: 'x' } };
  assert.equal((await as('network', 'POST', `${V}/namespaces/default/ipaddresses`, claim)).status, 201);
  // 404: the running network controller gave it back first (VM probe names no Network) — authorized all the same (403 comes before).
  assert.ok([200, 404].includes((await as('network', 'DELETE', `${V}/namespaces/default/ipaddresses/probe-net.10-70-0-9`)).status));
  assert.equal((await as('network', 'PATCH', `${vms}/probe`, { metadata: { labels: { x: 'y' } } })).status, 403);
  assert.equal((await as('network', 'POST', `${V}/namespaces/default/networks`, { metadata: { name: 'sneaky' }, spec: { cidr: '10.71.0.0/24' } })).status, 403);
  await admin.delete('network', 'probe-net', { namespace: 'default' });
  // Only the namespace controller deletes what it does not own.
  // The image controller: Images and their status, nothing of a VM.
  assert.equal((await as('image', 'GET', `${V}/images`)).status, 200);
  assert.equal((await as('image', 'PATCH', `${vms}/probe/status`, { status: { phase: 'Pending' } })).status, 403);
  assert.equal(
    (await as('image', 'POST', `${V}/images`, { metadata: { name: 'sneaky' }, spec: { kernel: { url: 'http://x/k', sha256: 'a'.repeat(64) } } })).status,
    403,
  );
  // The backup-schedule controller makes and deletes Backups and writes its schedules' status; it writes no Backup's status.
  const backups = `${V}/namespaces/default/backups`;
  assert.equal((await as('backup-schedule', 'GET', `${V}/namespaces/default/backupschedules`)).status, 200);
  assert.equal((await as('backup-schedule', 'POST', backups, { metadata: { name: 'probe-backup' }, spec: { vmNames: ['probe'] } })).status, 201);
  assert.equal((await as('backup-schedule', 'PATCH', `${backups}/probe-backup/status`, { status: { phase: 'Completed' } })).status, 403);
  assert.equal((await as('backup-schedule', 'DELETE', `${backups}/probe-backup`)).status, 200);
  assert.equal((await as('backup-schedule', 'PATCH', `${V}/namespaces/default/backupschedules/none/status`, { status: {} })).status, 404);
  // The backup controller writes Backups' status and makes DiskBackups; it makes no VM. The restore controller makes VMs, but writes no Backup.
  assert.equal((await as('backup', 'POST', `${V}/namespaces/default/diskbackups`, { metadata: { name: 'probe-disks' }, spec: {} })).status, 422);
  assert.equal((await as('backup', 'POST', vms, { metadata: { name: 'sneaky' }, spec: {} })).status, 403);
  assert.equal((await as('restore', 'PATCH', `${backups}/none/status`, { status: {} })).status, 403);
  // The gitrepository controller reads a Secret by name (a repository's credentials) but cannot list them; it writes its repositories' status, not their spec.
  assert.equal((await as('gitrepository', 'GET', `${V}/namespaces/default/secrets/none`)).status, 404);
  assert.equal((await as('gitrepository', 'GET', `${V}/namespaces/default/secrets`)).status, 403);
  assert.equal((await as('gitrepository', 'PATCH', `${V}/namespaces/default/gitrepositories/none/status`, { status: {} })).status, 404);
  assert.equal((await as('gitrepository', 'PATCH', `${V}/namespaces/default/gitrepositories/none`, { spec: {} })).status, 403);
  for (const who of [
    'scheduler',
    'health',
    'preemptor',
    'resourcequota',
    'volume',
    'migration',
    'evacuation',
    'network',
    'image',
    'backup-schedule',
    'backup',
    'restore',
    'gitrepository',
  ] as const)
    assert.equal((await as(who, 'DELETE', `${vms}/probe`)).status, 403, who);
  await admin.delete('resourcequota', 'roomy', { namespace: 'default' });
});

test('stock kubectl with a kubeconfig carrying a token and the CA', async () => {
  const kubeconfig = (token: string) => `apiVersion: v1
kind: Config
clusters: [{name: shoal, cluster: {server: "${url}", certificate-authority: "${certs.caFile}"}}]
users: [{name: me, user: {token: "${token}"}}]
contexts: [{name: shoal, context: {cluster: shoal, user: me, namespace: default}}]
current-context: shoal
`;
  const run = async (token: string, args: string[]) => {
    const file = join(certs.dir, `kubeconfig-${token}`);
    await writeFile(file, kubeconfig(token));
    return execa('kubectl', ['--kubeconfig', file, '--cache-dir', join(certs.dir, `kube-cache-${token}`), ...args], {
      reject: false,
      env: { HOME: certs.dir },
      timeout: 60_000,
    });
  };
  const ok = await run(TOKENS.admin, ['get', 'vms']);
  assert.equal(ok.exitCode, 0, ok.stderr);
  assert.match(ok.stdout, /scheduled\s+/);
  const bad = await run('wrong-token', ['get', 'vms']);
  assert.notEqual(bad.exitCode, 0);
  assert.match(bad.stderr, /Unauthorized|must be logged in/);
  const forbidden = await run(TOKENS.alice, ['get', 'vms']);
  assert.notEqual(forbidden.exitCode, 0);
  assert.match(forbidden.stderr, /User "alice" cannot list resource "virtualmachines" in API group "shoal.dev" in the namespace "default"/);
});
