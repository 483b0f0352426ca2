/** What a test sees when etcd cannot start: an error at once with etcd's own reason, not a wait until the deadline. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdExitedError, etcdClientUrl, spawnEtcd, waitForEtcdStart, type EtcdMemberConfig } from './etcd.js';
import { freePort } from '@shoal/api';

test('an etcd whose client port is taken fails at once, saying so, instead of waiting out the deadline', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'shoal-etcd-port-taken-'));
  const taken = await listenOn(await freePort());
  try {
    const config: EtcdMemberConfig = { name: 'taken', dataDir, clientPort: (taken.address() as { port: number }).port, peerPort: await freePort() };
    const proc = spawnEtcd(config, [config], 'shoal-port-taken');
    const started = Date.now();
    const err = await waitForEtcdStart(proc, etcdClientUrl(config), 20_000).then(
      () => assert.fail('etcd became healthy on a port another process listens on'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof EtcdExitedError, `not an EtcdExitedError: ${String(err)}`);
    assert.equal(err.portTaken, true, err.message);
    assert.match(err.message, /address already in use/);
    assert.ok(Date.now() - started < 10_000, `it took ${Date.now() - started} ms to notice`);
  } finally {
    await close(taken);
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** A listener that hangs up on whoever connects (the health probe), so that closing it never waits. */
function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer((socket) => socket.destroy());
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

const close = (srv: Server) => new Promise<void>((resolve) => srv.close(() => resolve()));
