/** The whole etcd keyspace at one revision: every key, value, create/mod revision, version and lease. */
import { Etcd3 } from 'etcd3';

export interface KeyspaceSnapshot {
  /** The store's revision when read: any write at all since an earlier snapshot raises it. */
  revision: string;
  keys: Map<string, { value: string; createRevision: string; modRevision: string; version: string; lease: string }>;
}

/** Reads every key (range from "\0" to "\0" = the whole keyspace; nothing excluded). */
export async function snapshotKeyspace(endpoint: string): Promise<KeyspaceSnapshot> {
  const etcd = new Etcd3({ hosts: endpoint });
  try {
    const keys: KeyspaceSnapshot['keys'] = new Map();
    let revision: string | undefined;
    let start = Buffer.from([0]);
    for (;;) {
      const res = await etcd.kv.range({ key: start, range_end: Buffer.from([0]), limit: 1000, ...(revision ? { revision } : {}) });
      revision ??= res.header.revision;
      for (const kv of res.kvs)
        keys.set(kv.key.toString('latin1'), {
          value: kv.value.toString('base64'),
          createRevision: kv.create_revision,
          modRevision: kv.mod_revision,
          version: kv.version,
          lease: kv.lease,
        });
      if (!res.more || !res.kvs.length) break;
      start = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    return { revision: revision!, keys };
  } finally {
    etcd.close();
  }
}

/** What differs between two snapshots, one line per key (empty when nothing does). */
export function keyspaceChanges(before: KeyspaceSnapshot, after: KeyspaceSnapshot): string[] {
  const out: string[] = [];
  for (const [key, b] of before.keys) {
    const a = after.keys.get(key);
    if (!a) out.push(`deleted ${key}`);
    else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`changed ${key} (mod revision ${b.modRevision} → ${a.modRevision})`);
  }
  for (const key of after.keys.keys()) if (!before.keys.has(key)) out.push(`created ${key}`);
  if (before.revision !== after.revision) out.push(`etcd revision moved ${before.revision} → ${after.revision} (something was written)`);
  return out;
}
