/**
 * HTTP to one apiserver: TLS, bearer token, keep-alive, Status errors and the retry policy.
 * Everything above this file speaks in objects; everything below it is undici.
 */
import { readFileSync } from 'node:fs';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { ApiError } from '@shoal/api';
import { apiErrorFromResponse } from './api-errors.js';
import { Backoff, sleep, type BackoffOptions } from './backoff.js';
import { isConnectionError, isNeverConnectedError } from './connection-errors.js';

export interface ConnectionOptions {
  /** `http://host:port` or `https://host:port`. */
  server: string;
  /** PEM CA bundle that signed the apiserver's certificate. */
  ca?: string | Buffer;
  /** Path of a PEM CA bundle; read once, at construction. */
  caFile?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Accept any server certificate. For test clusters only: it gives up server authentication. */
  insecureSkipTLSVerify?: boolean;
  userAgent?: string;
  retry?: RetryOptions;
}

export interface RetryOptions extends BackoffOptions {
  /** Retries after the first attempt for a single request (watch reconnects are not bounded by this). */
  maxRetries?: number;
}

/** How a request may be retried; see connection-errors.ts for why writes are stricter. */
export type RetryMode = 'read' | 'write' | 'none';

export type QueryValue = string | number | boolean | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** Objects are sent as JSON; strings and Buffers as they are. */
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
  /** Defaults to 'read' for GET and 'write' for everything else. */
  retry?: RetryMode;
}

export interface StreamOptions {
  query?: Record<string, QueryValue>;
  accept?: string;
  signal?: AbortSignal;
  /** Longest silence tolerated on the stream; 0 waits forever. */
  idleTimeoutMs?: number;
}

const DEFAULT_MAX_RETRIES = 5;

export class Transport {
  private readonly origin: string;
  private readonly basePath: string;
  private readonly agent: Agent;
  private readonly headers: Record<string, string>;
  private readonly retry: Required<Pick<RetryOptions, 'maxRetries'>> & BackoffOptions;

  constructor(opts: ConnectionOptions) {
    const url = new URL(opts.server);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`server must be an http or https URL, got ${opts.server}`);
    this.origin = url.origin;
    // A server URL may carry a path prefix (behind a proxy); keep it without the trailing slash.
    this.basePath = url.pathname.replace(/\/+$/, '');
    const ca = opts.ca ?? (opts.caFile ? readFileSync(opts.caFile) : undefined);
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connect: { ...(ca ? { ca } : {}), rejectUnauthorized: !opts.insecureSkipTLSVerify },
    });
    this.headers = {
      'user-agent': opts.userAgent ?? 'shoal-client/0.1.0',
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    };
    this.retry = { maxRetries: DEFAULT_MAX_RETRIES, ...opts.retry };
  }

  get server(): string {
    return this.origin + this.basePath;
  }

  /** Performs one API call, retrying as its mode allows, and returns the parsed JSON answer. */
  async request<T = unknown>(method: Dispatcher.HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    const mode = opts.retry ?? (method === 'GET' ? 'read' : 'write');
    const backoff = new Backoff(this.retry);
    for (;;) {
      try {
        return await this.once<T>(method, path, opts);
      } catch (err) {
        if (opts.signal?.aborted || backoff.attempts >= this.retry.maxRetries || !shouldRetry(err, mode)) throw err;
        await sleep(Math.max(backoff.next(), retryAfterMs(err)), opts.signal);
      }
    }
  }

  /**
   * Opens a streaming GET (a watch) and returns its body once the answer is 2xx.
   * Exactly one attempt: the watch loop above decides about reconnecting.
   */
  async stream(path: string, opts: StreamOptions = {}): Promise<AsyncIterable<Buffer> & { destroy(): void }> {
    const res = await undiciRequest(this.url(path, opts.query), {
      method: 'GET',
      dispatcher: this.agent,
      headers: { ...this.headers, accept: opts.accept ?? 'application/json' },
      signal: opts.signal,
      bodyTimeout: opts.idleTimeoutMs ?? 0,
    });
    if (res.statusCode < 200 || res.statusCode >= 300) throw apiErrorFromResponse(res.statusCode, await res.body.text());
    return res.body;
  }

  /** Drops every connection at once: a graceful close would wait forever for open watches. */
  async close(): Promise<void> {
    await this.agent.destroy();
  }

  private async once<T>(method: Dispatcher.HttpMethod, path: string, opts: RequestOptions): Promise<T> {
    const hasBody = opts.body !== undefined;
    const body = !hasBody ? undefined : typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body);
    const res = await undiciRequest(this.url(path, opts.query), {
      method,
      dispatcher: this.agent,
      headers: {
        ...this.headers,
        accept: opts.accept ?? 'application/json',
        ...(hasBody ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
      },
      body,
      signal: opts.signal,
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const err = apiErrorFromResponse(res.statusCode, text);
      const retryAfter = Number(res.headers['retry-after']);
      if (Number.isFinite(retryAfter) && err.details?.retryAfterSeconds === undefined) {
        Object.assign(err, { details: { ...err.details, retryAfterSeconds: retryAfter } });
      }
      throw err;
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private url(path: string, query: Record<string, QueryValue> | undefined): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') params.set(k, String(v));
    const qs = params.toString();
    return `${this.origin}${this.basePath}${path}${qs ? `?${qs}` : ''}`;
  }
}

/** Reads retry on any broken connection and on 429/5xx; writes only when nothing was sent (see connection-errors.ts). */
export function shouldRetry(err: unknown, mode: RetryMode): boolean {
  if (mode === 'none') return false;
  if (err instanceof ApiError) return mode === 'read' && err.retryable;
  return mode === 'read' ? isConnectionError(err) : isNeverConnectedError(err);
}

function retryAfterMs(err: unknown): number {
  const s = err instanceof ApiError ? err.details?.retryAfterSeconds : undefined;
  return typeof s === 'number' && s > 0 ? Math.min(s, 60) * 1000 : 0;
}
