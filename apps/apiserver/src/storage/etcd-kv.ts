/**
 * etcd's KV service (Range and Txn) as plain gRPC over one HTTP/2 connection: the calls every
 * API request makes. The etcd3 client (and grpc-js under it) spends ~150-250 µs of CPU per call
 * on builders, retry and circuit-breaker policies, interceptor and filter stacks, metadata
 * objects, a captured stack trace and int64-to-string conversions; this spends ~50-100 µs (see
 * kv-protobuf.ts for the messages). Watches stay on the etcd3 client: they are one long stream.
 *
 * Connection handling, as grpc-js does it for one channel: connect lazily to the first server
 * that answers (in the order given, moving on after a failure); ping while calls are in flight
 * and drop a connection whose ping is not answered; after a GOAWAY or a failure new calls go to
 * a new connection. A call is retried on another connection only when etcd certainly never saw
 * it (the connection was never up, or etcd refused the stream); one lost mid-flight fails with
 * UNAVAILABLE, because a write may or may not have been applied.
 */
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { decodeRangeResponse, decodeTxnResponse, encodeRangeRequest, encodeTxnRequest, type RangeRequest, type RangeResponse, type TxnRequest, type TxnResponse } from './kv-protobuf.js';

export type { RangeRequest, RangeResponse, TxnRequest, TxnResponse, KeyValue, RequestOp, Compare } from './kv-protobuf.js';

export interface EtcdKvOptions {
  /** Client URLs, http:// or https://. */
  servers: string[];
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Largest response accepted. */
  maxMessageBytes?: number;
  /** Ping this often while calls are in flight. */
  keepaliveMs?: number;
  /** Drop the connection when a ping is not answered within this. */
  keepaliveTimeoutMs?: number;
  /** Give up on a connection attempt after this. */
  dialTimeoutMs?: number;
}

const STATUS_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];
const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;
const RESOURCE_EXHAUSTED = 8;
const CANCELLED = 1;

/** A failed etcd call, with its gRPC status code. */
export class EtcdError extends Error {
  constructor(
    readonly status: number,
    details: string,
  ) {
    super(`etcd ${STATUS_NAMES[status] ?? `status ${status}`}: ${details}`);
    this.name = 'EtcdError';
  }

  /** etcd, or the way to it, was unavailable: nothing is known to have changed, and the request may be tried again. */
  get unavailable(): boolean {
    return this.status === UNAVAILABLE || this.status === DEADLINE_EXCEEDED;
  }

  /** The request or the response was larger than allowed. */
  get tooLarge(): boolean {
    return this.status === RESOURCE_EXHAUSTED || /request is too large/.test(this.message);
  }
}

type Decoder<T> = (buf: Buffer, start: number, end: number) => T;
type Done = (err: Error | undefined, buf?: Buffer) => void;

/** Marks a call etcd never received: safe to send again elsewhere. */
const NOT_SENT = Symbol('not sent');

const RANGE = '/etcdserverpb.KV/Range';
const TXN = '/etcdserverpb.KV/Txn';
/** Client stream IDs run out at 2^31; a connection is replaced well before. */
const CALLS_PER_CONNECTION = 1_000_000_000;

class Connection {
  readonly session: ClientHttp2Session;
  connected = false;
  retired = false;
  private active = 0;
  private calls = 0;
  private pingTimer?: NodeJS.Timeout;
  private readonly headers: Record<string, OutgoingHttpHeaders>;

