/**
 * The VM console log route against a real etcd and apiserver. The node agent's side is the
 * stand-in HTTP server from @shoal/testing, which speaks the agent's log contract and lets each
 * case write console lines, end or drop the stream on cue; the route against the real agent and
 * a QEMU guest is covered by apps/cli/src/commands/logs/logs.test.ts, and over HTTPS with the
 * apiserver's agent-client certificate by e2e/node-endpoint-tls.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { freePort, http, makeServerCertificates, startAgentLogStandIn, startCluster, waitFor, type AgentLogStandIn, type TestCluster } from '@shoal/testing';

const API = '/apis/shoal.dev/v1alpha1';
const VMS = `${API}/namespaces/default/virtualmachines`;
let cp: TestCluster;
let agent: AgentLogStandIn;

const api = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => http<T>(cp.url, method, path, body, headers);

async function createNode(name: string, agentAddress?: string): Promise<void> {
  const created = await api('POST', `${API}/nodes`, { metadata: { name } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  if (agentAddress === undefined) return;
  const patched = await api('PATCH', `${API}/nodes/${name}/status`, { status: { agentAddress } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
}

async function createVm(name: string, nodeName?: string): Promise<void> {
  const created = await api('POST', VMS, { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name }, spec: nodeName ? { nodeName } : {} });
  assert.equal(created.status, 201, JSON.stringify(created.body));
}

/** Reads a streamed body until `done(text so far)` holds, within a deadline. */
async function readUntil(chunks: AsyncIterator<Buffer>, done: (text: string) => boolean, sofar = '', timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = sofar;
  while (!done(text)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting in the stream; got ${JSON.stringify(text)}`);
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      chunks.next(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting in the stream; got ${JSON.stringify(text)}`)), left))),
    ]).finally(() => clearTimeout(timer));
    if (next.done) throw new Error(`the stream ended; got ${JSON.stringify(text)}`);
    text += next.value.toString('utf8');
  }
  return text;
}

before(async () => {
  cp = await startCluster();
  agent = await startAgentLogStandIn();
  await createNode('node-up', agent.address);
});
after(async () => {
  await cp?.stop();
  await agent?.stop();
});

test('discovery lists virtualmachines/log with the get verb', async () => {
  const list = await api('GET', API);
  const log = list.body.resources.find((r: { name: string }) => r.name === 'virtualmachines/log');
  assert.deepEqual({ ...log }, { name: 'virtualmachines/log', singularName: '', namespaced: true, kind: 'VirtualMachine', verbs: ['get'] });
});

test('OpenAPI documents the log path', async () => {
  const doc = await api('GET', `/openapi/v3/apis/shoal.dev/v1alpha1`);
  assert.equal(doc.status, 200);
  const op = doc.body.paths['/apis/shoal.dev/v1alpha1/namespaces/{namespace}/virtualmachines/{name}/log']?.get;
  assert.equal(op?.operationId, 'readNamespacedVirtualMachineLog');
});

test('the log of a VM that does not exist is a 404 Status', async () => {
  const r = await api('GET', `${VMS}/ghost/log`);
  assert.equal(r.status, 404);
  assert.equal(r.body.kind, 'Status');
  assert.equal(r.body.reason, 'NotFound');
  assert.equal(r.body.message, 'virtualmachines.shoal.dev "ghost" not found');
});

test('the log of a VM not yet on a node is a 400 saying so', async () => {
  await createVm('unscheduled');
  const r = await api('GET', `${VMS}/unscheduled/log`);
  assert.equal(r.status, 400);
  assert.equal(r.body.kind, 'Status');
  assert.equal(r.body.reason, 'BadRequest');
  assert.equal(r.body.message, 'virtualmachine unscheduled is not scheduled to a node yet');
});

test('503 when the node has no agent address, the agent does not answer, or the node is gone', async () => {
  await createNode('node-unregistered');
  await createVm('on-unregistered', 'node-unregistered');
  const unregistered = await api('GET', `${VMS}/on-unregistered/log`);
  assert.equal(unregistered.status, 503);
  assert.equal(unregistered.body.reason, 'ServiceUnavailable');
  assert.match(unregistered.body.message, /node node-unregistered has no agent address/);

  const deadAddress = `http://127.0.0.1:${await freePort()}`;
  await createNode('node-down', deadAddress);
  await createVm('on-down', 'node-down');
  const down = await api('GET', `${VMS}/on-down/log?follow=true`);
  assert.equal(down.status, 503);
  assert.equal(down.body.kind, 'Status');
  assert.equal(down.body.reason, 'ServiceUnavailable');
  assert.match(down.body.message, new RegExp(`cannot reach the agent of node node-down at ${deadAddress}: .*ECONNREFUSED`));

  await createVm('on-missing-node', 'no-such-node');
  const missing = await api('GET', `${VMS}/on-missing-node/log`);
  assert.equal(missing.status, 503);
  assert.match(missing.body.message, /bound to node no-such-node, which does not exist/);
});

