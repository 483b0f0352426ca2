/**
 * Watch fan-out: K clients watch VirtualMachines from one resourceVersion, then M merge-patches
 * change a label. Measured: how long until every watcher has every event (events delivered per
 * second), and per (watcher, event) the delay from the write's acknowledgement to its receipt.
 *
 * The watchers live in this process, so ack and receipt times share one clock. Lines are not
 * JSON-parsed (the type and resourceVersion are read in place) to keep the load generator's own
 * CPU out of the figure as far as possible; the first event of each watcher is parsed in full
 * to check that reading.
 */
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { BalancedPool, Pool, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { runLoad, type LoadResult } from './load.js';
import { metered, type CpuFigures, type Processes } from './process-meter.js';
import { rate, round3, summarize, type LatencySummary } from './stats.js';
import { VM_API } from './vm-object.js';
import { NAMESPACE, patchOne } from './api-throughput.js';

export interface WatchParams {
  watchers: number;
  updates: number;
  concurrency: number;
  /** Objects that exist; updates go round them. */
  objects: number;
  deadlineMs: number;
  /** Written into the patched label: a fan-out run again on the same objects needs a new one, or its patches change nothing and make no events. */
  round?: string;
}

export interface WatchResult {
  watchers: number;
  updates: number;
  fromResourceVersion: string;
  openAllWatchesMs: number;
  /** Whether every watcher received every update before the deadline. */
  complete: boolean;
  eventsExpected: number;
  eventsReceived: number;
  /** Events that were not MODIFIED events of our updates (should be 0). */
  unexpectedEvents: number;
  watchersClosedEarly: number;
  /** Watchers whose first event, parsed in full, disagreed with the in-place reading (should be 0). */
  lineReadingMismatches: number;
  /** The writes themselves, while K watchers listened. */
  writes: LoadResult;
  /** First update sent to last event received by the last watcher. */
  deliveryWallMs: number;
  /** Last write acknowledged to last event received. */
  tailAfterLastAckMs: number;
  eventsDeliveredPerSecond: number;
  /** Receipt minus the writer's ack of that update; negative when the event beat the HTTP response. */
  fanoutLatencyFromAck: LatencySummary;
  /** Receipt minus the moment the update was sent. */
  fanoutLatencyFromSend: LatencySummary;
  eventsBeforeAck: number;
  /** p50 fan-out latency from ack of the updates in each tenth of the write sequence: flat = steady, rising = a backlog building. */
  fanoutP50FromAckByDecileMs: number[];
  cpu: CpuFigures;
}

interface Watcher {
  rvs: number[];
  times: number[];
  unexpected: number;
  closed: boolean;
  checked: boolean;
  body: Readable;
}

const RV_FIELD = '"resourceVersion":"';

/** `url`: the apiserver the watchers watch, or several: the watchers are then spread over them evenly. */
export async function watchFanout(url: string | string[], writePool: Dispatcher, procs: Processes, p: WatchParams, fromRv: string): Promise<WatchResult> {
  const urls = typeof url === 'string' ? [url] : url;
  const options = { connections: Math.ceil(p.watchers / urls.length), pipelining: 1, headersTimeout: 30_000, bodyTimeout: 0 };
  const watchPool = urls.length === 1 ? new Pool(urls[0]!, options) : new BalancedPool(urls, options);
  const expected = p.watchers * p.updates;
  let received = 0;
  let lastReceipt = 0;
  let onAll: () => void = () => undefined;
  const allReceived = new Promise<void>((resolve) => (onAll = resolve));
  const watchers: Watcher[] = [];
  let lineReadingMismatches = 0;

  const open = async (): Promise<Watcher> => {
    const res = await watchPool.request({
      method: 'GET',
      path: `${VM_API}/${NAMESPACE}/virtualmachines?watch=1&resourceVersion=${fromRv}`,
      headers: { accept: 'application/json' },
    });
    if (res.statusCode !== 200) throw new Error(`watch: HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`);
    const w: Watcher = { rvs: [], times: [], unexpected: 0, closed: false, checked: false, body: res.body };
    const decoder = new StringDecoder('utf8');
    let rest = '';
    res.body.on('data', (chunk: Buffer) => {
      const now = performance.now();
      const s = rest + decoder.write(chunk);
      let start = 0;
      for (let nl = s.indexOf('\n'); nl !== -1; nl = s.indexOf('\n', start)) {
        const at = s.indexOf(RV_FIELD, start);
        if (!s.startsWith('{"type":"MODIFIED"', start) || at === -1 || at > nl) w.unexpected++;
        else {
          const rv = Number(s.slice(at + RV_FIELD.length, s.indexOf('"', at + RV_FIELD.length)));
          if (!w.checked) {
            w.checked = true;
            const parsed = JSON.parse(s.slice(start, nl)) as { object: { metadata: { resourceVersion: string } } };
            if (parsed.object.metadata.resourceVersion !== String(rv)) lineReadingMismatches++;
          }
          w.rvs.push(rv);
          w.times.push(now);
          lastReceipt = now;
          if (++received === expected) onAll();
        }
        start = nl + 1;
      }
      rest = s.slice(start);
    });
    res.body.on('error', () => (w.closed = true));
    res.body.on('end', () => (w.closed = true));
    return w;
  };

  try {
    const tOpen = performance.now();
    watchers.push(...(await Promise.all(Array.from({ length: p.watchers }, open))));
    const openAllWatchesMs = performance.now() - tOpen;

    const sent = new Float64Array(p.updates);
    const acked = new Map<number, { index: number; at: number }>();
    let firstSend = 0;
    let lastAck = 0;
    let complete = false;
    const { result: writes, cpu } = await metered(
      procs,
      async () => {
        firstSend = performance.now();
        const writes = await runLoad(p.updates, p.concurrency, async (i) => {
          sent[i] = performance.now();
          const rv = Number(await patchOne(writePool, p.objects, p.round ?? 'watched', i));
          const at = performance.now();
          acked.set(rv, { index: i, at });
          lastAck = Math.max(lastAck, at);
        });
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, p.deadlineMs)));
        // Every successful write must reach every watcher; failed writes make no events.
        if (writes.failed === 0) await Promise.race([allReceived.then(() => (complete = true)), deadline]);
        clearTimeout(timer);
        return writes;
      },
      250,
    );

    const fromAck: number[] = [];
    const fromSend: number[] = [];
    let unexpected = 0;
    let beforeAck = 0;
    const deciles: number[][] = Array.from({ length: 10 }, () => []);
    for (const w of watchers) {
      unexpected += w.unexpected;
      for (let j = 0; j < w.rvs.length; j++) {
        const a = acked.get(w.rvs[j]!);
        if (!a) {
          unexpected++;
          continue;
        }
        const d = w.times[j]! - a.at;
        if (d < 0) beforeAck++;
        fromAck.push(d);
        deciles[Math.min(9, Math.floor((a.index * 10) / p.updates))]!.push(d);
        fromSend.push(w.times[j]! - sent[a.index]!);
      }
    }
    const deliveryWallMs = lastReceipt - firstSend;
    return {
      watchers: p.watchers,
      updates: p.updates,
      fromResourceVersion: fromRv,
      openAllWatchesMs: round3(openAllWatchesMs),
      complete,
      eventsExpected: expected,
      eventsReceived: received,
      unexpectedEvents: unexpected,
      watchersClosedEarly: watchers.filter((w) => w.closed).length,
      lineReadingMismatches,
      writes,
      deliveryWallMs: round3(deliveryWallMs),
      tailAfterLastAckMs: round3(lastReceipt - lastAck),
      eventsDeliveredPerSecond: rate(received, deliveryWallMs),
      fanoutLatencyFromAck: summarize(fromAck),
      fanoutLatencyFromSend: summarize(fromSend),
      eventsBeforeAck: beforeAck,
      fanoutP50FromAckByDecileMs: deciles.map((d) => summarize(d).p50Ms),
      cpu,
    };
  } finally {
    for (const w of watchers) w.body.destroy();
    await watchPool.destroy().catch(() => undefined);
  }
}
