/**
 * The heartbeat file is touched only by a successful renewal, against a real etcd + apiserver:
 * its mtime is the Lease's renewTime after a success, and neither an error answer nor an
 * unreachable apiserver moves it (nor the FenceClock).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, NODE_LEASE_NAMESPACE, type Lease } from '@shoal/api';
import { ShoalClient } from '@shoal/client';
import { startCluster, type TestCluster } from '@shoal/testing';
import { FenceClock } from './fencing/fence-clock.js';
import { LeaseHeartbeat } from './lease-heartbeat.js';

let cp: TestCluster;
let dir: string;
before(async () => {
  cp = await startCluster();
  dir = await mkdtemp(join(tmpdir(), 'shoal-heartbeat-'));
});
after(async () => {
  await cp?.stop();
  await rm(dir, { recursive: true, force: true });
});

const silent = { warn() {} };

function heartbeat(nodeName: string, server = cp.url) {
  const clock = new FenceClock(2_000, 3_000);
  const file = join(dir, `${nodeName}.heartbeat`);
  // No client retries: each renew() here is one attempt, so a failure shows at once.
  const client = new ShoalClient({ server, retry: { maxRetries: 0 } });
  return { clock, file, hb: new LeaseHeartbeat({ client, nodeName, leaseDurationSeconds: 2, renewIntervalMs: 500, heartbeatFile: file, clock, log: silent }) };
}

/** Rounded: mtimeMs is a float that can miss the whole millisecond by a hair. */
const mtimeMs = (file: string) =>
  stat(file).then(
    (s) => Math.round(s.mtimeMs),
    () => undefined,
  );

test('a successful renewal creates the Lease, and the file says its renewTime', async () => {
  const { hb, file, clock } = heartbeat('hb-ok');
  await hb.renew();
  const lease = await cp.client.get<Lease>('lease', 'hb-ok', { namespace: NODE_LEASE_NAMESPACE });
  assert.equal(lease.spec.leaseDurationSeconds, 2);
  const renewTime = Date.parse(lease.spec.renewTime!);
  assert.equal(await mtimeMs(file), renewTime);
  assert.equal(clock.lastRenewal, renewTime);
  // And a renewal of the existing Lease moves both on.
  await hb.renew();
  assert.ok((await mtimeMs(file))! >= renewTime);
});

test('an error answer from the apiserver touches nothing', async () => {
  // Not a valid object name: the apiserver answers 404 to the patch and 422 to the create.
  const { hb, file, clock } = heartbeat('Not_A_Valid_Name');
  await assert.rejects(hb.renew(), (err) => err instanceof ApiError && err.code >= 400 && err.code !== 404);
  assert.equal(await mtimeMs(file), undefined, 'never created');
  assert.equal(clock.lastRenewal, undefined);
});

test('an unreachable apiserver touches nothing', async () => {
  const ok = heartbeat('hb-down');
  await ok.hb.renew();
  const before = await mtimeMs(ok.file);
  // The same node and file, through a port where nothing listens.
  const down = new LeaseHeartbeat({
    client: new ShoalClient({ server: 'http://127.0.0.1:1', retry: { maxRetries: 0 } }),
    nodeName: 'hb-down',
    leaseDurationSeconds: 2,
    renewIntervalMs: 500,
    heartbeatFile: ok.file,
    clock: ok.clock,
    log: silent,
  });
  const last = ok.clock.lastRenewal;
  await assert.rejects(down.renew());
  assert.equal(await mtimeMs(ok.file), before);
  assert.equal(ok.clock.lastRenewal, last);
});