test('a finished log is relayed whole, with tailLines passed to the agent', async () => {
  await createVm('done', 'node-up');
  const boot = Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join('');
  agent.write('default', 'done', boot);
  const all = await api('GET', `${VMS}/done/log`);
  assert.equal(all.status, 200);
  assert.equal(all.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(all.body, boot);
  assert.deepEqual({ ...agent.requests.at(-1) }, { namespace: 'default', name: 'done', follow: false, tailLines: undefined, closed: true });

  const tail = await api('GET', `${VMS}/done/log?tailLines=2`);
  assert.equal(tail.body, 'line 48\nline 49\n');
  assert.equal(agent.requests.at(-1)!.tailLines, 2);

  const negative = await api('GET', `${VMS}/done/log?tailLines=-1`);
  assert.equal(negative.status, 400);
  const badFollow = await api('GET', `${VMS}/done/log?follow=maybe`);
  assert.equal(badFollow.status, 400);
  assert.match(badFollow.body.message, /invalid follow "maybe"/);
});

test('a large log arrives intact', async () => {
  await createVm('chatty', 'node-up');
  const line = `${'x'.repeat(99)}\n`;
  const big = line.repeat(40_000); // 4 MB
  agent.write('default', 'chatty', big);
  const res = await request(`${cp.url}${VMS}/chatty/log`);
  assert.equal(res.statusCode, 200);
  let bytes = 0;
  let chunks = 0;
  for await (const chunk of res.body) {
    bytes += (chunk as Buffer).length;
    chunks++;
  }
  assert.equal(bytes, big.length);
  assert.ok(chunks > 1, 'the body came in more than one chunk');
});

test("the agent's own 404 (no such VM on the node) is passed through as it is", async () => {
  await createVm('not-started', 'node-up');
  const r = await api('GET', `${VMS}/not-started/log`);
  assert.equal(r.status, 404);
  assert.equal(r.body.kind, 'Status');
  assert.equal(r.body.message, 'virtualmachine default/not-started is not on this node');
});

test('follow streams new console output, and the agent stream closes when the client goes away', async () => {
  await createVm('live', 'node-up');
  agent.write('default', 'live', 'booting\n');
  const controller = new AbortController();
  const res = await request(`${cp.url}${VMS}/live/log?follow=true`, { signal: controller.signal });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  const chunks = (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let text = await readUntil(chunks, (t) => t.includes('booting\n'));
  assert.equal(agent.openFollowers('default', 'live'), 1);
  assert.equal(agent.requests.at(-1)!.follow, true);

  agent.write('default', 'live', 'SHOAL-BOOTED\n');
  text = await readUntil(chunks, (t) => t.includes('SHOAL-BOOTED\n'), text);
  agent.write('default', 'live', 'tick 1\n');
  agent.write('default', 'live', 'tick 2\n');
  text = await readUntil(chunks, (t) => t.includes('tick 2\n'), text);
  assert.equal(text, 'booting\nSHOAL-BOOTED\ntick 1\ntick 2\n');

  controller.abort();
  await waitFor(() => agent.openFollowers('default', 'live') === 0 && agent.requests.at(-1)!.closed, {
    message: 'the agent stream to close after the client left',
  });
});

test('a followed console that has said nothing yet still answers its headers at once', async () => {
  await createVm('quiet', 'node-up');
  agent.write('default', 'quiet', '');
  const controller = new AbortController();
  const res = await request(`${cp.url}${VMS}/quiet/log?follow=true`, { signal: controller.signal, headersTimeout: 5_000 });
  assert.equal(res.statusCode, 200);
  const chunks = (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  agent.write('default', 'quiet', 'finally\n');
  assert.equal(await readUntil(chunks, (t) => t.includes('finally\n')), 'finally\n');
  controller.abort();
  await waitFor(() => agent.openFollowers('default', 'quiet') === 0);
});

test('follow ends when the agent ends the stream', async () => {
  await createVm('ending', 'node-up');
  agent.write('default', 'ending', 'last words\n');
  const res = await request(`${cp.url}${VMS}/ending/log?follow=true&tailLines=1`);
  const chunks = (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const text = await readUntil(chunks, (t) => t.includes('last words\n'));
  await waitFor(() => agent.openFollowers('default', 'ending') === 1);
  agent.endStreams('default', 'ending');
  const next = await chunks.next();
  assert.equal(next.done, true);
  assert.equal(text, 'last words\n');
});

test('an https:// address where the agent speaks plain HTTP is a 502 saying so', async () => {
  await createNode('node-plain', agent.address.replace(/^http:/, 'https:'));
  await createVm('on-plain', 'node-plain');
  const r = await api('GET', `${VMS}/on-plain/log`);
  assert.equal(r.status, 502, JSON.stringify(r.body));
  assert.equal(r.body.reason, 'BadGateway');
  assert.match(r.body.message, /^the agent of node node-plain at https:\/\/127\.0\.0\.1:\d+ does not speak TLS: .*its address should be http:\/\//);
});

test('an agent that ends the TLS handshake over a missing client certificate is a 502 naming the flag', async () => {
  // A stricter agent than Shoal's (which answers 401): it wants a certificate during the handshake.
  const certs = await makeServerCertificates();
  const strict = createServer(
    { cert: await readFile(certs.certFile), key: await readFile(certs.keyFile), ca: await readFile(certs.caFile), requestCert: true, rejectUnauthorized: true },
    (_req, res) => res.end('never without a certificate'),
  );
  await new Promise<void>((resolve) => strict.listen(0, '127.0.0.1', resolve));
  try {
    const apiserver = await cp.startApiserver({ args: ['--agent-certificate-authority', certs.caFile] });
    await createNode('node-strict', `https://127.0.0.1:${(strict.address() as AddressInfo).port}`);
    await createVm('on-strict', 'node-strict');
    const r = await http(apiserver.url, 'GET', `${VMS}/on-strict/log`);
    assert.equal(r.status, 502, JSON.stringify(r.body));
    assert.equal(r.body.reason, 'BadGateway');
    assert.match(
      r.body.message,
      /^the agent of node node-strict at https:\S+ (refused the apiserver's TLS handshake|closed the connection without a word after the TLS handshake).*this apiserver has none \(--agent-client-certificate\)/,
    );
  } finally {
    strict.closeAllConnections();
    await new Promise((resolve) => strict.close(resolve));
    await rm(certs.dir, { recursive: true, force: true });
  }
});
