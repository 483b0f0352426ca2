/**
 * A saturated apiserver serves Lease writes first and Event writes last. A real apiserver
 * process with one seat (--max-requests-inflight 1): a create whose body is still arriving holds
 * it, while an Event create, a VM read and a Lease create wait (seen on /metrics, which takes no
 * seat, as watches and probes do not). Once the held body is complete, the three are answered
 * Lease, VM, Event — not in the order they came.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { http, startCluster, waitFor, type TestCluster } from '@shoal/testing';

const G = '/apis/shoal.dev/v1alpha1';

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster({ apiserverArgs: ['--max-requests-inflight', '1'] });
});
after(() => cluster?.stop());

async function metric(pattern: string): Promise<number> {
  const text = (await http(cluster.apiserver.url, 'GET', '/metrics')).body as string;
  return Number(new RegExp(`^${pattern} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}
const queued = (priority: string) => metric(`shoal_apiserver_queued_requests\\{priority="${priority}"\\}`);

/** A VM create whose body arrives only when `finish` is called: its request holds the seat until then. */
function slowCreate(name: string) {
  const url = new URL(`${G}/namespaces/default/virtualmachines`, cluster.apiserver.url);
  const body = JSON.stringify({
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name },
    spec: { resources: { vcpus: 1, memoryMiB: 64 } },
  });
  let finish!: () => void;
  const answered = new Promise<number>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.write(body.slice(0, 10));
    finish = () => req.end(body.slice(10));
  });
  return { answered, finish: () => finish() };
}

test('with its one seat held, the apiserver answers the waiting Lease write first and the Event write last', async () => {
  const held = slowCreate('held');
  await waitFor(async () => (await metric('shoal_apiserver_inflight_requests')) === 1, { timeoutMs: 10_000, message: 'the held create to take the seat' });
  const order: string[] = [];
  const send = (what: string, method: string, path: string, body?: unknown) =>
    http(cluster.apiserver.url, method, path, body).then((res) => {
      order.push(what);
      return res.status;
    });

  const event = send('event', 'POST', `${G}/namespaces/default/events`, {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Event',
    metadata: { name: 'held.1' },
    involvedObject: { kind: 'VirtualMachine', namespace: 'default', name: 'held' },
    reason: 'Waiting',
    message: 'an Event written while the apiserver is saturated',
    type: 'Normal',
  });
  await waitFor(async () => (await queued('low')) === 1, { timeoutMs: 10_000, message: 'the Event create to wait for a seat' });
  const read = send('vm-read', 'GET', `${G}/namespaces/default/virtualmachines`);
  await waitFor(async () => (await queued('normal')) === 1, { timeoutMs: 10_000, message: 'the VM list to wait for a seat' });
  const lease = send('lease', 'POST', `${G}/namespaces/shoal-node-lease/leases`, {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Lease',
    metadata: { name: 'held-node' },
    spec: { holderIdentity: 'held-node', leaseDurationSeconds: 40 },
  });
  await waitFor(async () => (await queued('high')) === 1, { timeoutMs: 10_000, message: 'the Lease create to wait for a seat' });
  assert.deepEqual(order, [], 'nothing is answered while the seat is held');

  held.finish();
  assert.equal(await held.answered, 201);
  assert.deepEqual(await Promise.all([lease, read, event]), [201, 200, 201]);
  assert.deepEqual(order, ['lease', 'vm-read', 'event']);
  assert.deepEqual([await queued('high'), await queued('normal'), await queued('low')], [0, 0, 0]);
});
