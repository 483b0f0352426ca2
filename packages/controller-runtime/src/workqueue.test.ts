/** The workqueue and its rate limiters on plain keys: dedupe, one key at a time, backoff, forget. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@shoal/testing';
import { ItemExponentialRateLimiter, MaxOfRateLimiter, TokenBucketRateLimiter, defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.js';
import { WorkQueue } from './workqueue.js';

test('a key added many times is queued once', async () => {
  const q = new WorkQueue<string>();
  q.add('a');
  q.add('b');
  q.add('a');
  q.add('a');
  assert.equal(q.length, 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  assert.equal(q.length, 0);
});

test('a key is never handed out twice at once; an add while it runs queues it again after done()', async () => {
  const q = new WorkQueue<string>();
  q.add('a');
  const first = await q.get();
  assert.equal(first, 'a');
  assert.ok(q.isProcessing('a'));
  q.add('a');
  q.add('a');
  assert.equal(q.length, 0, 'not queued while it is being processed');
  let second: string | undefined;
  void q.get().then((k) => (second = k));
  await new Promise((r) => setImmediate(r));
  assert.equal(second, undefined, 'a waiting worker does not get the busy key');
  q.done('a');
  await waitFor(() => second === 'a', { timeoutMs: 1000, message: 'the re-added key after done()' });
  q.done('a');
  assert.equal(q.length, 0, 'the two adds during processing became one run');
});

test('workers waiting on an empty queue get keys as they arrive, and undefined on shutdown', async () => {
  const q = new WorkQueue<string>();
  const a = q.get();
  const b = q.get();
  const c = q.get();
  q.add('x');
  q.add('y');
  assert.deepEqual(await Promise.all([a, b]), ['x', 'y']);
  q.shutDown();
  assert.equal(await c, undefined);
  q.add('z');
  assert.equal(await q.get(), undefined, 'adds after shutdown are ignored');
});

/**
 * Eight workers take keys from `q` while 20 rounds of 10 keys (named by `keyOf`) are added:
 * answers how often each key ran and how often a key ran on two workers at once.
 */
async function stress(q: WorkQueue<string>, keyOf: (k: number) => string): Promise<{ runs: Map<string, number>; overlaps: number }> {
  const running = new Set<string>();
  const runs = new Map<string, number>();
  let overlaps = 0;
  const worker = async () => {
    for (;;) {
      const key = await q.get();
      if (key === undefined) return;
      if (running.has(key)) overlaps++;
      running.add(key);
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      running.delete(key);
      runs.set(key, (runs.get(key) ?? 0) + 1);
      q.done(key);
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  for (let round = 0; round < 20; round++) {
    for (let k = 0; k < 10; k++) q.add(keyOf(k));
    await new Promise((r) => setTimeout(r, 1));
  }
  await waitFor(() => q.length === 0 && running.size === 0, { timeoutMs: 5000 });
  q.shutDown();
  await Promise.all(workers);
  return { runs, overlaps };
}

test('many workers on many keys: every key is processed, never two runs of one key at once', async () => {
  const { runs, overlaps } = await stress(new WorkQueue<string>(), (k) => `k${k}`);
  assert.equal(overlaps, 0);
  assert.equal(runs.size, 10);
  for (const n of runs.values()) assert.ok(n >= 1 && n <= 20, `ran ${n} times for 20 adds: dedupe folds adds`);
});

test('per-item backoff doubles from 5 ms and caps at 1000 s; forget starts it over', () => {
  const rl = new ItemExponentialRateLimiter<string>(5, 1_000_000);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => rl.when('a')),
    [5, 10, 20, 40, 80],
  );
  assert.equal(rl.when('b'), 5, 'each key backs off on its own');
  assert.equal(rl.retries('a'), 5);
  for (let i = 0; i < 100; i++) rl.when('a');
  assert.equal(rl.when('a'), 1_000_000);
  rl.forget('a');
  assert.equal(rl.retries('a'), 0);
  assert.equal(rl.when('a'), 5);
});

test('the token bucket lets a burst through, then spaces calls at its rate', () => {
  let now = 0;
  const bucket = new TokenBucketRateLimiter<string>(50, 300, () => now);
  for (let i = 0; i < 300; i++) assert.equal(bucket.when(`k${i}`), 0);
  assert.equal(bucket.when('late1'), 20, 'one token per 20 ms at 50/s');
  assert.equal(bucket.when('late2'), 40, 'the next caller queues behind the first');
  now += 1000; // 50 tokens back, 2 owed
  assert.equal(bucket.when('x'), 0);
});

test('the default limiter takes the longer of per-item backoff and the bucket', () => {
  let now = 0;
  const rl = defaultControllerRateLimiter<string>({ clock: () => now });
  assert.equal(rl.when('a'), 5);
  assert.equal(rl.when('a'), 10);
  for (let i = 0; i < 298; i++) rl.when(`burst${i}`);
  assert.equal(rl.when('b'), 20, 'bucket empty: 20 ms beats b’s own 5 ms');
  const max = new MaxOfRateLimiter<string>(new ItemExponentialRateLimiter(1, 100), new ItemExponentialRateLimiter(3, 100));
  assert.equal(max.when('k'), 3);
  assert.equal(max.retries('k'), 1);
  max.forget('k');
  assert.equal(max.retries('k'), 0);
});

