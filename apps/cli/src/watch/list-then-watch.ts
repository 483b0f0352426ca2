/**
 * What `get -w` and `events -w` do until Ctrl-C: list, then watch from the list's version (so
 * nothing in between is missed), and list again when the watch falls too far behind to resume
 * (410). SIGINT or SIGTERM ends it cleanly: the promise resolves, and the command exits 0, as
 * kubectl's watches do.
 */
import { ApiError, type KindInfo, type KubeObject, type WatchEvent } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';

export interface ListQuery {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ListThenWatchHandlers<T extends KubeObject> {
  /** The first list, and each list after a 410. */
  onList(items: T[]): void;
  /** Each change; bookmarks are not passed on. */
  onEvent(event: WatchEvent<T>): void;
}

export async function listThenWatch<T extends KubeObject>(
  client: ShoalClient,
  kind: KindInfo,
  query: ListQuery,
  handlers: ListThenWatchHandlers<T>,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop.signal.aborted) {
      const list = await client.listAll<T>(kind, { ...query, signal: stop.signal });
      handlers.onList(list.items);
      try {
        const events = client.watch<T>(kind, { ...query, resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true }, stop.signal);
        for await (const event of events) if (event.type !== 'BOOKMARK') handlers.onEvent(event);
      } catch (err) {
        // Too far behind to resume (410): list again and carry on, as a person watching expects.
        if (!(err instanceof ApiError && err.code === 410)) throw err;
      }
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
