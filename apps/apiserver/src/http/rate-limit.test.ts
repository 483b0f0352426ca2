/** The per-user token bucket: its arithmetic on a fake clock, and the 429 Status a fastify app answers with. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { register } from 'prom-client';
import { registerErrorHandling } from './errors.js';
import { registerRateLimit, requestUser, TokenBuckets } from './rate-limit.js';

test('a bucket grants its burst at once, then one request per 1/rate seconds', () => {
  const b = new TokenBuckets(2, 3);
  const t0 = 1_000_000;
  assert.deepEqual([b.take('u', t0), b.take('u', t0), b.take('u', t0)], [0, 0, 0]);
  assert.equal(b.take('u', t0), 1, 'empty: retry after a whole second (half a second rounded up)');
  assert.equal(b.take('u', t0 + 499), 1);
  assert.equal(b.take('u', t0 + 1000), 0, 'refilled one token after half a second');
  assert.equal(b.take('other', t0 + 1000), 0, 'another user has a bucket of their own');
  assert.equal(b.take('u', t0 + 60_000), 0);
  assert.equal(b.take('u', t0 + 60_000), 0);
  assert.equal(b.take('u', t0 + 60_000), 0);
  assert.equal(b.take('u', t0 + 60_000), 1, 'a long idle time refills no more than the burst');
});

test('Retry-After is the wait for the next token, in whole seconds', () => {
  const b = new TokenBuckets(0.25, 1);
  assert.equal(b.take('u', 0), 0);
  assert.equal(b.take('u', 0), 4);
  assert.equal(b.take('u', 2000), 2);
});

test('idle buckets are dropped (they would be full anyway)', () => {
  const b = new TokenBuckets(100, 10);
  for (let i = 0; i < 1000; i++) b.take(`ip:10.0.${i >> 8}.${i & 255}`, 0);
  assert.equal(b.size, 1000);
  b.take('late', 120_000);
  assert.equal(b.size, 1);
});

test('nonsense settings are refused', () => {
  assert.throws(() => new TokenBuckets(0, 1), /positive/);
  assert.throws(() => new TokenBuckets(1, 0), /burst/);
});

async function appWith(perSecond: number, burst: number, userOf?: Parameters<typeof registerRateLimit>[1]['userOf']) {
  const app = Fastify();
  registerErrorHandling(app);
  registerRateLimit(app, { perSecond, burst, userOf });
  app.get('/things', async () => ({ ok: true }));
  app.post('/things', async () => ({ ok: true }));
  app.get('/healthz', async () => 'ok');
  app.get('/readyz', async () => 'ok');
  app.get('/readyz/etcd', async () => 'ok');
  app.get('/livez', async () => 'ok');
  await app.ready();
  return app;
}

const rejectedTotal = async () => (await register.getSingleMetric('shoal_apiserver_rate_limited_requests_total')!.get()).values[0]?.value ?? 0;

test('over the limit: 429 TooManyRequests Status with Retry-After, counted in the metric', async () => {
  const app = await appWith(1, 2);
  const before = await rejectedTotal();
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) codes.push((await app.inject({ method: 'GET', url: '/things' })).statusCode);
  assert.deepEqual(codes, [200, 200, 429, 429, 429]);
  const res = await app.inject({ method: 'POST', url: '/things', payload: { big: 'x'.repeat(1000) } });
  assert.equal(res.statusCode, 429);
  assert.equal(res.headers['retry-after'], '1');
  const status = res.json();
  assert.equal(status.kind, 'Status');
  assert.equal(status.status, 'Failure');
  assert.equal(status.reason, 'TooManyRequests');
  assert.equal(status.code, 429);
  assert.equal(status.details.retryAfterSeconds, 1);
  assert.equal((await rejectedTotal()) - before, 4);
  await app.close();
});

test('health endpoints are never limited', async () => {
  const app = await appWith(1, 1);
  await app.inject({ method: 'GET', url: '/things' });
  assert.equal((await app.inject({ method: 'GET', url: '/things' })).statusCode, 429);
  for (const url of ['/healthz', '/readyz', '/readyz/etcd', '/livez', '/readyz?verbose']) {
    for (let i = 0; i < 3; i++) assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url);
  }
  await app.close();
});

test('each user has a bucket: the authenticated user when there is one, else the client address', async () => {
  const app = await appWith(1, 1, (req) =>
    requestUser(Object.assign(req, { user: req.headers['x-user'] ? { name: req.headers['x-user'], groups: [] } : undefined })),
  );
  const as = (user?: string) => app.inject({ method: 'GET', url: '/things', headers: user ? { 'x-user': user } : {} }).then((r) => r.statusCode);
  assert.equal(await as('alice'), 200);
  assert.equal(await as('alice'), 429);
  assert.equal(await as('bob'), 200, 'bob is not slowed down by alice');
  assert.equal(await as(), 200, 'the anonymous client at 127.0.0.1 has its own bucket');
  assert.equal(await as(), 429);
  assert.equal(await as('system:anonymous'), 429, 'system:anonymous is not one user: it is limited by address');
  await app.close();
});
