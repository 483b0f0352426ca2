/**
 * HTTP to the apiservers: TLS, bearer token, keep-alive, Status errors, the retry policy and
 * failover between several apiservers (servers.ts). Everything above this file speaks in
 * objects; everything below it is an HttpSender (http-sender.ts).
 */
import { readFileSync } from 'node:fs';
import { ApiError } from '@shoal/api';
import { apiErrorFromResponse } from './api-errors.js';
import { Backoff, sleep, type BackoffOptions } from './backoff.js';
import { DEFAULT_BODY_TIMEOUT_MS, type HttpAnswer, type HttpImplementation, type HttpMethod, type HttpSender } from './http-sender.js';
import { lazySender } from './lazy-sender.js';
import { isConnectionError, isNeverConnectedError } from './connection-errors.js';
import { impersonationHeaders, type Impersonation } from './impersonation.js';
import { parseServers, ServerList } from './servers.js';

export interface ConnectionOptions {
  /**
   * `http://host:port` or `https://host:port`; several apiservers of one cluster as a list or
   * comma-separated (`https://a:6443,https://b:6443`): the client uses one and moves to the
   * next when it fails. They share one CA and token.
   */
  server: string | readonly string[];
  /** PEM CA bundle that signed the apiserver's certificate. */
  ca?: string | Buffer;
  /** Path of a PEM CA bundle; read once, at construction. */
  caFile?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Act as this user (Impersonate-* headers): the server authorizes every request as it, after
   * checking that the token's own user may impersonate it. See also ShoalClient.impersonating.
   */
  impersonate?: Impersonation;
  /** Accept any server certificate. For test clusters only: it gives up server authentication. */
  insecureSkipTLSVerify?: boolean;
  userAgent?: string;
  retry?: RetryOptions;
  /** Longest wait for an answer's headers (not its body: watches and big lists stream); past it the server counts as failed. */
  responseTimeoutMs?: number;
  /** What carries the requests: undici (default) or node:http, cheaper to start for a short-lived command (see http-sender.ts). */
  http?: HttpImplementation;
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
  /** Whether a 503 answer means the server cannot serve (move to the next); false where 503 is about something else. Default true. */
  failoverOn503?: boolean;
  /**
   * The caller has no use for a successful answer's body (a write's answer is the whole object
   * written, which a watch brings anyway): it is read off the connection but not parsed, and the
   * request answers undefined. An error's body is still read into the ApiError.
   */
  discardAnswer?: boolean;
}

export interface StreamOptions {
  query?: Record<string, QueryValue>;
  accept?: string;
  signal?: AbortSignal;
  /** Longest silence tolerated on the stream; 0 waits forever. */
  idleTimeoutMs?: number;
  /** As in RequestOptions: the logs subresource answers 503 when the node's agent is away, not the apiserver. */
  failoverOn503?: boolean;
}

