/**
 * A watch that outlives its connections. The server may end a watch at any time (timeoutSeconds,
 * restart, a load balancer); this reconnects from the last resourceVersion it delivered —
 * BOOKMARKs included — so the caller sees one gapless stream. Connection failures back off with
 * jitter and retry until the signal aborts. An ERROR event that is not transient (410 Expired:
 * the version was compacted) ends the stream by throwing its ApiError: only the caller can
 * decide to relist.
 *
 * Several objects can change at one resourceVersion: the apiserver commits writes that arrive
 * together (and a bulk bind's) in one etcd transaction. A connection that ends part-way through
 * one version's events must not resume after that version, or the rest are lost: it resumes
 * from just before it and passes over the events of that version it already delivered.
 */
import { ApiError, type KindInfo, type KubeObject, type WatchEvent } from '@shoal/api';
import { apiErrorFromWatchEvent } from './api-errors.js';
import { Backoff, sleep, type BackoffOptions } from './backoff.js';
import { isConnectionError } from './connection-errors.js';
import { lines } from './ndjson.js';
import { resourcePath } from './paths.js';
import { previousResourceVersion } from './resource-version.js';
import type { Transport } from './transport.js';

export interface WatchOptions {
  /** Omitted on a namespaced kind: all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Start after this version. Without it the server first sends the current state as ADDED
   * events; a reconnect before any event arrived would send that state again, so pass the
   * resourceVersion of a list for exactly-once delivery.
   */
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  /** Asked of the server per connection; when it ends the connection, the watch resumes. */
  timeoutSeconds?: number;
  backoff?: BackoffOptions;
  /** Called before each reconnect with the reason the previous connection ended (for logs). */
  onReconnect?: (reason: unknown, resourceVersion: string | undefined) => void;
}

export async function* watchResource<T extends KubeObject = KubeObject>(
  transport: Transport,
  kind: KindInfo,
  opts: WatchOptions = {},
  signal?: AbortSignal,
): AsyncGenerator<WatchEvent<T>> {
  let resourceVersion = opts.resourceVersion;
  /** The objects delivered at the last event's version, until a later version or a BOOKMARK says that version is complete. */
  let atVersion: { resourceVersion: string; keys: Set<string> } | undefined;
  const backoff = new Backoff(opts.backoff);
  const path = resourcePath(kind, { namespace: opts.namespace });
  while (!signal?.aborted) {
    let reason: unknown = 'stream ended';
    let body: (AsyncIterable<Buffer> & { destroy(): void }) | undefined;
    try {
      body = await transport.stream(path, {
        signal,
        // Without server timeouts there is no bound on silence; with them, a connection silent for
        // well past the timeout is dead (a half-open TCP connection to a vanished host).
        idleTimeoutMs: opts.timeoutSeconds ? (opts.timeoutSeconds + 30) * 1000 : 0,
        query: {
          watch: 1,
          resourceVersion: atVersion ? previousResourceVersion(atVersion.resourceVersion) : resourceVersion,
          labelSelector: opts.labelSelector,
          fieldSelector: opts.fieldSelector,
          allowWatchBookmarks: opts.allowWatchBookmarks ? 'true' : undefined,
          timeoutSeconds: opts.timeoutSeconds,
        },
      });
      for await (const line of lines(body)) {
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === 'ERROR') {
          const err = apiErrorFromWatchEvent(event.object);
          if (!err.retryable) throw err;
          reason = err;
          break;
        }
        // Only a connection that delivered something proves the server healthy again.
        backoff.reset();
        const version = event.object?.metadata?.resourceVersion;
        if (event.type === 'BOOKMARK' || !version) atVersion = undefined;
        else {
          const key = `${event.object.metadata.namespace ?? ''}/${event.object.metadata.name}`;
          if (atVersion?.resourceVersion !== version) atVersion = { resourceVersion: version, keys: new Set() };
          else if (atVersion.keys.has(key)) continue; // delivered before the reconnect
          atVersion.keys.add(key);
        }
        resourceVersion = version ?? resourceVersion;
        yield event;
      }
    } catch (err) {
      if (signal?.aborted) return;
      const transient = isConnectionError(err) || (err instanceof ApiError && err.retryable);
      if (!transient) throw err;
      reason = err;
    } finally {
      body?.destroy();
    }
    if (signal?.aborted) return;
    opts.onReconnect?.(reason, resourceVersion);
    try {
      await sleep(backoff.next(), signal);
    } catch {
      return;
    }
  }
}
