/**
 * The agent's endpoint over HTTPS (--tls-cert-file, --client-ca-file), asked directly, with real
 * processes: consoles and /metrics only for the apiserver's client certificate, /metrics also for
 * a certificate in group system:monitoring (--metrics-allowed-groups); health open to all. The agent runs the simulated runtime: who gets past the door does not depend on a console
 * (the console itself, through the apiserver and a QEMU guest, is e2e/node-endpoint-tls.test.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { AGENT_CLIENT_GROUP, MONITORING_GROUP } from '@shoal/api';
import { makeClientCertificate, REPO_ROOT, startAgent, startCluster, waitFor, waitForObject, type AgentProcess, type TestCluster } from '@shoal/testing';

const NODE = 'tls-node';
let cluster: TestCluster;
let agent: AgentProcess;
const dispatchers: Agent[] = [];

/** A GET on the agent, trusting the cluster CA, showing `cert` (a client certificate) or none. */
async function get(path: string, cert?: { certFile: string; keyFile: string }, at = agent): Promise<{ status: number; body: any }> {
  const tls = cluster.agentTls!;
  const dispatcher = new Agent({
    connect: {
      ca: await readFile(tls.certs.caFile),
      ...(cert ? { cert: await readFile(cert.certFile), key: await readFile(cert.keyFile) } : {}),
    },
  });
  dispatchers.push(dispatcher);
  const res = await request(`${at.address}${path}`, { dispatcher });
  const text = await res.body.text();
  try {
    return { status: res.statusCode, body: JSON.parse(text) };
  } catch {
    return { status: res.statusCode, body: text };
  }
}

before(async () => {
  cluster = await startCluster({ agentTls: true });
  agent = await cluster.startAgent(NODE, { args: ['--runtime', 'simulated'] });
});
after(async () => {
  await Promise.all(dispatchers.map((d) => d.close()));
  await cluster?.stop();
});

test('the agent serves HTTPS and registers an https:// address', async () => {
  assert.match(agent.address, /^https:\/\/127\.0\.0\.1:\d+$/);
  const node = await waitForObject(cluster.client, 'Node', NODE, (n) => !!n.status?.agentAddress, { message: 'the agent address' });
  assert.equal(node.status?.agentAddress, agent.address);
  assert.doesNotMatch(agent.output(), /endpoint is plain HTTP/);
});

test('health and readiness are open: no client certificate needed', async () => {
  assert.equal((await get('/healthz')).status, 200);
  await waitFor(async () => (await get('/readyz')).status === 200, { message: 'the agent ready' });
});

test('consoles and metrics without a client certificate: 401', async () => {
  for (const path of ['/logs/default/anything', '/logs/default/anything?follow=true', '/metrics']) {
    const r = await get(path);
    assert.equal(r.status, 401, path);
    assert.equal(r.body.kind, 'Status');
    assert.equal(r.body.reason, 'Unauthorized');
    assert.match(r.body.message, /a client certificate is required/);
  }
});

test('a client certificate from another CA: 401, even in the right group', async () => {
  const stranger = await makeClientCertificate(cluster.agentTls!.certs, 'stranger', { groups: [AGENT_CLIENT_GROUP], untrusted: true });
  const r = await get('/logs/default/anything', stranger);
  assert.equal(r.status, 401);
  assert.match(r.body.message, /client certificate not trusted/);
});

test("a node's client certificate from the same CA: 403, it may not read consoles", async () => {
  const node = await makeClientCertificate(cluster.agentTls!.certs, 'system:node:other', { groups: ['system:nodes'] });
  for (const path of ['/logs/default/anything', '/metrics']) {
    const r = await get(path, node);
    assert.equal(r.status, 403, path);
    assert.equal(r.body.reason, 'Forbidden');
    assert.match(r.body.message, new RegExp(`User "system:node:other" cannot get path "${path}": only clients in group "${AGENT_CLIENT_GROUP}"`));
  }
});

test("an agent's serving certificate is no client certificate (TLS checks its purpose): 401", async () => {
  const r = await get('/metrics', cluster.agentTls!.serving);
  assert.equal(r.status, 401);
  assert.match(r.body.message, /not trusted: .*purpose/i);
});

