/** Seats and priorities: the queue's order on plain calls, then a fastify app over real HTTP holding its one seat. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { register } from 'prom-client';
import { registerErrorHandling } from './errors.js';
import { registerRequestPriority, Seats } from './request-priority.js';

test('seats are taken up to the limit; a freed one goes to the highest level waiting, first come first served within it', () => {
  const seats = new Seats(2);
  const granted: string[] = [];
  assert.equal(
    seats.take('normal', () => granted.push('a')),
    undefined,
    'a free seat is taken at once',
  );
  assert.equal(
    seats.take('low', () => granted.push('b')),
    undefined,
  );
  assert.equal(seats.inUse, 2);
  seats.take('low', () => granted.push('low-1'));
  seats.take('normal', () => granted.push('normal-1'));
  seats.take('low', () => granted.push('low-2'));
  seats.take('high', () => granted.push('high-1'));
  seats.take('normal', () => granted.push('normal-2'));
  assert.deepEqual(granted, [], 'nobody is granted while both seats are taken');

  for (let i = 0; i < 5; i++) seats.release();
  assert.deepEqual(granted, ['high-1', 'normal-1', 'normal-2', 'low-1', 'low-2']);
  assert.equal(seats.inUse, 2, 'each release handed its seat on');
  seats.release();
  seats.release();
  assert.equal(seats.inUse, 0);
});

test('a waiter that gave up is skipped, and its seat is not lost', () => {
  const seats = new Seats(1);
  seats.take('normal', () => assert.fail('taken at once'));
  const granted: string[] = [];
  const gone = seats.take('high', () => granted.push('gone'))!;
  seats.take('normal', () => granted.push('next'));
  gone.state = 'gone';
  seats.release();
  assert.deepEqual(granted, ['next']);
  seats.release();
  assert.equal(seats.inUse, 0);
  assert.equal(
    seats.take('low', () => assert.fail('a free seat')),
    undefined,
  );
});

test('nonsense limits are refused', () => {
  assert.throws(() => new Seats(0), /at least 1/);
  assert.throws(() => new Seats(1.5), /whole number/);
});

/** A handler that does not answer until `open` is called: it holds its seat as long as that. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

async function appWithOneSeat(queueTimeoutMs = 30_000) {
  const app: FastifyInstance = Fastify();
  registerErrorHandling(app);
  registerRequestPriority(app, { maxInflight: 1, queueTimeoutMs });
  const served: string[] = [];
  const hold = gate();
  app.post('/hold', { config: { resource: 'virtualmachines', verb: 'create' } }, async () => {
    await hold.opened;
    return { ok: true };
  });
  for (const resource of ['leases', 'events', 'virtualmachines'])
    app.post(`/${resource}`, { config: { resource, verb: 'create' } }, async () => {
      served.push(resource);
      return { ok: true };
    });
  app.get('/virtualmachines', { config: { resource: 'virtualmachines', verb: 'list' } }, async (req, reply) => {
    if (!['true', 'True', '1'].includes((req.query as { watch?: string }).watch ?? '')) return { items: [] };
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/json' });
    reply.raw.write('{"type":"BOOKMARK"}\n');
    reply.raw.end();
  });
  app.get('/log', { config: { resource: 'virtualmachines/log', verb: 'get', longRunning: true } }, async () => 'console');
  app.get('/healthz', async () => 'ok');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { app, base, served, hold };
}

/** Starts a request and resolves once the server has queued it (the queued gauge moved), with its answer to come. */
async function queuedPost(base: string, path: string, priority: string, signal?: AbortSignal): Promise<{ answer: Promise<Response> }> {
  const before = await queuedCount(priority);
  const answer = fetch(`${base}${path}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, signal });
  answer.catch(() => {});
  const deadline = Date.now() + 5_000;
  while ((await queuedCount(priority)) <= before) {
    if (Date.now() > deadline) assert.fail(`${path} was never queued`);
    await new Promise((r) => setImmediate(r));
  }
  return { answer };
}

async function queuedCount(priority: string): Promise<number> {
  const m = await register.getSingleMetric('shoal_apiserver_queued_requests')!.get();
  return m.values.find((v) => v.labels.priority === priority)?.value ?? 0;
}

test('with the one seat taken, the requests waiting are served Leases first, Events last', async () => {
  const { app, base, served, hold } = await appWithOneSeat();
  try {
    const held = fetch(`${base}/hold`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    const event = (await queuedPost(base, '/events', 'low')).answer;
    const vm = (await queuedPost(base, '/virtualmachines', 'normal')).answer;
    const lease = (await queuedPost(base, '/leases', 'high')).answer;
    assert.deepEqual(served, []);

    // Watches, long-running routes and probes take no seat: they answer while it is held.
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal(await (await fetch(`${base}/log`)).text(), 'console');
    // Every spelling of the flag Kubernetes accepts, as the route reads it.
    for (const flag of ['true', 'True', '1']) {
      const watch = await fetch(`${base}/virtualmachines?watch=${flag}`);
      assert.equal(watch.status, 200);
      assert.match(await watch.text(), /BOOKMARK/);
    }

    hold.open();
    assert.equal((await held).status, 200);
    for (const answer of [lease, vm, event]) assert.equal((await answer).status, 200);
    assert.deepEqual(served, ['leases', 'virtualmachines', 'events']);
  } finally {
    hold.open();
    await app.close();
  }
});

test('a request that waits too long gets 429 with Retry-After; one whose client left is never served; the seat still turns over', async () => {
  const { app, base, served, hold } = await appWithOneSeat(200);
  try {
    const held = fetch(`${base}/hold`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    const timeoutsBefore = await timeouts('normal');
    // Not through queuedPost: it may be refused before a look at the gauge would see it waiting.
    const late = await fetch(`${base}/virtualmachines`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(late.status, 429);
    assert.equal(late.headers.get('retry-after'), '1');
    const status = (await late.json()) as { kind: string; reason: string; code: number };
    assert.deepEqual([status.kind, status.reason, status.code], ['Status', 'TooManyRequests', 429]);
    assert.equal(await timeouts('normal'), timeoutsBefore + 1);

    const leaving = new AbortController();
    const left = (await queuedPost(base, '/events', 'low', leaving.signal)).answer;
    leaving.abort();
    await assert.rejects(left);
    const deadline = Date.now() + 5_000;
    while ((await queuedCount('low')) > 0) {
      if (Date.now() > deadline) assert.fail('the request whose client left is still counted as waiting');
      await new Promise((r) => setImmediate(r));
    }

    hold.open();
    assert.equal((await held).status, 200);
    const after = await fetch(`${base}/leases`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(after.status, 200);
    assert.deepEqual(served, ['leases'], 'neither the refused request nor the abandoned one reached its handler');
  } finally {
    hold.open();
    await app.close();
  }
});

async function timeouts(priority: string): Promise<number> {
  const m = await register.getSingleMetric('shoal_apiserver_request_queue_timeouts_total')!.get();
  return m.values.find((v) => v.labels.priority === priority)?.value ?? 0;
}
