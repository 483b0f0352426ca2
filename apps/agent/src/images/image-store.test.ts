/**
 * The node's image cache against a real HTTP server on a free port and real files: what is kept
 * is verified, what does not match is never kept, a source that cannot be reached is said, and
 * one file is fetched once however many ask.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { waitFor } from '@shoal/testing';
import { IMAGE_DIGEST_MISMATCH, IMAGE_PULL_FAILED, ImageStore, type FileState } from './image-store.js';

const log = pino({ level: 'silent' });
const content = randomBytes(3 * 1024 * 1024);
const sha256 = createHash('sha256').update(content).digest('hex');
let server: Server;
let base: string;
let dir: string;
let served = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-image-store-'));
  server = createServer((req, res) => {
    if (req.url === '/kernel') {
      served++;
      res.writeHead(200, { 'content-length': content.length });
      res.end(content);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

/** Asks until the fetch has ended, as a reconcile coming back would. */
async function settled(store: ImageStore, file: { url: string; sha256: string }): Promise<FileState> {
  return waitFor(
    () => {
      const s = store.request(file);
      return s.state === 'fetching' ? undefined : s;
    },
    { timeoutMs: 10_000, message: `the fetch of ${file.url} to end` },
  );
}

test('a file is fetched once however many ask, kept under its digest, verified, and found again by a new store', async () => {
  const root = join(dir, 'once');
  const store = new ImageStore({ root, log });
  await store.load();
  const file = { url: `${base}/kernel`, sha256 };
  const before = served;
  const first = [store.request(file), store.request(file), store.request(file)];
  assert.ok(first.every((s) => s.state === 'fetching'));
  const ready = await settled(store, file);
  assert.equal(ready.state, 'ready');
  assert.equal(served - before, 1, 'one download for three askers');
  assert.equal(ready.state === 'ready' && ready.path, join(root, 'sha256', sha256));
  assert.deepEqual(await readFile(join(root, 'sha256', sha256)), content);
  assert.deepEqual(store.list(), [{ sha256, sizeBytes: content.length }]);

  const again = new ImageStore({ root, log });
  await again.load();
  assert.equal(again.request(file).state, 'ready', 'a restarted agent does not fetch it again');
  assert.equal(served - before, 1);
});

test('a file whose digest does not match is thrown away and said; nothing is kept under either digest', async () => {
  const root = join(dir, 'mismatch');
  const store = new ImageStore({ root, log });
  await store.load();
  const wrong = 'f'.repeat(64);
  const s = await settled(store, { url: `${base}/kernel`, sha256: wrong });
  assert.equal(s.state, 'failed');
  assert.equal(s.state === 'failed' && s.reason, IMAGE_DIGEST_MISMATCH);
  assert.match(s.state === 'failed' ? s.message : '', new RegExp(`has sha256 ${sha256}, not the ${wrong}`));
  assert.deepEqual(await readdir(join(root, 'sha256')), [], 'no file kept, not even a partial one');
  assert.deepEqual(store.list(), []);
});

test('a source that cannot be reached, or answers 404, is said with the reason, and tried again only after the retry delay', async () => {
  const store = new ImageStore({ root: join(dir, 'unreachable'), log, retryAfterMs: 300 });
  await store.load();
  // A port nothing listens on: a server started and closed again.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const refused = await settled(store, { url: `http://127.0.0.1:${port}/vmlinuz`, sha256 });
  assert.equal(refused.state === 'failed' && refused.reason, IMAGE_PULL_FAILED);
  assert.match(refused.state === 'failed' ? refused.message : '', /ECONNREFUSED/);
  assert.equal(store.request({ url: `http://127.0.0.1:${port}/vmlinuz`, sha256 }).state, 'failed', 'not tried again at once');

  const missing = await settled(store, { url: `${base}/nothing-here`, sha256: 'a'.repeat(64) });
  assert.match(missing.state === 'failed' ? missing.message : '', /HTTP 404/);
  // Once the delay has passed, a request tries again.
  await waitFor(() => store.request({ url: `http://127.0.0.1:${port}/vmlinuz`, sha256 }).state === 'fetching', {
    timeoutMs: 5_000,
    message: 'a new attempt after the retry delay',
  });
});

test('file:// URLs are read from the node’s own filesystem, verified the same way', async () => {
  const path = join(dir, 'initrd.img');
  await writeFile(path, content);
  const store = new ImageStore({ root: join(dir, 'file'), log });
  await store.load();
  const s = await settled(store, { url: pathToFileURL(path).href, sha256 });
  assert.equal(s.state, 'ready');
  const gone = await settled(store, { url: pathToFileURL(join(dir, 'missing.img')).href, sha256: 'b'.repeat(64) });
  assert.match(gone.state === 'failed' ? gone.message : '', /ENOENT/);
});