test("the apiserver's client certificate gets metrics, and consoles (404 for a VM the node does not run)", async () => {
  const apiserver = cluster.agentTls!.apiserverClient;
  const metrics = await get('/metrics', apiserver);
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /shoal_agent_vm_instances/);
  const missing = await get('/logs/default/ghost', apiserver);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.reason, 'NotFound');
});

test('a certificate in group system:monitoring (a Prometheus) reads /metrics, and no console', async () => {
  const prometheus = await makeClientCertificate(cluster.agentTls!.certs, 'prometheus', { groups: [MONITORING_GROUP] });
  const metrics = await get('/metrics', prometheus);
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^# TYPE shoal_agent_fencings_total counter$/m);
  const console = await get('/logs/default/anything', prometheus);
  assert.equal(console.status, 403);
  assert.match(
    console.body.message,
    new RegExp(`User "prometheus" cannot get path "/logs/default/anything": only clients in group "${AGENT_CLIENT_GROUP}" may`),
  );
});

test('--metrics-allowed-groups replaces system:monitoring with its own groups', async () => {
  const other = await cluster.startAgent('tls-metrics-node', { args: ['--runtime', 'simulated', '--metrics-allowed-groups', 'team-metrics, ops'] });
  const certs = cluster.agentTls!.certs;
  const team = await makeClientCertificate(certs, 'team-scraper', { groups: ['team-metrics'] });
  const monitoring = await makeClientCertificate(certs, 'prometheus-elsewhere', { groups: [MONITORING_GROUP] });
  assert.equal((await get('/metrics', team, other)).status, 200);
  assert.equal((await get('/metrics', cluster.agentTls!.apiserverClient, other)).status, 200, 'the console groups read metrics too');
  const refused = await get('/metrics', monitoring, other);
  assert.equal(refused.status, 403);
  assert.match(refused.body.message, new RegExp(`only clients in group "${AGENT_CLIENT_GROUP}" or "team-metrics" or "ops" may`));
  assert.equal((await get('/logs/default/anything', team, other)).status, 403);
});

test('without the TLS flags the endpoint is plain HTTP, open, and says so', async () => {
  const plain = await startAgent(cluster.servers, 'plain-node', { args: ['--runtime', 'simulated'] });
  try {
    assert.match(plain.address, /^http:\/\//);
    assert.match(plain.output(), /the agent endpoint is plain HTTP and open/);
    assert.equal((await fetch(`${plain.address}/metrics`)).status, 200);
  } finally {
    await plain.stop();
  }
});

test('bad TLS flags: exit 2 with the reason', async () => {
  const { certs, serving } = cluster.agentTls!;
  const run = (...args: string[]) =>
    execa('node', [`${REPO_ROOT}bin/shoal-agent.js`, '--server', cluster.url, '--data-dir', certs.dir, '--runtime', 'simulated', ...args], {
      reject: false,
      timeout: 30_000,
    });
  // Each an agent that exits at once: all started together.
  const [noCa, noKey, missing, mismatch, groups, metricsGroups] = await Promise.all([
    run('--tls-cert-file', serving.certFile, '--tls-private-key-file', serving.keyFile),
    run('--tls-cert-file', serving.certFile, '--client-ca-file', certs.caFile),
    run('--tls-cert-file', '/nonexistent.crt', '--tls-private-key-file', serving.keyFile, '--client-ca-file', certs.caFile),
    run('--tls-cert-file', serving.certFile, '--tls-private-key-file', certs.keyFile, '--client-ca-file', certs.caFile),
    run('--client-allowed-groups', 'x'),
    run('--metrics-allowed-groups', 'x'),
  ]);
  assert.equal(noCa.exitCode, 2);
  assert.match(noCa.stderr, /--tls-cert-file and --client-ca-file go together/);
  assert.equal(noKey.exitCode, 2);
  assert.match(noKey.stderr, /--tls-cert-file and --tls-private-key-file go together/);
  assert.equal(missing.exitCode, 2);
  assert.match(missing.stderr, /--tls-cert-file: cannot read \/nonexistent\.crt/);
  assert.equal(mismatch.exitCode, 2);
  assert.match(mismatch.stderr, /key values mismatch/);
  assert.equal(groups.exitCode, 2);
  assert.match(groups.stderr, /--client-allowed-groups needs --client-ca-file/);
  assert.equal(metricsGroups.exitCode, 2);
  assert.match(metricsGroups.stderr, /--metrics-allowed-groups needs --client-ca-file/);
});
