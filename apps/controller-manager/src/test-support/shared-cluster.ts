/**
 * Putting a test cluster back as it was when new, so the tests of a file can share one etcd and
 * apiserver and still each begin with a cluster that holds nothing of another test's:
 * `everyObject` when it is new, `putBack` after each test, once its controller-manager is gone.
 */
import { ApiError, kinds, type KubeObject } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { waitFor } from '@shoal/testing';

/** Every object of every kind, by kind, key and uid, with its resourceVersion. */
export type ClusterObjects = Map<string, string>;

const objectKey = (kind: string, o: KubeObject) => `${kind} ${o.metadata.namespace ?? ''}/${o.metadata.name} ${o.metadata.uid}`;

export async function everyObject(client: ShoalClient): Promise<ClusterObjects> {
  const all: ClusterObjects = new Map();
  await Promise.all(
    kinds().all.map(async (kind) => {
      for (const o of (await client.listAll(kind)).items) all.set(objectKey(kind.kind, o), o.metadata.resourceVersion!);
    }),
  );
  return all;
}

/**
 * Deletes every object not in `baseline`, finalizers first, and waits until the cluster holds
 * exactly the baseline, each object at its old resourceVersion; throws if it does not: then the
 * cluster is not as new, and must not be used again.
 */
export async function putBack(client: ShoalClient, baseline: ClusterObjects): Promise<void> {
  const ignoreGone = (err: unknown) => {
    if (!(err instanceof ApiError && err.code === 404)) throw err;
  };
  await Promise.all(
    kinds().all.map(async (kind) => {
      for (const o of (await client.listAll(kind)).items) {
        if (baseline.has(objectKey(kind.kind, o))) continue;
        const at = { namespace: o.metadata.namespace };
        if (o.metadata.finalizers?.length)
          await client.patch(kind, o.metadata.name!, { metadata: { finalizers: null } }, { ...at, type: 'merge' }).catch(ignoreGone);
        await client.delete(kind, o.metadata.name!, at).catch(ignoreGone);
      }
    }),
  );
  // An object of the new cluster changed or gone (a role edited, say) does not come back: say so at once.
  const changed = (now: ClusterObjects) => [...baseline].filter(([key, rv]) => now.get(key) !== rv).map(([key]) => key);
  const altered = changed(await everyObject(client));
  if (altered.length) throw new Error(`changed or gone since the cluster was new: ${altered.join(', ')}`);
  let now: ClusterObjects = new Map();
  await waitFor(
    async () => {
      now = await everyObject(client);
      return now.size === baseline.size && changed(now).length === 0;
    },
    {
      timeoutMs: 10_000,
      message: 'the cluster to hold only what it held when new, unchanged',
      lastSeen: () => [...now.keys()].filter((k) => now.get(k) !== baseline.get(k)).join(', '),
    },
  );
}
