/** waitFor and the object waits built on it: what a timeout says is what the test author needs to read. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type TestCluster } from './cluster.js';
import { waitFor, waitForGone, waitForObject } from './wait-for.js';

test('waitFor answers the first truthy value; on timeout it names what was awaited and the last error or state', async () => {
  let n = 0;
  assert.equal(await waitFor(() => (++n >= 3 ? n : undefined), { intervalMs: 1 }), 3);
  await assert.rejects(
    waitFor(() => false, { timeoutMs: 50, intervalMs: 5, message: 'the moon', lastSeen: () => 'still the sun' }),
    {
      message: 'timed out after 50 ms waiting for the moon; last seen: still the sun',
    },
  );
  await assert.rejects(
    waitFor(
      () => {
        throw new Error('connection refused');
      },
      { timeoutMs: 50, intervalMs: 5, message: 'the server' },
    ),
    { message: 'timed out after 50 ms waiting for the server (last error: connection refused)' },
  );
  // An error from an earlier probe is not what the last probe saw.
  let calls = 0;
  const err = await waitFor(
    () => {
      if (++calls === 1) throw new Error('early hiccup');
      return false;
    },
    { timeoutMs: 50, intervalMs: 5, message: 'x', lastSeen: () => 'false again' },
  ).catch((e: Error) => e);
  assert.equal((err as Error).message, 'timed out after 50 ms waiting for x; last seen: false again');
});

let cluster: TestCluster;
before(async () => {
  cluster = await startCluster();
});
after(async () => {
  await cluster?.stop();
});

test('waitForObject answers the object once the predicate holds; its timeout names the object, what was awaited and the object as last seen', async () => {
  const { client } = cluster;
  await client.create('vm', { metadata: { name: 'w1' }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } });
  setTimeout(() => void client.patch('vm', 'w1', { metadata: { labels: { ready: 'yes' } } }, { type: 'merge' }), 100);
  const vm = await waitForObject(client, 'VirtualMachine', 'w1', (v) => v.metadata.labels?.ready === 'yes', { message: 'labelled ready' });
  assert.equal(vm.spec.runStrategy, 'Halted');

  const err = (await waitForObject(client, 'VirtualMachine', 'w1', (v) => v.status?.phase === 'Running', {
    timeoutMs: 200,
    message: 'Running',
    namespace: 'default',
  }).catch((e) => e)) as Error;
  assert.match(
    err.message,
    /^timed out after 200 ms waiting for VirtualMachine default\/w1: Running; last seen: \{"metadata":\{"name":"w1".*"runStrategy":"Halted"/,
  );

  const missing = (await waitForObject(client, 'Node', 'nowhere', () => true, { timeoutMs: 200 }).catch((e) => e)) as Error;
  assert.match(missing.message, /^timed out after 200 ms waiting for Node nowhere to match \(last error: .*not found/);
});

test('waitForGone returns once a get says NotFound; its timeout shows what is still there', async () => {
  const { client } = cluster;
  await client.create('vm', {
    metadata: { name: 'w2', finalizers: ['test.shoal.dev/hold'] },
    spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } },
  });
  await client.delete('vm', 'w2');
  const err = (await waitForGone(client, 'VirtualMachine', 'w2', { timeoutMs: 200 }).catch((e) => e)) as Error;
  assert.match(
    err.message,
    /^timed out after 200 ms waiting for VirtualMachine w2 to be gone; last seen: \{"metadata":\{"name":"w2","finalizers":\["test.shoal.dev\/hold"\]/,
  );
  assert.match(err.message, /"deletionTimestamp":"[^"]+"/);
  await client.patch('vm', 'w2', { metadata: { finalizers: null } }, { type: 'merge' });
  await waitForGone(client, 'VirtualMachine', 'w2');
});
