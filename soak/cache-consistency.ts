/**
 * Each apiserver serves whole lists and every watch from its watch cache, fed by one etcd watch
 * that lives through member kills, leader changes and its own restarts. A cache that missed an
 * event serves a stale object forever (until that object changes again), and every controller
 * and agent behind that apiserver acts on it. So at the end, once the cluster is quiet: a whole
 * list (served from the cache, after it caught up with etcd's current revision) from every
 * apiserver must name the same VMs, incarnations and resourceVersions as etcd itself.
 */
import type { KubeList, VirtualMachine } from '@shoal/api';
import { ShoalClient } from '@shoal/client';
import type { StoredVm } from './etcd-objects.js';

export interface CacheMismatch {
  apiserver: string;
  vm: string;
  etcd: string;
  apiserverSays: string;
}

const version = (uid: string | undefined, rv: string | undefined) => (uid ? `${uid}@${rv}` : '(absent)');

/** Differences between each apiserver's whole list and etcd's VMs; an apiserver that does not answer is one too. */
export async function cacheMismatches(servers: string[], etcd: ReadonlyMap<string, StoredVm>): Promise<CacheMismatch[]> {
  const out: CacheMismatch[] = [];
  for (const server of servers) {
    const client = new ShoalClient({ server, retry: { maxRetries: 2 } });
    try {
      const list: KubeList<VirtualMachine> = await client.list<VirtualMachine>('vm', { namespace: 'default', signal: AbortSignal.timeout(10_000) });
      const served = new Map(list.items.map((vm) => [vm.metadata.name!, vm]));
      for (const name of new Set([...served.keys(), ...etcd.keys()])) {
        const e = etcd.get(name);
        const a = served.get(name);
        const want = version(e?.object.metadata.uid, e?.modRevision);
        const got = version(a?.metadata.uid, a?.metadata.resourceVersion);
        if (want !== got) out.push({ apiserver: server, vm: name, etcd: want, apiserverSays: got });
      }
    } catch (err) {
      out.push({ apiserver: server, vm: '*', etcd: '-', apiserverSays: `no answer: ${(err as Error).message}` });
    } finally {
      await client.close();
    }
  }
  return out;
}
