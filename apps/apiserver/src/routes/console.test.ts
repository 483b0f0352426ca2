/**
 * The web console's files at /ui/, on an apiserver that authenticates with tokens (real etcd):
 * served to anyone with their content types and a Content-Security-Policy that allows only this
 * origin, revalidated by ETag, nothing outside the built directory; a clear 503 before the
 * first build; the API itself still refuses requests without credentials.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdMember } from '@shoal/testing';
import { buildApp, type ApiServer } from '../app.js';
import { parseTokenFile, TokenAuthenticator } from '../auth/token-file.js';

let member: EtcdMember;
let etcd: Etcd3;
let dir: string;
let built: string;
let server: ApiServer;

const INDEX = '<!doctype html><title>Shoal</title><script type="module" src="app.js"></script>';

before(async () => {
  member = await startEtcd({ name: 'console-routes' });
  etcd = new Etcd3({ hosts: member.endpoint });
  dir = await mkdtemp(join(tmpdir(), 'shoal-console-routes-'));
  built = join(dir, 'dist');
  await mkdir(built);
  await writeFile(join(built, 'index.html'), INDEX);
  await writeFile(join(built, 'app.js'), 'console.log("hi")');
  await writeFile(join(built, 'app.css'), 'body{}');
  await writeFile(join(dir, 'secret.txt'), 'not for the web');
  const tokens = new TokenAuthenticator(parseTokenFile('admin-token,admin,1,system:masters\n', 'tokens.csv'));
  server = await buildApp({ etcd, consoleDir: built, auth: { tokens } });
});

after(async () => {
  await server?.close();
  etcd?.close();
  await member?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('/ui/ is the console’s index.html, to anyone, under a policy that allows only this origin; /ui redirects there', async () => {
  const index = await server.app.inject({ method: 'GET', url: '/ui/' });
  assert.equal(index.statusCode, 200, index.body);
  assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(index.body, INDEX);
  const csp = String(index.headers['content-security-policy']);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /connect-src 'self'/);
  assert.doesNotMatch(csp, /https?:|\*|unsafe-inline|unsafe-eval/, 'no remote source, no inline script');
  assert.equal(index.headers['x-content-type-options'], 'nosniff');

  const bare = await server.app.inject({ method: 'GET', url: '/ui' });
  assert.equal(bare.statusCode, 308);
  assert.equal(bare.headers.location, '/ui/');

  // The API is not opened with it.
  assert.equal((await server.app.inject({ method: 'GET', url: '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines' })).statusCode, 401);
  const asAdmin = await server.app.inject({
    method: 'GET',
    url: '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines',
    headers: { authorization: 'Bearer admin-token' },
  });
  assert.equal(asAdmin.statusCode, 200);
});

test('scripts and styles go with their types and an ETag; an unchanged file is a 304', async () => {
  const js = await server.app.inject({ method: 'GET', url: '/ui/app.js' });
  assert.equal(js.statusCode, 200);
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(js.body, 'console.log("hi")');
  assert.equal(js.headers['cache-control'], 'no-cache');
  const etag = String(js.headers.etag);
  assert.match(etag, /^".+"$/);
  const again = await server.app.inject({ method: 'GET', url: '/ui/app.js', headers: { 'if-none-match': etag } });
  assert.equal(again.statusCode, 304);
  assert.equal(again.body, '');
  const css = await server.app.inject({ method: 'GET', url: '/ui/app.css' });
  assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
});

test('nothing but the built files: missing ones, other types and paths out of the directory are 404 Status', async () => {
  for (const url of ['/ui/missing.js', '/ui/..%2Fsecret.txt', '/ui/.%2E%2Fsecret.txt', '/ui/.app.js', '/ui/index.exe', '/ui/a/app.js']) {
    const r = await server.app.inject({ method: 'GET', url });
    assert.equal(r.statusCode, 404, `${url}: ${r.statusCode} ${r.body}`);
    assert.equal(r.json().kind, 'Status', url);
    assert.doesNotMatch(r.body, /not for the web/);
  }
  // A bad token on the console's files is still a bad token.
  assert.equal((await server.app.inject({ method: 'GET', url: '/ui/', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
});

test('before the first build /ui/ says so (503), and serves the build as soon as it is there', async () => {
  const empty = join(dir, 'not-built');
  const unbuilt = await buildApp({ etcd, consoleDir: empty });
  try {
    const r = await unbuilt.app.inject({ method: 'GET', url: '/ui/' });
    assert.equal(r.statusCode, 503);
    assert.match(r.json().message, /the web console is not built: run "npm run build"/);
    await mkdir(empty);
    await writeFile(join(empty, 'index.html'), INDEX);
    assert.equal((await unbuilt.app.inject({ method: 'GET', url: '/ui/' })).statusCode, 200);
    assert.equal((await unbuilt.app.inject({ method: 'GET', url: '/ui/app.js' })).statusCode, 404, 'built, and this file is not part of it');
  } finally {
    await unbuilt.close();
  }
});
