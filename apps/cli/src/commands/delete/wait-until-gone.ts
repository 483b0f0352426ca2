/**
 * Waits until deleted objects have really left the store: each is watched (by name, from a
 * fresh list's resourceVersion) until its DELETED event, or until the name is absent or belongs
 * to a new object (another uid). Long waits say on stderr what they wait for — usually
 * finalizers — so a person knows why nothing happens.
 */
import { ApiError, type KindInfo, type KubeObject } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { quotedName } from '../../output/resource-names.js';

/** One object `delete` deleted, as it named it. */
export interface DeleteTarget {
  kind: KindInfo;
  name: string;
  namespace: string | undefined;
}

const PROGRESS_EVERY_MS = 5000;

export async function waitUntilGone(client: ShoalClient, deleted: { target: DeleteTarget; object: KubeObject }[], timeoutMs: number): Promise<void> {
  const deadline = AbortSignal.timeout(timeoutMs);
  // Ends the other waits when one fails for another reason than the deadline.
  const done = new AbortController();
  const signal = AbortSignal.any([deadline, done.signal]);
  const pending = new Map(deleted.map(({ target, object }) => [target, object]));
  const started = Date.now();
  const progress = setInterval(() => {
    for (const [target, obj] of pending) {
      const finalizers = obj.metadata.finalizers?.length ? ` (finalizers: ${obj.metadata.finalizers.join(', ')})` : '';
      process.stderr.write(`waiting for ${quotedName(target.kind, target.name)} to be deleted${finalizers}, ${Math.round((Date.now() - started) / 1000)}s\n`);
    }
  }, PROGRESS_EVERY_MS);
  try {
    await Promise.all(
      deleted.map(async ({ target, object }) => {
        await untilGone(client, target, object.metadata.uid, signal, (latest) => pending.set(target, latest));
        pending.delete(target);
      }),
    );
  } catch (err) {
    if (!deadline.aborted) throw err;
    const names = [...pending.keys()].map((t) => `${t.kind.plural}/${t.name}`).join(', ');
    throw new Error(`timed out waiting for the condition on ${names}`);
  } finally {
    done.abort();
    clearInterval(progress);
  }
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
