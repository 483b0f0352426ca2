/**
 * A cluster with authentication and Node,RBAC authorization on, as `shoal up` runs it: the
 * apiserver over HTTPS with a static token file, the controller-manager as
 * system:shoal-controller-manager (bootstrap RBAC only), a simulated agent as system:node:<name>
 * (the Node mode only). Checks the Node mode request by request, then that the real processes
 * schedule and run a VM with nothing more than that, then stock kubectl with a kubeconfig.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { ShoalClient } from '@shoal/client';
import type { VirtualMachine } from '@shoal/scheduler';
import {
  freePort,
  makeServerCertificates,
  startAgent,
  startEtcd,
  startProcess,
  waitFor,
  type AgentProcess,
  type EtcdMember,
  type ShoalProcess,
  type TestCertificates,
} from '@shoal/testing';

const V = '/apis/shoal.dev/v1alpha1';
const TOKENS = {
  admin: 'admin-token',
  alice: 'alice-token',
  cm: 'controller-manager-token',
  nodeA: 'node-a-token',
  nodeSim: 'node-sim-token',
};

let etcd: EtcdMember;
let apiserver: ShoalProcess;
let certs: TestCertificates;
let url: string;
let trusting: Agent;
let admin: ShoalClient;
const stopLater: { stop(): Promise<void> }[] = [];

async function call(token: string | undefined, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: any }> {
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
    ].join('\n'),
  );
  etcd = await startEtcd();
  const port = await freePort();
  apiserver = await startProcess(
    'shoal-apiserver',
    ['--etcd-servers', etcd.endpoint, '--port', String(port), '--tls-cert-file', certs.certFile, '--tls-private-key-file', certs.keyFile, '--token-auth-file', tokenFile, '--authorization-mode', 'Node,RBAC'],
    { ready: /listening on/ },
  );
  url = `https://127.0.0.1:${port}`;
  trusting = new Agent({ connect: { ca: await readFile(certs.caFile) } });
  admin = new ShoalClient({ server: url, caFile: certs.caFile, token: TOKENS.admin });
});

after(async () => {
  for (const p of stopLater.reverse()) await p.stop().catch(() => undefined);
  await admin?.close();
  await apiserver?.stop();
  await etcd?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

test('Node mode: a node registers and updates only its own Node and Lease', async () => {
  const created = await asNodeA('POST', `${V}/nodes`, { metadata: { name: 'node-a' }, spec: {} });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const other = await asNodeA('POST', `${V}/nodes`, { metadata: { name: 'node-b' }, spec: {} });
  assert.equal(other.status, 403);
  assert.match(other.body.message, /User "system:node:node-a" cannot create resource "nodes" in API group "shoal.dev" at the cluster scope: node "node-a" may get, create, update and patch only its own Node/);
  await admin.create('node', { metadata: { name: 'node-b' }, spec: {} });

  assert.equal((await asNodeA('PATCH', `${V}/nodes/node-a/status`, { status: { agentAddress: 'http://127.0.0.1:1' } })).status, 200);
  assert.equal((await asNodeA('PATCH', `${V}/nodes/node-a`, { metadata: { labels: { a: 'b' } } })).status, 200);
  assert.equal((await asNodeA('GET', `${V}/nodes/node-a`)).status, 200);
  assert.equal((await asNodeA('PATCH', `${V}/nodes/node-b/status`, { status: { agentAddress: 'x' } })).status, 403);
  assert.equal((await asNodeA('GET', `${V}/nodes`)).status, 403, 'no listing of all nodes');
  assert.equal((await asNodeA('DELETE', `${V}/nodes/node-a`)).status, 403, 'not even its own');

  const lease = (name: string) => ({ metadata: { name }, spec: { holderIdentity: name, leaseDurationSeconds: 40 } });
  assert.equal((await asNodeA('POST', `${V}/namespaces/shoal-node-lease/leases`, lease('node-a'))).status, 201);
  assert.equal((await asNodeA('PATCH', `${V}/namespaces/shoal-node-lease/leases/node-a`, { spec: { renewTime: new Date().toISOString() } })).status, 200);
  assert.equal((await asNodeA('POST', `${V}/namespaces/shoal-node-lease/leases`, lease('node-b'))).status, 403);
  assert.equal((await asNodeA('POST', `${V}/namespaces/shoal-system/leases`, lease('node-a'))).status, 403, 'only in shoal-node-lease');
});

test('Node mode: a node changes only VMs bound to it, lists them only by its own spec.nodeName, and may create events', async () => {
  const vm = (name: string, nodeName?: string) => ({ metadata: { name }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 }, ...(nodeName ? { nodeName } : {}) } });
  await admin.create('vm', vm('on-a', 'node-a'));
  await admin.create('vm', vm('on-b', 'node-b'));
  await admin.create('vm', vm('unbound'));

  const vms = `${V}/namespaces/default/virtualmachines`;
  assert.equal((await asNodeA('PATCH', `${vms}/on-a/status`, { status: { phase: 'Pending' } })).status, 200);
  assert.equal((await asNodeA('PATCH', `${vms}/on-a`, { metadata: { finalizers: ['shoal.dev/agent'] } })).status, 200);
  const onB = await asNodeA('PATCH', `${vms}/on-b/status`, { status: { phase: 'Running' } });
  assert.equal(onB.status, 403);
  assert.match(onB.body.message, /virtualmachines\.shoal\.dev "on-b" is forbidden: User "system:node:node-a" cannot patch resource "virtualmachines\/status" in API group "shoal.dev" in the namespace "default": node "node-a" may change only virtualmachines bound to it/);
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
  assert.deepEqual(mine.body.items.map((o: { metadata: { name: string } }) => o.metadata.name), ['on-a']);
  const watch = await request(`${url}${V}/virtualmachines?watch=1&timeoutSeconds=1&fieldSelector=spec.nodeName%3Dnode-a`, { dispatcher: trusting, headers: { authorization: `Bearer ${TOKENS.nodeA}` } });
  assert.equal(watch.statusCode, 200);
  await watch.body.dump();

  const event = { metadata: { name: 'on-a.1' }, involvedObject: { kind: 'VirtualMachine', name: 'on-a', namespace: 'default' }, reason: 'Started', message: 'hi' };
  assert.equal((await asNodeA('POST', `${V}/namespaces/default/events`, event)).status, 201);
  assert.equal((await asNodeA('GET', `${V}/namespaces/default/events`)).status, 403);
  assert.equal((await asNodeA('GET', `${V}/priorityclasses`)).status, 403);
  assert.equal((await call(TOKENS.alice, 'GET', `${V}/virtualmachines?fieldSelector=spec.nodeName%3Dnode-a`)).status, 403, 'the Node mode is for nodes only');
});

test('the controller-manager with its token and a simulated agent with its node token schedule and run a VM, under RBAC', async () => {
  const cm = await startProcess(
    'shoal-controller-manager',
    ['--server', url, '--port', '0', '--token', TOKENS.cm, '--certificate-authority', certs.caFile, '--leader-elect', '--log-level', 'warn'],
    { ready: /ready on/, timeoutMs: 30_000 },
  );
  stopLater.push(cm);
  const agent: AgentProcess = await startAgent(url, 'node-sim', { args: ['--runtime', 'simulated', '--token', TOKENS.nodeSim, '--certificate-authority', certs.caFile, '--stop-vms-on-exit'] });
  stopLater.push(agent);
  await admin.create('vm', { metadata: { name: 'scheduled' }, spec: { resources: { vcpus: 1, memoryMiB: 128 } } });
  const vm = await waitFor(
    async () => {
      const v = await admin.get<VirtualMachine>('vm', 'scheduled');
      return v.spec.nodeName === 'node-sim' && v.status?.phase === 'Running' ? v : undefined;
    },
    { timeoutMs: 60_000, message: 'the VM bound to node-sim and Running' },
  );
  assert.equal(vm.spec.nodeName, 'node-sim');
  // The controller-manager leads through its Lease in shoal-system (the bootstrap Role allows that).
  const leases = await admin.list<{ metadata: { name: string } }>('lease', { namespace: 'shoal-system' });
  assert.ok(leases.items.some((l) => l.metadata.name === 'shoal-controller-manager-scheduler'), JSON.stringify(leases.items.map((l) => l.metadata.name)));
  const denials = `${cm.output()}\n${agent.output()}`.split('\n').filter((l) => /forbidden|403/i.test(l));
  assert.deepEqual(denials, [], 'neither process was refused anything');
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
    return execa('kubectl', ['--kubeconfig', file, '--cache-dir', join(certs.dir, `kube-cache-${token}`), ...args], { reject: false, env: { HOME: certs.dir }, timeout: 60_000 });
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
