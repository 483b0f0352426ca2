/**
 * Waits until deleted objects have really left the store: each is watched (by name, from a
 * fresh list's resourceVersion) until its DELETED event, or until the name is absent or belongs
 * to a new object (another uid). The wait shows what it still waits for — usually finalizers —
 * so a person knows why nothing happens (../../output/wait-progress.ts).
 */
import { ApiError, type KindInfo, type KubeObject } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { quotedName } from '../../output/resource-names.js';
import { waitWithProgress, WaitTimeoutError, type WaitStatus } from '../../output/wait-progress.js';

/** One object `delete` deleted, as it named it. */
export interface DeleteTarget {
  kind: KindInfo;
  name: string;
  namespace: string | undefined;
}

export async function waitUntilGone(client: ShoalClient, deleted: { target: DeleteTarget; object: KubeObject }[], timeoutMs: number): Promise<void> {
  const pending = new Map(deleted.map(({ target, object }) => [target, object]));
  const subject = deleted.length === 1 ? `deleting ${quotedName(deleted[0]!.target.kind, deleted[0]!.target.name)}` : `deleting ${deleted.length} objects`;
  try {
    await waitWithProgress({ subject, timeoutMs }, async (progress, signal) => {
      // Nothing is said about objects that are gone at the first look: only a wait is worth a line.
      const report = () => progress.update(pendingStatus(pending, deleted.length));
      await Promise.all(
        deleted.map(async ({ target, object }) => {
          await untilGone(client, target, object.metadata.uid, signal, (latest) => {
            pending.set(target, latest);
            report();
          });
          pending.delete(target);
          if (pending.size > 0) report();
        }),
      );
    });
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    // kubectl's words, which scripts may look for.
    const names = [...pending.keys()].map((t) => `${t.kind.plural}/${t.name}`).join(', ');
    throw new Error(`timed out waiting for the condition on ${names}`);
  }
}

/** One object: what holds it. Several: how many are left (the phase), and what holds each. */
function pendingStatus(pending: Map<DeleteTarget, KubeObject>, total: number): WaitStatus {
  const finalizers = (obj: KubeObject) => obj.metadata.finalizers?.join(', ');
  if (total === 1) {
    const [obj] = pending.values();
    return { phase: obj && finalizers(obj) ? `waiting on finalizers ${finalizers(obj)}` : 'being deleted' };
  }
  const left = [...pending].map(([t, obj]) => `${t.kind.plural}/${t.name}${finalizers(obj) ? ` (finalizers ${finalizers(obj)})` : ''}`);
  return { phase: `${pending.size} of ${total} left`, detail: left.join(', '), fraction: (total - pending.size) / total };
}

async function untilGone(
  client: ShoalClient,
  target: DeleteTarget,
  uid: string | undefined,
  signal: AbortSignal,
  seen: (obj: KubeObject) => void,
): Promise<void> {
  const selectors = { namespace: target.namespace, fieldSelector: `metadata.name=${target.name}` };
  for (;;) {
    const list = await client.list(target.kind, { ...selectors, signal });
    const current = list.items[0];
    if (!current || (uid && current.metadata.uid !== uid)) return;
    seen(current);
    try {
      for await (const event of client.watch(target.kind, { ...selectors, resourceVersion: list.metadata.resourceVersion }, signal)) {
        if (event.type === 'BOOKMARK') continue;
        const sameObject = !uid || event.object.metadata.uid === uid;
        if (event.type === 'DELETED' && sameObject) return;
        if (!sameObject) return;
        seen(event.object);
      }
      signal.throwIfAborted();
    } catch (err) {
      // 410: the watch fell too far behind; look again.
      if (!(err instanceof ApiError && err.code === 410)) throw err;
    }
  }
}
