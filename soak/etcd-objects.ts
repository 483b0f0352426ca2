/**
 * The VMs as etcd holds them, read with etcd's own client, not through an apiserver: the "no
 * acknowledged write lost" check compares the ledger with what is stored, not with any cache.
 */
import { Etcd3 } from 'etcd3';
import type { VirtualMachine } from '@shoal/api';

const PREFIX = '/registry/shoal.dev/virtualmachines/default/';

export async function vmsInEtcd(endpoints: string[]): Promise<Map<string, VirtualMachine>> {
  const etcd = new Etcd3({ hosts: endpoints });
  try {
    const kvs = await etcd.getAll().prefix(PREFIX).strings();
    const out = new Map<string, VirtualMachine>();
    for (const [key, value] of Object.entries(kvs)) out.set(key.slice(PREFIX.length), JSON.parse(value) as VirtualMachine);
    return out;
  } finally {
    etcd.close();
  }
}
