/**
 * The VMs as etcd holds them, read with etcd's own client, not through an apiserver: the "no
 * acknowledged write lost" check compares the ledger with what is stored, and the cache check
 * compares each apiserver's answer with it, so neither trusts a cache.
 */
import { Etcd3 } from 'etcd3';
import type { VirtualMachine } from '@shoal/api';

const PREFIX = '/registry/shoal.dev/virtualmachines/default/';

export interface StoredVm {
  object: VirtualMachine;
  /** The key's mod_revision: the object's resourceVersion. */
  modRevision: string;
}

/** name → the stored VM, and the revision of the read. */
export async function vmsInEtcd(endpoints: string[]): Promise<{ revision: string; vms: Map<string, StoredVm> }> {
  const etcd = new Etcd3({ hosts: endpoints });
  try {
    const res = await etcd.getAll().prefix(PREFIX).exec();
    const vms = new Map<string, StoredVm>();
    for (const kv of res.kvs)
      vms.set(kv.key.toString().slice(PREFIX.length), { object: JSON.parse(kv.value.toString()) as VirtualMachine, modRevision: kv.mod_revision });
    return { revision: res.header.revision, vms };
  } finally {
    etcd.close();
  }
}
