/**
 * The GitRepository webhook against a real etcd and a real apiserver process that authenticates
 * users with tokens and authorizes with RBAC: the webhook sits outside both and takes only the
 * token of its repository's webhook Secret.
 *
 *   the right token, as a bearer token or a GitHub body signature → 202 and the reconcile-requested-at annotation
 *   a wrong token, none, a user's token, a Secret without a token   → 401, nothing changed
 *   no such repository, or one without webhookSecretRef            → the same 404
 *   a body too big → 413; a flood from one address → 429; every call counted in /metrics
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitRepositoryWebhookPath, RECONCILE_REQUESTED_ANNOTATION, type GitRepository } from '@shoal/api';
import { http, startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { MAX_WEBHOOK_BODY } from './gitrepository-webhook.js';

const TOKEN = 'hook-token-5f2a';
const NS = { namespace: 'default' };
let dir: string;
let cp: TestCluster;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-webhook-'));
  await writeFile(join(dir, 'tokens.csv'), 'admin-token,admin,1,system:masters\n');
  cp = await startCluster({
    apiserverArgs: ['--token-auth-file', join(dir, 'tokens.csv'), '--authorization-mode', 'Node,RBAC'],
    client: { token: 'admin-token' },
  });
  const { client } = cp;
  await client.create('secret', { metadata: { name: 'hook' }, type: 'shoal.dev/webhook-token', stringData: { token: TOKEN } }, NS);
  await client.create('secret', { metadata: { name: 'no-token' }, stringData: { other: 'x' } }, NS);
  const repo = (name: string, webhookSecret?: string) =>
    client.create(
      'gitrepository',
      { metadata: { name }, spec: { url: '/srv/git/vms.git', ...(webhookSecret ? { webhookSecretRef: { name: webhookSecret } } : {}) } },
      NS,
    );
  await repo('plain');
  await repo('tokenless', 'no-token');
  await repo('flood', 'hook');
  await repo('guarded', 'hook');
  await repo('vms', 'hook');
  // The apiserver serves the webhook from its watch cache, which applies changes in order: once it
  // has the last repository made, it has them all.
  await repo('last', 'hook');
  await waitFor(async () => (await call('last', bearer(TOKEN))).status === 202, { message: 'the watch cache to hold the repositories' });
});

after(async () => {
  await cp?.stop();
  await rm(dir, { recursive: true, force: true });
});

const call = (name: string, headers: Record<string, string>, body = '{"ref":"refs/heads/main"}', namespace = 'default') =>
  http(cp.url, 'POST', gitRepositoryWebhookPath(namespace, name), body, { 'content-type': 'application/json', ...headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const signed = (body: string, key: string) => ({ 'x-hub-signature-256': `sha256=${createHmac('sha256', key).update(body).digest('hex')}` });
const requestedAt = async (name: string) =>
  (await cp.client.get<GitRepository>('gitrepository', name, NS)).metadata.annotations?.[RECONCILE_REQUESTED_ANNOTATION];

test('the right token, as a bearer token or as the key of a body signature, sets reconcile-requested-at and answers 202', async () => {
  const first = await call('vms', bearer(TOKEN));
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(first.body.kind, 'Status');
  assert.equal(first.body.code, 202);
  const afterBearer = await requestedAt('vms');
  assert.ok(afterBearer && Math.abs(Date.parse(afterBearer) - Date.now()) < 10_000, `annotation ${afterBearer}`);
  assert.match(first.body.message, new RegExp(afterBearer!.replace(/\./g, '\\.')));

  const body = JSON.stringify({ ref: 'refs/heads/main', after: 'abc' });
  const bySignature = await call('vms', signed(body, TOKEN), body);
  assert.equal(bySignature.status, 202, JSON.stringify(bySignature.body));
  const afterSignature = await requestedAt('vms');
  assert.ok(Date.parse(afterSignature!) > Date.parse(afterBearer!), `${afterSignature} after ${afterBearer}`);

  // Any content type, or none: the signature covers the bytes as sent.
  const form = 'payload=%7B%7D';
  assert.equal((await call('vms', { ...signed(form, TOKEN), 'content-type': 'application/x-www-form-urlencoded' }, form)).status, 202);
});

test('a wrong token, none, a user token, a bad signature or a Secret without a token: 401, and the annotation is left as it was', async () => {
  assert.equal((await call('guarded', bearer(TOKEN))).status, 202);
  const before = await requestedAt('guarded');
  const body = '{"zen":"x"}';
  for (const headers of [
    bearer('wrong'),
    bearer(`${TOKEN}x`),
    {},
    // A user's token authenticates users, not webhooks.
    bearer('admin-token'),
    signed(body, 'wrong'),
    { 'x-hub-signature-256': `sha256=${createHmac('sha256', TOKEN).update('another body').digest('hex')}` },
    { 'x-hub-signature-256': 'sha256=zz' },
  ]) {
    const res = await call('guarded', headers, body);
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.equal(res.body.reason, 'Unauthorized');
  }
  assert.equal(await requestedAt('guarded'), before);
  assert.equal((await call('tokenless', bearer(''))).status, 401);
  assert.equal((await call('tokenless', bearer('anything'))).status, 401);
  assert.equal(await requestedAt('tokenless'), undefined);
});

test('no such repository, or one with no webhookSecretRef: the same 404, so a caller cannot tell which', async () => {
  const missing = await call('nothing', bearer(TOKEN));
  const plain = await call('plain', bearer(TOKEN));
  const otherNamespace = await call('vms', bearer(TOKEN), '{}', 'kube-public');
  for (const [res, name] of [
    [missing, 'nothing'],
    [plain, 'plain'],
    [otherNamespace, 'vms'],
  ] as const) {
    assert.equal(res.status, 404);
    assert.equal(res.body.reason, 'NotFound');
    assert.match(res.body.message, new RegExp(`^no webhook for gitrepository "${name}"`));
  }
  assert.equal(await requestedAt('plain'), undefined);
});

test('a body past the limit is refused (413); a flood from one address is refused (429); every call is counted', async () => {
  const big = 'x'.repeat(MAX_WEBHOOK_BODY + 1);
  assert.equal((await call('vms', signed(big, TOKEN), big)).status, 413);

  const answers: number[] = [];
  for (let i = 0; i < 12; i++) answers.push((await call('flood', bearer(TOKEN))).status);
  assert.ok(answers.includes(202) && answers.at(-1) === 429, answers.join(','));
  const limited = await call('flood', bearer(TOKEN));
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers['retry-after']) >= 1);

  const metrics = await http<string>(cp.url, 'GET', '/metrics', undefined, bearer('admin-token'));
  const count = (code: number) => Number(new RegExp(`shoal_apiserver_gitrepository_webhook_calls_total\\{code="${code}"\\} (\\d+)`).exec(metrics.body)?.[1]);
  for (const code of [202, 401, 404, 413, 429]) assert.ok(count(code) >= 1, `calls answered ${code}: ${count(code)}`);
});
