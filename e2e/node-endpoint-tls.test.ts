/**
 * Consoles on a secured cluster, as `shoal up` runs it: the apiserver over HTTPS with tokens and
 * Node,RBAC, and a real agent with a QEMU microVM whose endpoint is HTTPS from the same CA and
 * admits only the apiserver's client certificate (startCluster's agentTls). Users reach a console
 * only through the apiserver's `virtualmachines/log`, which RBAC governs; nobody reaches it on
 * the agent directly without the apiserver's certificate; and an apiserver that lacks the agent
 * flags gets a 502 that says which.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { AGENT_CLIENT_GROUP, type Node, type VirtualMachine } from '@shoal/api';
import {
  makeClientCertificate,
  makeServerCertificates,
  REPO_ROOT,
  startCluster,
  waitFor,
  waitForObject,
  type TestCertificates,
  type TestCluster,
} from '@shoal/testing';

const V = '/apis/shoal.dev/v1alpha1';
const NODE = 'node-tls';
const NS = 'default';
const TOKENS = { admin: 'admin-token', alice: 'alice-token', reader: 'log-reader-token', viewer: 'vm-viewer-token', node: 'node-tls-token' };

let certs: TestCertificates;
let cluster: TestCluster;
let apiserverArgs: string[];
let vm: VirtualMachine;
const dispatchers: Agent[] = [];

/** A dispatcher trusting the test CA, showing `cert` as client certificate when given. */
async function trusting(cert?: { certFile: string; keyFile: string }): Promise<Agent> {
  const d = new Agent({
    connect: { ca: await readFile(certs.caFile), ...(cert ? { cert: await readFile(cert.certFile), key: await readFile(cert.keyFile) } : {}) },
  });
  dispatchers.push(d);
  return d;
}

async function get(
  url: string,
  opts: { token?: string; cert?: { certFile: string; keyFile: string } } = {},
): Promise<{ status: number; text: string; body: any }> {
  const res = await request(url, { dispatcher: await trusting(opts.cert), headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} });
  const text = await res.body.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, text, body };
}

const logPath = (name: string) => `${V}/namespaces/${NS}/virtualmachines/${name}/log`;
const shoalctl = (args: string[]) =>
  execa('node', [join(REPO_ROOT, 'bin/shoalctl.js'), '--server', cluster.url, '--certificate-authority', certs.caFile, ...args], {
    reject: false,
    env: { HOME: certs.dir, SHOAL_SERVER: '', SHOAL_CONFIG: '' },
    timeout: 60_000,
  });

