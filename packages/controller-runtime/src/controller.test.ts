/**
 * The reconcile loop on plain objects: an EventEmitter stands in for an informer (it is only
 * the source of add/update/delete), and reconcile functions answer each Result shape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { objectKey, type KubeObject } from '@shoal/api';
import { waitFor } from '@shoal/testing';
import { Registry } from 'prom-client';
import { Controller, controllerQueue, type InformerSource } from './controller.js';
import { enqueueMapped, enqueueObject } from './event-handlers.js';
import { ItemExponentialRateLimiter } from './rate-limiter.js';
import { TerminalError, type Result } from './result.js';

class FakeSource extends EventEmitter {
  objects: KubeObject[] = [];
  list() {
    return this.objects;
  }
}
const source = () => new FakeSource() as unknown as InformerSource<KubeObject> & FakeSource;
const obj = (name: string, namespace = 'default'): KubeObject => ({ metadata: { name, namespace } });

test('objects already cached and later events become namespace/name keys; mapped handlers add more', async () => {
  const vms = source();
  vms.objects = [obj('a')];
  const seen: string[] = [];
  const c = new Controller({ name: 't1', registry: new Registry(), reconcile: async (key) => (seen.push(key), {}) });
  c.watch(vms, enqueueObject());
  const nodes = source();
  c.watch(
    nodes,
    enqueueMapped(() => ['default/waiting-1', 'default/waiting-2']),
  );
  c.start();
  vms.emit('add', obj('b', 'other'));
  vms.emit('update', obj('b', 'other'), obj('b', 'other'));
  nodes.emit('add', { metadata: { name: 'n1' } });
  await waitFor(() => seen.includes('other/b') && seen.includes('default/waiting-2'), { timeoutMs: 2000 });
  assert.ok(seen.includes('default/a'));
  await c.stop();
});

test('a throw retries with backoff until success, then forgets; a TerminalError is not retried', async () => {
  const attempts = new Map<string, number>();
  const registry = new Registry();
  const c = new Controller({
    name: 't2',
    registry,
    rateLimiter: new ItemExponentialRateLimiter(1, 50),
    reconcile: async (key): Promise<Result> => {
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      if (key === 'default/flaky' && n < 4) throw new Error('not yet');
      if (key === 'default/hopeless') throw new TerminalError('never');
      return {};
    },
  });
  const vms = source();
  c.watch(vms, enqueueObject());
  c.start();
  vms.emit('add', obj('flaky'));
  vms.emit('add', obj('hopeless'));
  await waitFor(() => attempts.get('default/flaky') === 4, { timeoutMs: 2000 });
  await waitFor(() => c.queue.length === 0 && c.queue.parkedCount === 0, { timeoutMs: 2000 });
  assert.equal(c.queue.retries('default/flaky'), 0, 'success forgets the failures');
  assert.equal(attempts.get('default/hopeless'), 1);
  const text = await registry.metrics();
  assert.match(text, /shoal_controller_reconcile_total\{controller="t2",result="terminal_error"\} 1/);
  assert.match(text, /shoal_controller_reconcile_errors_total\{controller="t2"\} 4/);
  assert.match(text, /shoal_workqueue_retries_total\{name="t2"\} 3/);
  assert.match(text, /shoal_controller_reconcile_duration_seconds_count\{controller="t2"\} 5/);
  await c.stop();
});

test('requeueAfterMs polls the key again; stop() waits for the running reconcile', async () => {
  let runs = 0;
  let finished = 0;
  const c = new Controller({
    name: 't3',
    registry: new Registry(),
    workers: 4,
    reconcile: async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
      finished++;
      return { requeueAfterMs: 10 };
    },
  });
  const vms = source();
  c.watch(vms, enqueueObject());
  c.start();
  vms.emit('add', obj('poll'));
  await waitFor(() => runs >= 3, { timeoutMs: 2000 });
  await c.stop();
  assert.equal(finished, runs, 'the reconcile in progress was allowed to finish');
  const after = runs;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(runs, after, 'nothing runs after stop');
});

test('the same key never runs on two workers at once', async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const c = new Controller({
    name: 't4',
    registry: new Registry(),
    workers: 8,
    reconcile: async () => {
      running++;
      runs++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return {};
    },
  });
  const vms = source();
  c.watch(vms, enqueueObject());
  c.start();
  for (let i = 0; i < 50; i++) {
    vms.emit('update', obj('same'), obj('same'));
    await new Promise((r) => setTimeout(r, 1));
  }
  await waitFor(() => running === 0 && c.queue.length === 0, { timeoutMs: 2000 });
  assert.equal(maxRunning, 1);
  assert.ok(runs < 50, `adds while running fold together (${runs} runs for 50 events)`);
  assert.equal(objectKey(obj('same').metadata), 'default/same');
  await c.stop();
});

test('a queue built first (controllerQueue) serves the controller; watchKeys feeds keys from a non-informer source until stop()', async () => {
  const registry = new Registry();
  const queue = controllerQueue({ name: 't5', registry, priorityOf: (key) => (key.startsWith('urgent') ? 1 : 0) });
  // Something the reconcile depends on can requeue through the queue before the controller exists.
  const requeue = (key: string) => queue.add(key);
  const seen: string[] = [];
  const c = new Controller({ name: 't5', registry, queue, reconcile: async (key) => (seen.push(key), {}) });
  assert.equal(c.queue, queue);
  const runtime = new EventEmitter();
  c.watchKeys((enqueue) => {
    const onChange = (key: string) => enqueue(key);
    runtime.on('change', onChange);
    return () => runtime.off('change', onChange);
  });
  runtime.emit('change', 'calm');
  requeue('urgent');
  c.start();
  await waitFor(() => seen.length === 2, { timeoutMs: 2000 });
  assert.deepEqual(seen, ['urgent', 'calm'], 'the queue’s priority decides, not arrival');
  await c.stop();
  assert.equal(runtime.listenerCount('change'), 0, 'stop() unsubscribed');
  assert.match(await registry.metrics(), /shoal_workqueue_adds_total\{name="t5"\} 2/);
});
