/**
 * List, then watch, as Kubernetes clients do (client-go's reflector, packages/client's Informer):
 * a paged list gives the objects and the resourceVersion they were read at; a watch from that
 * version streams every change after it as newline-delimited JSON events. A watch the server
 * ends (its timeoutSeconds, a restart) resumes from the last version seen, BOOKMARKs included;
 * one answered with 410 Gone — that version was compacted away — starts over with a fresh list.
 * Other failures back off and retry until stopped, except those a retry cannot mend (400: a bad
 * selector; 401, 403, 404), which are reported and end it. Nothing polls.
 */
import type { KubeObject, WatchEvent } from '@shoal/api/browser';
import { ApiRequestError, errorFromStatus, type ApiClient, type StatusObject } from './api-client.js';
import { LineSplitter } from './line-splitter.js';

export interface Selectors {
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ConnectionState {
  /** A watch is open: what is shown is current. */
  live: boolean;
  /** Why not, when it is not. */
  error?: Error;
  /** The error is one retrying cannot mend: nothing more will come. */
  final?: boolean;
}

export interface ListWatchSink<T> {
  /** A complete list: the objects now, replacing whatever came before. */
  replace(items: T[]): void;
  /** Watch events, in order, as many as arrived together. */
  events(events: WatchEvent<T>[]): void;
  state(s: ConnectionState): void;
}

export interface ListWatchOptions {
  pageSize?: number;
  /** Asked of the server per watch; the watch resumes when it ends. */
  timeoutSeconds?: number;
}

interface ListPage<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

const FINAL_CODES = new Set([400, 401, 403, 404, 422]);
const MAX_BACKOFF_MS = 10_000;

/** Starts listing and watching `path`; the function it returns stops it. */
export function listWatch<T extends KubeObject>(
  api: ApiClient,
  path: string,
  selectors: Selectors,
  sink: ListWatchSink<T>,
  opts: ListWatchOptions = {},
): () => void {
  const abort = new AbortController();
  void run(api, path, selectors, sink, opts, abort.signal);
  return () => abort.abort();
}

async function run<T extends KubeObject>(
  api: ApiClient,
  path: string,
  selectors: Selectors,
  sink: ListWatchSink<T>,
  opts: ListWatchOptions,
  signal: AbortSignal,
): Promise<void> {
  let resourceVersion: string | undefined;
  let failures = 0;
  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined) resourceVersion = await listAll(api, path, selectors, sink, opts.pageSize ?? 1000, signal);
      resourceVersion = await watchOnce(api, path, selectors, resourceVersion, sink, opts.timeoutSeconds ?? 300, signal, () => (failures = 0));
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiRequestError && (err.code === 410 || err.reason === 'Expired' || err.reason === 'Gone')) {
        resourceVersion = undefined;
        continue;
      }
      if (err instanceof ApiRequestError && FINAL_CODES.has(err.code)) {
        sink.state({ live: false, error: err, final: true });
        return;
      }
      sink.state({ live: false, error: err as Error });
      failures++;
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(failures - 1, 5)) * (0.75 + Math.random() / 2);
      await sleep(delay, signal);
    }
  }
}

/** Every page of the list into `sink.replace`; answers the resourceVersion it was read at. */
async function listAll<T>(api: ApiClient, path: string, selectors: Selectors, sink: ListWatchSink<T>, limit: number, signal: AbortSignal): Promise<string> {
  const items: T[] = [];
  let next: string | undefined;
  let resourceVersion: string | undefined;
  do {
    const page = await api.json<ListPage<T>>('GET', path, { query: { ...selectors, limit, continue: next }, signal });
    resourceVersion ??= page.metadata.resourceVersion;
    items.push(...page.items);
    next = page.metadata.continue;
  } while (next);
  sink.replace(items);
  return resourceVersion ?? '0';
}

/** One watch connection until the server ends it; answers the last resourceVersion seen. Throws an ERROR event as its Status. */
async function watchOnce<T extends KubeObject>(
  api: ApiClient,
  path: string,
  selectors: Selectors,
  from: string,
  sink: ListWatchSink<T>,
  timeoutSeconds: number,
  signal: AbortSignal,
  onData: () => void,
): Promise<string> {
  const res = await api.stream(path, {
    query: { ...selectors, watch: 'true', resourceVersion: from, allowWatchBookmarks: 'true', timeoutSeconds },
    signal,
  });
  sink.state({ live: true });
  let resourceVersion = from;
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const splitter = new LineSplitter();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return resourceVersion;
      const batch: WatchEvent<T>[] = [];
      for (const line of splitter.push(decoder.decode(value, { stream: true }))) {
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === 'ERROR') throw errorFromStatus(event.object as unknown as StatusObject);
        resourceVersion = event.object?.metadata?.resourceVersion ?? resourceVersion;
        if (event.type !== 'BOOKMARK') batch.push(event);
      }
      onData();
      if (batch.length) sink.events(batch);
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