before(async () => {
  certs = await makeServerCertificates();
  const tokenFile = join(certs.dir, 'tokens.csv');
  await writeFile(
    tokenFile,
    [
      `${TOKENS.admin},admin,1,system:masters`,
      `${TOKENS.alice},alice,2,`,
      `${TOKENS.reader},log-reader,3,`,
      `${TOKENS.viewer},vm-viewer,5,`,
      `${TOKENS.node},system:node:${NODE},4,system:nodes`,
    ].join('\n'),
  );
  apiserverArgs = [
    '--tls-cert-file',
    certs.certFile,
    '--tls-private-key-file',
    certs.keyFile,
    '--client-ca-file',
    certs.caFile,
    '--token-auth-file',
    tokenFile,
    '--authorization-mode',
    'Node,RBAC',
  ];
  // One CA for everything, as shoal up makes it: the apiserver's, the agent's and the client certificates.
  cluster = await startCluster({ apiserverArgs, agentTls: certs, client: { caFile: certs.caFile, token: TOKENS.admin } });
  await cluster.startAgent(NODE, {
    args: ['--token', TOKENS.node, '--certificate-authority', certs.caFile, '--vcpus', '2', '--memory-mib', '1024', '--stop-grace', '5'],
    timeoutMs: 120_000,
  });
  // Bound by hand: no scheduler needed for a console.
  await cluster.client.create('vm', {
    metadata: { name: 'secret-console' },
    spec: {
      nodeName: NODE,
      resources: { vcpus: 1, memoryMiB: 128 },
      network: { mode: 'none' },
      command: ['sh', '-c', 'echo the-password-is-hunter2; sleep 600'],
    },
  });
  vm = await waitForObject(cluster.client, 'VirtualMachine', 'secret-console', (v) => v.status?.phase === 'Running', {
    timeoutMs: 120_000,
    intervalMs: 50,
    message: 'Running',
  });
  // Only get on the log subresource: not the VM itself, nor anything else.
  await cluster.client.create(
    'role',
    { metadata: { name: 'console-reader' }, rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines/log'], verbs: ['get'] }] },
    { namespace: NS },
  );
  await cluster.client.create(
    'rolebinding',
    { metadata: { name: 'log-reader' }, subjects: [{ kind: 'User', name: 'log-reader' }], roleRef: { kind: 'Role', name: 'console-reader' } },
    { namespace: NS },
  );
  // Get, list and watch on VMs, but not their log: a subresource is granted by name.
  await cluster.client.create(
    'role',
    { metadata: { name: 'vm-viewer' }, rules: [{ apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get', 'list', 'watch'] }] },
    { namespace: NS },
  );
  await cluster.client.create(
    'rolebinding',
    { metadata: { name: 'vm-viewer' }, subjects: [{ kind: 'User', name: 'vm-viewer' }], roleRef: { kind: 'Role', name: 'vm-viewer' } },
    { namespace: NS },
  );
});

after(async () => {
  await Promise.all(dispatchers.map((d) => d.close()));
  await cluster?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

test('the agent registered an https:// address', async () => {
  const node = await cluster.client.get<Node>('node', NODE);
  assert.match(String(node.status?.agentAddress), /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(node.status?.agentAddress, cluster.agents.get(NODE)!.address);
});

test('shoalctl logs as the admin shows the guest console, through the apiserver', async () => {
  const r = await waitFor(
    async () => {
      const out = await shoalctl(['--token', TOKENS.admin, 'logs', 'secret-console']);
      return out.exitCode === 0 && out.stdout.includes('the-password-is-hunter2') ? out : undefined;
    },
    { timeoutMs: 30_000, message: 'the guest output in shoalctl logs' },
  );
  assert.match(r.stdout, new RegExp(`^SHOAL-BOOTED uid=${vm.metadata.uid} `, 'm'));
});

test('a user without get virtualmachines/log gets 403 from the apiserver', async () => {
  const r = await get(`${cluster.url}${logPath('secret-console')}`, { token: TOKENS.alice });
  assert.equal(r.status, 403);
  assert.equal(r.body.reason, 'Forbidden');
  assert.match(r.body.message, /User "alice" cannot get resource "virtualmachines\/log" in API group "shoal.dev" in the namespace "default"/);
  assert.doesNotMatch(r.text, /hunter2/);
  const cli = await shoalctl(['--token', TOKENS.alice, 'logs', 'secret-console']);
  assert.equal(cli.exitCode, 1);
  assert.match(cli.stderr, /^Error from server \(Forbidden\): .*cannot get resource "virtualmachines\/log"/);
  assert.doesNotMatch(cli.stdout, /hunter2/);
});

test('get on the VM itself is not enough', async () => {
  assert.equal((await get(`${cluster.url}${V}/namespaces/${NS}/virtualmachines/secret-console`, { token: TOKENS.viewer })).status, 200);
  const r = await get(`${cluster.url}${logPath('secret-console')}`, { token: TOKENS.viewer });
  assert.equal(r.status, 403);
  assert.match(r.body.message, /User "vm-viewer" cannot get resource "virtualmachines\/log"/);
});

test('a user with only get virtualmachines/log reads the console, and nothing else', async () => {
  const r = await get(`${cluster.url}${logPath('secret-console')}`, { token: TOKENS.reader });
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /the-password-is-hunter2/);
  assert.equal((await get(`${cluster.url}${V}/namespaces/${NS}/virtualmachines/secret-console`, { token: TOKENS.reader })).status, 403);
  const cli = await shoalctl(['--token', TOKENS.reader, 'logs', 'secret-console']);
  assert.equal(cli.exitCode, 0, cli.stderr);
  assert.match(cli.stdout, /the-password-is-hunter2/);
});

test("directly at the agent: refused without the apiserver's certificate, whatever else is shown", async () => {
  const agentLog = `${cluster.agents.get(NODE)!.address}/logs/${NS}/secret-console`;
  const anonymous = await get(agentLog);
  assert.equal(anonymous.status, 401);
  const withToken = await get(agentLog, { token: TOKENS.admin });
  assert.equal(withToken.status, 401, 'the agent takes no tokens, not even the admin one');
  const otherCa = await get(agentLog, { cert: await makeClientCertificate(certs, 'impostor', { groups: [AGENT_CLIENT_GROUP], untrusted: true }) });
  assert.equal(otherCa.status, 401);
  const otherNode = await get(agentLog, { cert: await makeClientCertificate(certs, 'system:node:other', { groups: ['system:nodes'] }) });
  assert.equal(otherNode.status, 403);
  const admin = await get(agentLog, { cert: await makeClientCertificate(certs, 'admin-cert', { groups: ['system:masters'] }) });
  assert.equal(admin.status, 403, "an apiserver admin's certificate is not the apiserver's");
  for (const r of [anonymous, withToken, otherCa, otherNode, admin]) assert.doesNotMatch(r.text, /hunter2/);
  const apiserver = await get(agentLog, { cert: cluster.agentTls!.apiserverClient });
  assert.equal(apiserver.status, 200);
  assert.match(apiserver.text, /the-password-is-hunter2/);
});

test('an apiserver without the agent flags, or with the wrong ones, answers 502 saying which', async () => {
  const url = async (args: string[]) => (await cluster.startApiserver({ args: [...apiserverArgs, ...args] })).url;
  const read = async (base: string) => get(`${base}${logPath('secret-console')}`, { token: TOKENS.admin });
  const nodeCert = await makeClientCertificate(certs, 'system:node:wrong', { groups: ['system:nodes'] });
  // Four apiservers, each with its own flags (the last for shoalctl): started side by side.
  const [noFlagsUrl, noClientCertUrl, wrongCertUrl, cliUrl] = await Promise.all([
    url([]),
    url(['--agent-certificate-authority', certs.caFile]),
    url(['--agent-certificate-authority', certs.caFile, '--agent-client-certificate', nodeCert.certFile, '--agent-client-key', nodeCert.keyFile]),
    url([]),
  ]);

  const noFlags = await read(noFlagsUrl);
  assert.equal(noFlags.status, 502, noFlags.text);
  assert.equal(noFlags.body.reason, 'BadGateway');
  assert.match(
    noFlags.body.message,
    /the agent of node node-tls at https:\S+ presented a serving certificate the apiserver does not trust: .*no --agent-certificate-authority is set/,
  );

  const noClientCert = await read(noClientCertUrl);
  assert.equal(noClientCert.status, 502, noClientCert.text);
  assert.match(
    noClientCert.body.message,
    /refused the apiserver \(HTTP 401: a client certificate is required.*this apiserver has none \(--agent-client-certificate\)/,
  );

  const wrongCert = await read(wrongCertUrl);
  assert.equal(wrongCert.status, 502, wrongCert.text);
  assert.match(wrongCert.body.message, /refused the apiserver \(HTTP 403: forbidden: User "system:node:wrong" cannot get path/);
  assert.match(wrongCert.body.message, new RegExp(`O=${AGENT_CLIENT_GROUP}`));

  const cli = await execa(
    'node',
    [join(REPO_ROOT, 'bin/shoalctl.js'), '--server', cliUrl, '--certificate-authority', certs.caFile, '--token', TOKENS.admin, 'logs', 'secret-console'],
    { reject: false, env: { HOME: certs.dir, SHOAL_SERVER: '', SHOAL_CONFIG: '' }, timeout: 60_000 },
  );
  assert.equal(cli.exitCode, 1);
  assert.match(cli.stderr, /^Error from server \(BadGateway\): the agent of node node-tls/);
});
