/**
 * The ceiling: what one Node process gets from etcd directly with the etcd3 client (configured
 * as the apiserver configures it), at the same concurrency and with values of the same size and
 * shape as the objects the apiserver stores. Plain puts are the reference the project's aim is
 * stated against; create-if-absent transactions (the etcd operation an apiserver create makes)
 * and gets are measured too.
 */
import type { Etcd3 } from 'etcd3';
import { runLoad } from './load.js';
import { storedVmValue, vmName } from './vm-object.js';
import type { Workload } from './interleave.js';

export const BASELINE_PREFIX = '/bench/baseline/';

export interface BaselineOps {
  valueBytes: { min: number; max: number; mean: number };
  put: Workload;
  txnCreate: Workload;
  get: Workload;
  warmUp(count: number, concurrency: number): Promise<void>;
}

export function etcdBaseline(etcd: Etcd3, n: number): BaselineOps {
  const values = Array.from({ length: n }, (_, i) => storedVmValue(vmName('bench-vm', i), i));
  const sizes = values.map((v) => Buffer.byteLength(v));
  const key = (kind: string, i: number) => `${BASELINE_PREFIX}${kind}/${vmName('bench-vm', i)}`;
  return {
    valueBytes: { min: Math.min(...sizes), max: Math.max(...sizes), mean: Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length) },
    put: {
      name: 'etcdPut',
      n,
      op: async (i) => void (await etcd.put(key('put', i)).value(values[i]!).exec()),
    },
    txnCreate: {
      name: 'etcdTxnCreate',
      n,
      op: async (i) => {
        const k = key('txn', i);
        const res = await etcd.if(k, 'Create', '==', 0).then(etcd.put(k).value(values[i]!)).commit();
        if (!res.succeeded) throw new Error(`${k} already existed`);
      },
    },
    get: {
      name: 'etcdGet',
      n,
      op: async (i) => {
        if (!(await etcd.get(key('txn', i)).buffer())) throw new Error(`${key('txn', i)} not found`);
      },
    },
    // Warms the JIT, the gRPC channel and etcd; not measured. Throughput keeps climbing for the
    // first few thousand operations of a fresh process, so this is not a token warm-up.
    async warmUp(count, concurrency) {
      await runLoad(
        count,
        concurrency,
        async (i) =>
          void (await etcd
            .put(key('warmup', i))
            .value(values[i % n]!)
            .exec()),
      );
      await runLoad(count, concurrency, async (i) => {
        const k = key('warmup-txn', i);
        await etcd
          .if(k, 'Create', '==', 0)
          .then(etcd.put(k).value(values[i % n]!))
          .commit();
      });
      await runLoad(count, concurrency, async (i) => void (await etcd.get(key('warmup', i)).buffer()));
    },
  };
}