  constructor(
    readonly url: string,
    private readonly opts: Required<Omit<EtcdKvOptions, 'tls' | 'servers'>> & Pick<EtcdKvOptions, 'tls'>,
    /** Called once, when this connection takes no more calls; `failed` when it never came up or broke. */
    private readonly onRetired: (conn: Connection, failed: boolean) => void,
  ) {
    const header = (path: string) => ({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    this.headers = { [RANGE]: header(RANGE), [TXN]: header(TXN) };
    this.session = http2.connect(url, {
      ...(opts.tls ?? {}),
      settings: { enablePush: false, initialWindowSize: 4 << 20 },
      maxSessionMemory: 256,
      peerMaxConcurrentStreams: 1000,
    });
    const dial = setTimeout(() => this.session.destroy(new Error(`no connection to ${url} within ${opts.dialTimeoutMs} ms`)), opts.dialTimeoutMs).unref();
    this.session.once('connect', () => {
      clearTimeout(dial);
      this.connected = true;
      this.session.setLocalWindowSize(16 << 20);
      this.pingTimer = setInterval(() => this.ping(), opts.keepaliveMs).unref();
    });
    this.session.on('error', () => this.retire(true));
    this.session.on('goaway', () => this.retire(false));
    this.session.once('close', () => {
      clearTimeout(dial);
      clearInterval(this.pingTimer);
      this.retire(!this.connected);
    });
    this.session.unref();
  }

  /** Whether new calls may go here. Checks the session too: its streams hear of its end before it says so itself. */
  get usable(): boolean {
    if (!this.retired && (this.session.destroyed || this.session.closed)) this.retire(this.session.destroyed);
    return !this.retired;
  }

  private retire(failed: boolean): void {
    if (this.retired) return;
    this.retired = true;
    this.onRetired(this, failed);
  }

  /** Stop taking calls; the ones in flight finish. */
  close(): void {
    this.retire(false);
    this.session.close();
  }

  /** Keepalive: a connection with calls in flight that does not answer a ping is dropped (its calls fail, new ones reconnect). */
  private ping(): void {
    if (this.active === 0 || this.session.destroyed) return;
    const timeout = setTimeout(() => this.session.destroy(new Error(`etcd at ${this.url} did not answer a keepalive ping within ${this.opts.keepaliveTimeoutMs} ms`)), this.opts.keepaliveTimeoutMs).unref();
    if (!this.session.ping(() => clearTimeout(timeout))) clearTimeout(timeout);
  }

  call(path: string, frame: Buffer, done: Done): void {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.session.request(this.headers[path]!, { endStream: false });
    } catch (err) {
      // The session is closing, destroyed or out of stream IDs: nothing was sent.
      this.retire(false);
      return done(Object.assign(err as Error, { [NOT_SENT]: true }));
    }
    if (++this.calls >= CALLS_PER_CONNECTION) this.close();
    if (this.active++ === 0) this.session.ref();
    const chunks: Buffer[] = [];
    let length = 0;
    let status: string | undefined;
    let message: string | undefined;
    let failure: Error | undefined;
    const statusFrom = (h: IncomingHttpHeaders) => {
      if (h['grpc-status'] === undefined) return;
      status = String(h['grpc-status']);
      message = h['grpc-message'] as string | undefined;
    };
    stream.on('response', (h) => {
      // A gRPC error can come as headers only ("trailers-only").
      statusFrom(h);
      if (status === undefined && h[':status'] !== 200) failure ??= new EtcdError(UNAVAILABLE, `HTTP ${h[':status']} from ${this.url}`);
    });
    stream.on('trailers', statusFrom);
    stream.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > this.opts.maxMessageBytes + 5) {
        failure ??= new EtcdError(RESOURCE_EXHAUSTED, `response larger than ${this.opts.maxMessageBytes} bytes`);
        stream.close(http2.constants.NGHTTP2_CANCEL);
        return;
      }
      chunks.push(chunk);
    });
    stream.on('error', (err) => (failure ??= err));
    stream.once('close', () => {
      if (--this.active === 0) this.session.unref();
      if (failure instanceof EtcdError) return done(failure);
      if (status === '0') {
        const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
        if (buf.length < 5 || buf[0] !== 0 || buf.readUInt32BE(1) !== buf.length - 5)
          return done(new EtcdError(13, `malformed response from ${this.url} (${buf.length} bytes)`));
        return done(undefined, buf);
      }
      if (status !== undefined) return done(new EtcdError(Number(status), decodeMessage(message)));
      // No gRPC status: the stream or the connection broke.
      const reason = failure?.message ?? `stream closed (HTTP/2 code ${stream.rstCode})`;
      const err = new EtcdError(UNAVAILABLE, `lost the call to ${this.url}: ${reason}`);
      if (!this.connected || stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) Object.assign(err, { [NOT_SENT]: true });
      done(err);
    });
    stream.end(frame);
  }
}

function decodeMessage(m: string | undefined): string {
  if (!m) return 'no details';
  try {
    return decodeURIComponent(m);
  } catch {
    return m;
  }
}

export class EtcdKv {
  private connection?: Connection;
  /** Index of the server the next connection goes to. */
  private nextServer = 0;
  private closed = false;
  private readonly opts: ConstructorParameters<typeof Connection>[1];

  constructor(private readonly options: EtcdKvOptions) {
    if (!options.servers.length) throw new Error('etcd: no servers');
    this.opts = {
      tls: options.tls,
      maxMessageBytes: options.maxMessageBytes ?? 64 * 1024 * 1024,
      keepaliveMs: options.keepaliveMs ?? 10_000,
      keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? 5_000,
      dialTimeoutMs: options.dialTimeoutMs ?? 5_000,
    };
  }

  range(req: RangeRequest): Promise<RangeResponse> {
    return this.unary(RANGE, encodeRangeRequest(req), decodeRangeResponse);
  }

  txn(req: TxnRequest): Promise<TxnResponse> {
    return this.unary(TXN, encodeTxnRequest(req), decodeTxnResponse);
  }

  /** Stops taking calls; those in flight finish. */
  close(): void {
    this.closed = true;
    this.connection?.close();
  }

  private unary<T>(path: string, frame: Buffer, decode: Decoder<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const attempt = (n: number) => {
        if (this.closed) return reject(new EtcdError(CANCELLED, 'the etcd client was closed'));
        this.connect().call(path, frame, (err, buf) => {
          if (!err) {
            try {
              return resolve(decode(buf!, 5, buf!.length));
            } catch (decodeErr) {
              return reject(new EtcdError(13, `undecodable response: ${(decodeErr as Error).message}`));
            }
          }
          if ((err as { [NOT_SENT]?: boolean })[NOT_SENT] && n < this.options.servers.length) return attempt(n + 1);
          reject(err instanceof EtcdError ? err : new EtcdError(UNAVAILABLE, err.message));
        });
      };
      attempt(0);
    });
  }

  private connect(): Connection {
    if (this.connection?.usable) return this.connection;
    const url = this.options.servers[this.nextServer % this.options.servers.length]!;
    const conn = new Connection(url, this.opts, (retired, failed) => {
      if (this.connection === retired) this.connection = undefined;
      // After a failure the next connection goes to the next server.
      if (failed && retired.url === this.options.servers[this.nextServer % this.options.servers.length]) this.nextServer++;
    });
    this.connection = conn;
    return conn;
  }
}
