/**
 * Streams a watch over HTTP as Kubernetes does: chunked, one JSON event per line, BOOKMARKs
 * when asked for, an ERROR event then close on failure, close after timeoutSeconds.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Gauge } from 'prom-client';
import { ApiError, type KindInfo, type KubeObject } from '@shoal/api';
import type { WatchRequest } from '../registry/resource-watch.js';
import type { ResourceService } from '../registry/resource-service.js';
import type { Change, ChangeType } from '../storage/watch-filter.js';
import { toTable, type IncludeObject } from './table.js';

const watchers = new Gauge({ name: 'shoal_apiserver_watchers', help: 'Open client watches, by resource.', labelNames: ['resource'] });

/** A watcher this far behind (bytes queued in its socket) is cut off rather than buffered forever. */
const MAX_BACKLOG_BYTES = 32 * 1024 * 1024;
const BOOKMARK_INTERVAL_MS = 5_000;
/** Default watch length; clients reconnect from their last resourceVersion, which spreads load after restarts. */
const DEFAULT_TIMEOUT_S = 1800;

/**
 * The last change serialised, shared by every watcher that receives it in the same format. A live
 * change reaches all its watchers in one synchronous pass (storage/change-router.ts), so one entry
 * serves the whole fan-out; keeping no more means no serialised copy outlives that pass (a cache
 * keyed by every change kept one per change in the watch cache's window, as big as the objects).
 */
let lastSerialised: { change: Change; plain?: string; table?: string } | undefined;

/**
 * Watch streams with lines queued, written once the current turn of the event loop is over. The
 * etcd watch hands over a transaction's changes, or several revisions when it is busy, in one
 * go: each watcher then writes them in one chunk instead of one socket write per event — with a
 * thousand watchers, the difference between a thousand writes per burst and a thousand per change.
 */
const toFlush = new Set<() => void>();

function flushSoon(flush: () => void): void {
  if (!toFlush.size) setImmediate(flushAll);
  toFlush.add(flush);
}

function flushAll(): void {
  for (const flush of toFlush) flush();
  toFlush.clear();
}

export interface WatchStreamOptions {
  request: WatchRequest;
  table: IncludeObject | undefined;
  bookmarks: boolean;
  timeoutSeconds?: number;
  /** Where the watch comes from. */
  service: Pick<ResourceService, 'watch'>;
}

function line(type: string, objectJson: string): string {
  return `{"type":"${type}","object":${objectJson}}\n`;
}

export async function streamWatch(req: FastifyRequest, reply: FastifyReply, o: WatchStreamOptions): Promise<void> {
  const res = reply.raw;
  const kind: KindInfo = o.request.kind;
  const render = (obj: KubeObject) => (o.table ? JSON.stringify(toTable(kind, [obj], {}, o.table)) : JSON.stringify(obj));
  let closed = false;
  let lastSent = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let bookmarkTimer: NodeJS.Timeout | undefined;
  let started = false;

  // Lines wait here until the burst of changes being handed out is over, then go in one write.
  let queued: string[] = [];
  const flush = () => {
    if (closed || !queued.length) return;
    res.write(queued.length === 1 ? queued[0]! : queued.join(''));
    queued = [];
    lastSent = Date.now();
    if (res.writableLength > MAX_BACKLOG_BYTES) {
      req.log.warn({ resource: kind.plural }, 'closing a watch that cannot keep up');
      close();
    }
  };
  const write = (chunk: string) => {
    if (closed) return;
    queued.push(chunk);
    if (queued.length === 1) flushSoon(flush);
  };
  const close = () => {
    if (closed) return;
    flush();
    closed = true;
    watch.stop();
    clearTimeout(timer);
    clearInterval(bookmarkTimer);
    if (started) watchers.dec({ resource: kind.plural });
    res.end();
  };

  const watch = o.service.watch(o.request, {
    event(type: ChangeType, object: KubeObject, change?: Change) {
      if (closed) return;
      let json: string;
      if (change && change.object === object) {
        if (lastSerialised?.change !== change) lastSerialised = { change };
        json = o.table ? (lastSerialised.table ??= render(object)) : (lastSerialised.plain ??= change.objectJson ?? render(object));
      } else json = render(object);
      write(line(type, json));
    },
    fail(err: ApiError) {
      if (closed) return;
      if (!started) {
        pendingError = err;
        return;
      }
      write(line('ERROR', JSON.stringify(err.toStatus())));
      close();
    },
  });
  let pendingError: ApiError | undefined;

  reply.hijack();
  res.on('close', close);
  try {
    // Headers go out first so clients see the stream open even when there is nothing to say yet.
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    started = true;
    watchers.inc({ resource: kind.plural });
    await watch.start();
  } catch (err) {
    const apiErr = err instanceof ApiError ? err : new ApiError(500, 'InternalError', (err as Error).message);
    write(line('ERROR', JSON.stringify(apiErr.toStatus())));
    close();
    return;
  }
  if (pendingError) {
    write(line('ERROR', JSON.stringify(pendingError.toStatus())));
    close();
    return;
  }
  const timeoutS = o.timeoutSeconds && o.timeoutSeconds > 0 ? o.timeoutSeconds : DEFAULT_TIMEOUT_S;
  timer = setTimeout(close, timeoutS * 1000);
  if (o.bookmarks) {
    bookmarkTimer = setInterval(() => {
      if (Date.now() - lastSent < BOOKMARK_INTERVAL_MS || !watch.revision) return;
      const bookmark = { kind: kind.kind, apiVersion: kind.apiVersion, metadata: { resourceVersion: String(watch.revision) } };
      write(line('BOOKMARK', JSON.stringify(bookmark)));
    }, BOOKMARK_INTERVAL_MS / 5);
  }
}
