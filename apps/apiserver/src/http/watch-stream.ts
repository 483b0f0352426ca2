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
 * The last change's events, encoded once as HTTP chunks and shared by every watcher that receives them (by
 * format and event type): the same bytes go to every socket, with no copy or encoding per watcher.
 * A live change reaches all its watchers in one synchronous pass (storage/change-router.ts), so
 * one entry serves the whole fan-out; keeping no more means no encoded copy outlives that pass (a
 * cache keyed by every change kept one per change in the watch cache's window, as big as the objects).
 */
let lastEncoded: { change: Change; plain: Map<ChangeType, Buffer>; table: Map<ChangeType, Buffer> } | undefined;

/**
 * Watch streams with lines queued, written once the current turn of the event loop is over. The
 * etcd watch hands over a transaction's changes, or several revisions when it is busy, in one
 * go: each watcher then writes them in one chunk instead of one socket write per event — with a
 * thousand watchers, the difference between a thousand writes per burst and a thousand per change.
 *
 * A fan-out to many watchers is socket writes above all (~3–10 µs each): a thousand of them take
 * the thread for several milliseconds, while writes, reads and the etcd watch queue up. So the
 * next fan-out waits as long as the last one took (up to MAX_FLUSH_GAP_MS): under load, about
 * half of the thread is left to the rest, and what arrives meanwhile goes out in the same
 * writes. With 1,000 watchers this doubled the events delivered per second and halved their
 * latency (bench/cost-curves.ts); with few watchers a fan-out takes well under a millisecond
 * and the next one is not held back.
 */
const toFlush = new Set<() => void>();
/** The longest a fan-out waits for the last one; bounded, as a longer write of a bigger batch would otherwise wait longer still. */
const MAX_FLUSH_GAP_MS = 10;
let flushScheduled = false;
let nextFlushAt = 0;

function flushSoon(flush: () => void): void {
  toFlush.add(flush);
  if (flushScheduled) return;
  flushScheduled = true;
  const wait = nextFlushAt - performance.now();
  if (wait >= 1) setTimeout(flushAll, wait);
  else setImmediate(flushAll);
}

function flushAll(): void {
  flushScheduled = false;
  const start = performance.now();
  const due = [...toFlush];
  toFlush.clear();
  for (const flush of due) flush();
  const end = performance.now();
  nextFlushAt = end + Math.min(end - start, MAX_FLUSH_GAP_MS);
}

export interface WatchStreamOptions {
  request: WatchRequest;
  table: IncludeObject | undefined;
  bookmarks: boolean;
  timeoutSeconds?: number;
  /** Where the watch comes from. */
  service: Pick<ResourceService, 'watch'>;
}

/**
 * One event line framed as an HTTP/1.1 chunk (its size in hex, CRLF, the line, CRLF): the bytes
 * Node's res.write would send for the line, built once for every watcher that gets it. Given to
 * the socket as they are, each event is one piece of a watcher's writev instead of the four
 * res.write makes of it (size, CRLF, line, CRLF) — with a thousand watchers, pieces and their
 * bookkeeping were much of the fan-out's garbage.
 */
function chunk(type: string, objectJson: string): Buffer {
  const line = `{"type":"${type}","object":${objectJson}}\n`;
  return Buffer.from(`${Buffer.byteLength(line).toString(16)}\r\n${line}\r\n`);
}

/** The line inside a chunk (a view, no copy), for res.write. */
function lineOf(framed: Buffer): Buffer {
  return framed.subarray(framed.indexOf(0x0a) + 1, framed.length - 2);
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

  // Chunks wait here until the burst of changes being handed out is over, then go in one write
  // (corked: the socket takes them all in one writev, shared buffers as they are).
  let queued: Buffer[] = [];
  const flush = () => {
    if (closed || !queued.length) return;
    const socket = res.socket;
    // Straight to the socket once the response owns it and Node holds nothing of it back (its
    // headers went out): what Node would send, in order. Otherwise (a pipelined request whose
    // turn has not come, say) through res.write, which keeps its output until then.
    const direct = socket && !socket.destroyed && res.writableLength === socket.writableLength;
    const out = direct ? socket : res;
    if (queued.length === 1) out.write(direct ? queued[0] : lineOf(queued[0]!));
    else {
      out.cork();
      for (const framed of queued) out.write(direct ? framed : lineOf(framed));
      out.uncork();
    }
    queued = [];
    lastSent = Date.now();
    if (res.writableLength > MAX_BACKLOG_BYTES) {
      req.log.warn({ resource: kind.plural }, 'closing a watch that cannot keep up');
      close();
    }
  };
  const write = (framed: Buffer) => {
    if (closed) return;
    queued.push(framed);
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
      if (!change || change.object !== object) return write(chunk(type, render(object)));
      if (lastEncoded?.change !== change) lastEncoded = { change, plain: new Map(), table: new Map() };
      const chunks = o.table ? lastEncoded.table : lastEncoded.plain;
      let encoded = chunks.get(type);
      if (!encoded) chunks.set(type, (encoded = chunk(type, o.table ? render(object) : (change.objectJson ?? render(object)))));
      write(encoded);
    },
    fail(err: ApiError) {
      if (closed) return;
      if (!started) {
        pendingError = err;
        return;
      }
      write(chunk('ERROR', JSON.stringify(err.toStatus())));
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
    write(chunk('ERROR', JSON.stringify(apiErr.toStatus())));
    close();
    return;
  }
  if (pendingError) {
    write(chunk('ERROR', JSON.stringify(pendingError.toStatus())));
    close();
    return;
  }
  const timeoutS = o.timeoutSeconds && o.timeoutSeconds > 0 ? o.timeoutSeconds : DEFAULT_TIMEOUT_S;
  timer = setTimeout(close, timeoutS * 1000);
  if (o.bookmarks) {
    bookmarkTimer = setInterval(() => {
      if (Date.now() - lastSent < BOOKMARK_INTERVAL_MS || !watch.revision) return;
      const bookmark = { kind: kind.kind, apiVersion: kind.apiVersion, metadata: { resourceVersion: String(watch.revision) } };
      write(chunk('BOOKMARK', JSON.stringify(bookmark)));
    }, BOOKMARK_INTERVAL_MS / 5);
  }
}