test('addRateLimited parks a key for its backoff; forget resets it; addAfter keeps the earliest time', async () => {
  const waits: number[] = [];
  const recording: RateLimiter<string> = (() => {
    const inner = new ItemExponentialRateLimiter<string>(20, 1000);
    return {
      when: (k) => {
        const ms = inner.when(k);
        waits.push(ms);
        return ms;
      },
      forget: (k) => inner.forget(k),
      retries: (k) => inner.retries(k),
    };
  })();
  const q = new WorkQueue<string>({ rateLimiter: recording });

  let started = performance.now();
  q.addRateLimited('a');
  assert.equal(q.length, 0);
  assert.equal(q.parkedCount, 1);
  assert.equal(await q.get(), 'a');
  assert.ok(performance.now() - started >= 19, 'waited its 20 ms');
  q.done('a');

  started = performance.now();
  q.addRateLimited('a');
  assert.equal(await q.get(), 'a');
  assert.ok(performance.now() - started >= 39, 'second failure: 40 ms');
  q.done('a');
  assert.equal(q.retries('a'), 2);

  q.forget('a');
  assert.equal(q.retries('a'), 0);
  q.addRateLimited('a');
  assert.deepEqual(waits, [20, 40, 20]);
  assert.equal(await q.get(), 'a');
  q.done('a');

  started = performance.now();
  q.addAfter('b', 10_000);
  q.addAfter('b', 10);
  q.addAfter('b', 5_000);
  assert.equal(q.parkedCount, 1);
  assert.equal(await q.get(), 'b');
  assert.ok(performance.now() - started < 2_000, 'the earliest time won');
  q.done('b');

  q.addAfter('c', 60_000);
  q.shutDown();
  assert.equal(q.parkedCount, 0, 'shutdown drops parked keys (and their timers)');
});

test('an add while a key is parked makes it ready now; the parked copy folds into it', async () => {
  const q = new WorkQueue<string>();
  q.addAfter('a', 50);
  q.add('a');
  assert.equal(await q.get(), 'a');
  q.done('a');
  assert.equal(await q.get(), 'a', 'the parked add still fires later (a harmless extra reconcile)');
  q.done('a');
  q.shutDown();
});

test('metrics see depth, adds, retries and waits', async () => {
  const seen = { depth: [] as number[], added: 0, retried: 0, waited: 0 };
  const q = new WorkQueue<string>({
    metrics: { depth: (n) => seen.depth.push(n), added: () => seen.added++, retried: () => seen.retried++, waited: () => seen.waited++ },
  });
  q.add('a');
  q.add('a');
  q.add('b');
  await q.get();
  q.addRateLimited('c');
  assert.equal(seen.added, 2);
  assert.equal(seen.retried, 1);
  assert.equal(seen.waited, 1);
  assert.deepEqual(seen.depth, [1, 2, 1]);
  q.shutDown();
});

/** A queue whose keys carry their priority in their name: `p5/a` has priority 5. */
const byName = (key: string) => Number(key.split('/')[0]!.slice(1));
const drain = async (q: WorkQueue<string>) => {
  const out: string[] = [];
  while (q.length) {
    const k = (await q.get())!;
    out.push(k);
    q.done(k);
  }
  return out;
};

test('priorityOf: higher priority is handed out first, first in first out among equals', async () => {
  const q = new WorkQueue<string>({ priorityOf: byName });
  for (const k of ['p0/a', 'p5/a', 'p0/b', 'p10/a', 'p5/b', 'p0/c', 'p10/b', 'p-1/a']) q.add(k);
  assert.deepEqual(await drain(q), ['p10/a', 'p10/b', 'p5/a', 'p5/b', 'p0/a', 'p0/b', 'p0/c', 'p-1/a']);
  q.shutDown();
});

test('priorityOf: a key added again while it waits keeps its place', async () => {
  const q = new WorkQueue<string>({ priorityOf: byName });
  q.add('p1/first');
  q.add('p1/second');
  q.add('p1/first');
  q.add('p1/third');
  q.add('p1/second');
  assert.equal(q.length, 3);
  assert.deepEqual(await drain(q), ['p1/first', 'p1/second', 'p1/third']);
  q.shutDown();
});

test('priorityOf: requeued keys join behind their equals and ahead of lower priorities', async () => {
  const q = new WorkQueue<string>({ priorityOf: byName, rateLimiter: new ItemExponentialRateLimiter(1, 1) });
  q.add('p5/busy');
  const busy = (await q.get())!;
  q.add('p5/busy'); // while it is processed: queued again once done
  q.add('p5/waiting');
  q.add('p0/low');
  q.done(busy);
  assert.deepEqual(await drain(q), ['p5/waiting', 'p5/busy', 'p0/low'], 'back in at done(), behind the equal that waited meanwhile');

  q.add('p0/low');
  q.addRateLimited('p9/retry');
  q.addAfter('p3/later', 1);
  await waitFor(() => q.parkedCount === 0 && q.length === 3, { timeoutMs: 1000, message: 'the parked keys to join' });
  assert.deepEqual(await drain(q), ['p9/retry', 'p3/later', 'p0/low'], 'a retried or delayed key is placed by its priority when its time comes');
  q.shutDown();
});

test('priorityOf: a batch added while workers wait reaches them in priority order, not in the order it was added', async () => {
  const q = new WorkQueue<string>({ priorityOf: byName });
  const workers = [q.get(), q.get(), q.get()];
  // One synchronous batch, as a Node change enqueues every waiting VM.
  for (const k of ['p0/a', 'p0/b', 'p0/c', 'p100/x', 'p100/y', 'p50/z']) q.add(k);
  assert.deepEqual(await Promise.all(workers), ['p100/x', 'p100/y', 'p50/z']);
  assert.equal(q.length, 3);
  q.shutDown();
});

test('priorityOf: many workers, mixed priorities: every key processed, never two runs of one key at once', async () => {
  const { runs, overlaps } = await stress(new WorkQueue<string>({ priorityOf: byName }), (k) => `p${k % 3}/k${k}`);
  assert.equal(overlaps, 0);
  assert.equal(runs.size, 10);
});