export type ResponseStream = AsyncIterable<Buffer> & {
  destroy(): void;
  /** The answer's headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
};

const DEFAULT_MAX_RETRIES = 5;
const DEFAULT_RESPONSE_TIMEOUT_MS = 60_000;

/** What a transport derived with withImpersonation shares with the one it came from. */
interface SharedConnections {
  servers: ServerList;
  sender: HttpSender;
}

export class Transport {
  private readonly servers: ServerList;
  private readonly sender: HttpSender;
  /** Whether close() may drop the connections: not in a derived transport, whose connections are its parent's. */
  private readonly ownsSender: boolean;
  private readonly headers: Record<string, string | string[]>;
  private readonly retry: Required<Pick<RetryOptions, 'maxRetries'>> & BackoffOptions;
  private readonly responseTimeoutMs: number;

  constructor(
    private readonly opts: ConnectionOptions,
    shared?: SharedConnections,
  ) {
    this.servers = shared?.servers ?? new ServerList(parseServers(opts.server));
    this.ownsSender = !shared;
    if (shared) this.sender = shared.sender;
    else {
      // Read here, not at the first request: a missing CA file fails construction, as it always has.
      const ca = opts.ca ?? (opts.caFile ? readFileSync(opts.caFile) : undefined);
      this.sender = lazySender(opts.http ?? 'undici', { ...(ca ? { ca } : {}), rejectUnauthorized: !opts.insecureSkipTLSVerify });
    }
    this.headers = {
      'user-agent': opts.userAgent ?? 'shoal-client/0.1.0',
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.impersonate ? impersonationHeaders(opts.impersonate) : {}),
    };
    this.retry = { maxRetries: DEFAULT_MAX_RETRIES, ...opts.retry };
    this.responseTimeoutMs = opts.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
  }

  /**
   * The same servers, credentials and connections, acting as another user. Failover state is
   * shared too (a server this one found down is down for both); close() of the derived
   * transport leaves the shared connections open.
   */
  withImpersonation(who: Impersonation): Transport {
    return new Transport({ ...this.opts, impersonate: who }, { servers: this.servers, sender: this.sender });
  }

  /** The apiserver requests go to now. */
  get server(): string {
    return this.servers.current.url;
  }

  /** Every apiserver this client may use, in the order given. */
  get serverList(): string[] {
    return this.servers.all.map((s) => s.url);
  }

  /**
   * Performs one API call, retrying as its mode allows, and returns the parsed JSON answer.
   * After a server failure the retry goes at once to the next server; only when every server
   * failed since the last pause does it back off.
   */
  async request<T = unknown>(method: HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    const mode = opts.retry ?? (method === 'GET' ? 'read' : 'write');
    const backoff = new Backoff(this.retry);
    let retries = 0;
    const triedSincePause = new Set<number>();
    for (;;) {
      const at = this.servers.at;
      triedSincePause.add(at);
      try {
        return await this.once<T>(at, method, path, opts);
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        const moved = this.serverFailed(at, err, opts.failoverOn503);
        if (retries >= this.retry.maxRetries || !shouldRetry(err, mode)) throw err;
        retries++;
        if (moved && !triedSincePause.has(this.servers.at)) continue;
        triedSincePause.clear();
        await sleep(Math.max(backoff.next(), retryAfterMs(err)), opts.signal);
      }
    }
  }

  /**
   * Opens a streaming GET (a watch) and returns its body once the answer is 2xx.
   * Exactly one attempt: the watch loop above decides about reconnecting. A failure to open it,
   * or the stream breaking off later, counts against its server, so the reconnect goes to the next.
   */
  async stream(path: string, opts: StreamOptions = {}): Promise<ResponseStream> {
    const at = this.servers.at;
    let res: HttpAnswer;
    try {
      res = await this.sender.send(this.url(at, path, opts.query), {
        method: 'GET',
        headers: { ...this.headers, accept: opts.accept ?? 'application/json' },
        signal: opts.signal,
        headersTimeoutMs: this.responseTimeoutMs,
        bodyTimeoutMs: opts.idleTimeoutMs ?? 0,
      });
      if (res.statusCode < 200 || res.statusCode >= 300) throw apiErrorFromResponse(res.statusCode, await res.body.text());
    } catch (err) {
      if (!opts.signal?.aborted) this.serverFailed(at, err, opts.failoverOn503);
      throw err;
    }
    const body = res.body;
    const onBreak = (err: unknown) => {
      if (!opts.signal?.aborted) this.serverFailed(at, err, false);
    };
    return {
      destroy: () => body.destroy(),
      headers: res.headers,
      async *[Symbol.asyncIterator]() {
        try {
          for await (const chunk of body) yield chunk as Buffer;
        } catch (err) {
          onBreak(err);
          throw err;
        }
      },
    };
  }

  /** Drops every connection at once: a graceful close would wait forever for open watches. */
  async close(): Promise<void> {
    if (this.ownsSender) await this.sender.close();
  }

  /** Moves off the server at `at` when err says the server (not the request) failed; answers whether the client now uses another server. */
  private serverFailed(at: number, err: unknown, failoverOn503 = true): boolean {
    const unavailable = err instanceof ApiError ? failoverOn503 && err.code === 503 : isConnectionError(err);
    return unavailable && this.servers.failed(at);
  }

  private async once<T>(at: number, method: HttpMethod, path: string, opts: RequestOptions): Promise<T> {
    const hasBody = opts.body !== undefined;
    const body = !hasBody ? undefined : typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body);
    const res = await this.sender.send(this.url(at, path, opts.query), {
      method,
      headers: {
        ...this.headers,
        accept: opts.accept ?? 'application/json',
        ...(hasBody ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
      },
      body,
      signal: opts.signal,
      headersTimeoutMs: this.responseTimeoutMs,
      bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS,
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
    return (text && !opts.discardAnswer ? JSON.parse(text) : undefined) as T;
  }

  private url(at: number, path: string, query: Record<string, QueryValue> | undefined): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') params.set(k, String(v));
    const qs = params.toString();
    const server = this.servers.get(at);
    return `${server.origin}${server.basePath}${path}${qs ? `?${qs}` : ''}`;
  }
}

/**
 * Reads retry on any broken connection and on 429/5xx; writes only when nothing was sent (see
 * connection-errors.ts) or the server said 429: it refuses so before working on a request (its
 * per-user rate limit, a wait for a seat too long), so a write answered 429 was not made, and goes
 * again after Retry-After as client-go's do.
 */
export function shouldRetry(err: unknown, mode: RetryMode): boolean {
  if (mode === 'none') return false;
  if (err instanceof ApiError) return err.code === 429 || (mode === 'read' && err.retryable);
  return mode === 'read' ? isConnectionError(err) : isNeverConnectedError(err);
}

function retryAfterMs(err: unknown): number {
  const s = err instanceof ApiError ? err.details?.retryAfterSeconds : undefined;
  return typeof s === 'number' && s > 0 ? Math.min(s, 60) * 1000 : 0;
}
