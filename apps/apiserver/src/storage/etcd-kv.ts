/**
 * The apiserver's connection to etcd: the KV service (Range, Txn) and the Watch service as plain
 * gRPC over one HTTP/2 connection (kv-protobuf.ts has the messages). The etcd3 client, and
 * grpc-js under it, spent ~150-250 µs of CPU per call on builders, retry and circuit-breaker
 * policies, interceptor and filter stacks, metadata objects, a captured stack trace and
 * int64-to-string conversions: ~40% of the apiserver's CPU under creates. This spends ~80 µs,
 * most of it in node:http2 itself.
 *
 * Connection handling, as grpc-js does it for one channel: connect lazily to the first server
 * that answers (in the order given, moving on after a failure); ping while calls are in flight
 * and drop a connection whose ping is not answered; after a GOAWAY or a failure new calls go to
 * a new connection. A call is retried on another connection only when etcd certainly never saw
 * it (the connection was never up, or etcd refused the stream); one lost mid-flight fails with
 * UNAVAILABLE, because a write may or may not have been applied. A watch is re-created after a
 * lost connection from the revision after the last event it delivered.
 */
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import {
  decodeRangeResponse,
  decodeTxnResponse,
  decodeWatchResponse,
  encodeRangeRequest,
  encodeTxnRequest,
  encodeWatchCreateRequest,
  type RangeRequest,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
  type WatchCreateRequest,
  type WatchResponse,
} from './kv-protobuf.js';

export type { RangeRequest, RangeResponse, TxnRequest, TxnResponse, KeyValue, RequestOp, Compare, WatchCreateRequest, WatchResponse, WatchEvent } from './kv-protobuf.js';

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
const CANCELLED = 1;
const DEADLINE_EXCEEDED = 4;
const RESOURCE_EXHAUSTED = 8;
const OUT_OF_RANGE = 11;
const INTERNAL = 13;
const UNAVAILABLE = 14;

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

/** Marks a call etcd never received: safe to send again elsewhere. */
const NOT_SENT = Symbol('not sent');

const RANGE = '/etcdserverpb.KV/Range';
const TXN = '/etcdserverpb.KV/Txn';
const WATCH = '/etcdserverpb.Watch/Watch';
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
    this.headers = { [RANGE]: header(RANGE), [TXN]: header(TXN), [WATCH]: header(WATCH) };
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

  /** A long-lived stream (a watch); while open it counts as a call in flight. Throws when the connection takes no more streams. */
  openStream(path: string): http2.ClientHttp2Stream {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.session.request(this.headers[path]!, REQUEST_OPTIONS);
    } catch (err) {
      this.retire(false);
      throw err;
    }
    if (this.active++ === 0) this.session.ref();
    stream.once('close', () => {
      if (--this.active === 0) this.session.unref();
    });
    return stream;
  }

  /** Sends the call on this connection; its outcome goes to call.settle(). */
  send(call: UnaryCall): void {
    let stream: CallStream;
    try {
      stream = this.session.request(this.headers[call.path]!, REQUEST_OPTIONS) as CallStream;
    } catch (err) {
      // The session is closing, destroyed or out of stream IDs: nothing was sent.
      this.retire(false);
      return call.settle(Object.assign(err as Error, { [NOT_SENT]: true }));
    }
    if (++this.calls >= CALLS_PER_CONNECTION) this.close();
    if (this.active++ === 0) this.session.ref();
    call.start(this);
    stream[CALL] = call;
    // Listeners shared by every call (no closures per call): they find the call on the stream.
    stream.on('response', onResponse);
    stream.on('trailers', onTrailers);
    stream.on('data', onData);
    stream.on('error', onError);
    stream.once('close', onClose);
    stream.end(call.frame);
  }

  /** The stream of `call` closed: hands the call its answer or its error. */
  finished(call: UnaryCall, stream: CallStream): void {
    if (--this.active === 0) this.session.unref();
    if (call.failure instanceof EtcdError) return call.settle(call.failure);
    if (call.status === '0') {
      const buf = call.chunks.length === 1 ? call.chunks[0]! : Buffer.concat(call.chunks, call.length);
      if (buf.length < 5 || buf[0] !== 0 || buf.readUInt32BE(1) !== buf.length - 5) return call.settle(new EtcdError(INTERNAL, `malformed response from ${this.url} (${buf.length} bytes)`));
      return call.settle(undefined, buf);
    }
    if (call.status !== undefined) return call.settle(new EtcdError(Number(call.status), decodeMessage(call.message)));
    // No gRPC status: the stream or the connection broke.
    const reason = call.failure?.message ?? `stream closed (HTTP/2 code ${stream.rstCode})`;
    const err = new EtcdError(UNAVAILABLE, `lost the call to ${this.url}: ${reason}`);
    if (!this.connected || stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) Object.assign(err, { [NOT_SENT]: true });
    call.settle(err);
  }
}

const REQUEST_OPTIONS = { endStream: false };
const CALL = Symbol('call');
type CallStream = http2.ClientHttp2Stream & { [CALL]: UnaryCall };

function statusFrom(call: UnaryCall, h: IncomingHttpHeaders): void {
  if (h['grpc-status'] === undefined) return;
  call.status = String(h['grpc-status']);
  call.message = h['grpc-message'] as string | undefined;
}

function onResponse(this: CallStream, h: IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void {
  const call = this[CALL];
  // A gRPC error can come as headers only ("trailers-only").
  statusFrom(call, h);
  if (call.status === undefined && h[':status'] !== 200) call.failure ??= new EtcdError(UNAVAILABLE, `HTTP ${h[':status']} from ${call.connection!.url}`);
}

function onTrailers(this: CallStream, h: IncomingHttpHeaders): void {
  statusFrom(this[CALL], h);
}

function onData(this: CallStream, chunk: Buffer): void {
  const call = this[CALL];
  call.length += chunk.length;
  if (call.length > call.maxBytes + 5) {
    call.failure ??= new EtcdError(RESOURCE_EXHAUSTED, `response larger than ${call.maxBytes} bytes`);
    this.close(http2.constants.NGHTTP2_CANCEL);
    return;
  }
  call.chunks.push(chunk);
}

function onError(this: CallStream, err: Error): void {
  this[CALL].failure ??= err;
}

function onClose(this: CallStream): void {
  const call = this[CALL];
  call.connection!.finished(call, this);
}

/** One unary call: what it sends, its answer as it arrives, and who waits for it. */
class UnaryCall {
  connection?: Connection;
  chunks: Buffer[] = [];
  length = 0;
  status?: string;
  message?: string;
  failure?: Error;
  private attempts = 0;

  constructor(
    private readonly kv: EtcdKv,
    readonly path: string,
    readonly frame: Buffer,
    readonly maxBytes: number,
    private readonly decode: Decoder<unknown>,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  /** A (new) attempt starts on `connection`. */
  start(connection: Connection): void {
    this.connection = connection;
    this.chunks = [];
    this.length = 0;
    this.status = this.message = this.failure = undefined;
  }

  settle(err: Error | undefined, buf?: Buffer): void {
    if (!err) {
      let value: unknown;
      try {
        value = this.decode(buf!, 5, buf!.length);
      } catch (decodeErr) {
        return this.reject(new EtcdError(INTERNAL, `undecodable response: ${(decodeErr as Error).message}`));
      }
      return this.resolve(value);
    }
    if ((err as { [NOT_SENT]?: boolean })[NOT_SENT] && this.attempts++ < this.kv.serverCount) return this.kv.send(this);
    this.reject(err instanceof EtcdError ? err : new EtcdError(UNAVAILABLE, err.message));
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

  /**
   * Watches a key range from a revision. The watch survives lost connections: it is created again
   * from the revision after the last event it delivered. It ends only when cancelled, or when
   * etcd cancels it (its start revision compacted: `compacted` on the error).
   */
  watch(req: WatchCreateRequest, handlers: WatchHandlers): EtcdWatch {
    return new EtcdWatch(this, req, handlers);
  }

  /** @internal A stream on the current connection, for EtcdWatch. */
  openStream(path: string): http2.ClientHttp2Stream {
    if (this.closed) throw new EtcdError(CANCELLED, 'the etcd client was closed');
    return this.connect().openStream(path);
  }

  get serverCount(): number {
    return this.options.servers.length;
  }

  private unary<T>(path: string, frame: Buffer, decode: Decoder<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.send(new UnaryCall(this, path, frame, this.opts.maxMessageBytes, decode, resolve as (value: unknown) => void, reject)));
  }

  /** Sends (or sends again) a call on the current connection. */
  send(call: UnaryCall): void {
    if (this.closed) return call.settle(new EtcdError(CANCELLED, 'the etcd client was closed'));
    this.connect().send(call);
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

export interface WatchHandlers {
  /** A response with events (in revision order). */
  onEvents(res: WatchResponse): void;
  /** The watch is established (again), or its connection was lost and it is being re-created. */
  onConnectionChange(connected: boolean): void;
  /** etcd cancelled the watch; it will not resume. */
  onEnd(err: EtcdError & { compacted: boolean }): void;
}

const WATCH_BACKOFF_MS = { initial: 100, max: 5_000 };

/** One etcd watch on its own gRPC stream (see EtcdKv.watch). */
export class EtcdWatch {
  /** The revision to create the watch from if it has to be created again. */
  private next: number;
  private stream?: http2.ClientHttp2Stream;
  private stopped = false;
  private established = false;
  private backoffMs = WATCH_BACKOFF_MS.initial;
  private retryTimer?: NodeJS.Timeout;
  /** Received bytes not yet making a whole message, and the size of the message they start (-1: not known yet). */
  private chunks: Buffer[] = [];
  private received = 0;
  private messageSize = -1;

  constructor(
    private readonly kv: EtcdKv,
    private readonly req: WatchCreateRequest,
    private readonly handlers: WatchHandlers,
  ) {
    this.next = req.startRevision;
    this.open();
  }

  cancel(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stream?.close(http2.constants.NGHTTP2_CANCEL);
    return Promise.resolve();
  }

  private open(): void {
    if (this.stopped) return;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.kv.openStream(WATCH);
    } catch (err) {
      // A closed client takes no more watches; anything else is tried again.
      if (err instanceof EtcdError && err.status === CANCELLED) return void (this.stopped = true);
      return this.lost();
    }
    this.stream = stream;
    this.chunks = [];
    this.received = 0;
    this.messageSize = -1;
    stream.on('data', (chunk: Buffer) => {
      if (this.stream === stream && !this.stopped) this.receive(chunk);
    });
    stream.on('error', () => undefined); // the close that follows says it all
    stream.once('close', () => {
      if (this.stream !== stream || this.stopped) return;
      this.stream = undefined;
      this.lost();
    });
    stream.write(encodeWatchCreateRequest({ ...this.req, startRevision: this.next }));
  }

  /** The stream broke (or could not be opened): say so, and create the watch again after a pause. */
  private lost(): void {
    if (this.stopped) return;
    if (this.established) {
      this.established = false;
      this.handlers.onConnectionChange(false);
    }
    this.retryTimer = setTimeout(() => this.open(), this.backoffMs).unref();
    this.backoffMs = Math.min(this.backoffMs * 2, WATCH_BACKOFF_MS.max);
  }

  /** Splits the stream into gRPC messages. */
  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.received += chunk.length;
    while (!this.stopped && this.received >= 5) {
      if (this.messageSize < 0) {
        const head = this.chunks[0]!.length >= 5 ? this.chunks[0]! : this.joined();
        if (head[0] !== 0) return this.broken(); // compressed: never asked for
        this.messageSize = 5 + head.readUInt32BE(1);
      }
      if (this.received < this.messageSize) return;
      const buf = this.chunks.length === 1 ? this.chunks[0]! : this.joined();
      let res: WatchResponse;
      try {
        res = decodeWatchResponse(buf, 5, this.messageSize);
      } catch {
        return this.broken();
      }
      const rest = buf.subarray(this.messageSize);
      this.chunks = rest.length ? [rest] : [];
      this.received = rest.length;
      this.messageSize = -1;
      this.handle(res);
    }
  }

  private joined(): Buffer {
    const buf = Buffer.concat(this.chunks, this.received);
    this.chunks = [buf];
    return buf;
  }

  /** The stream carries something this client cannot read: drop it and create the watch again. */
  private broken(): void {
    const stream = this.stream;
    this.stream = undefined;
    stream?.close(http2.constants.NGHTTP2_CANCEL);
    this.lost();
  }

  private handle(res: WatchResponse): void {
    if (res.canceled) {
      this.stopped = true;
      this.stream?.close(http2.constants.NGHTTP2_CANCEL);
      const compacted = res.compactRevision > 0;
      const reason = compacted ? `mvcc: required revision has been compacted (compacted to ${res.compactRevision})` : res.cancelReason || 'watch canceled by etcd';
      this.handlers.onEnd(Object.assign(new EtcdError(compacted ? OUT_OF_RANGE : CANCELLED, reason), { compacted }));
      return;
    }
    if (res.created && !this.established) {
      this.established = true;
      this.backoffMs = WATCH_BACKOFF_MS.initial;
      this.handlers.onConnectionChange(true);
    }
    if (!res.events.length) return;
    const last = res.events[res.events.length - 1]!.kv.modRevision;
    if (last >= this.next) this.next = last + 1;
    this.handlers.onEvents(res);
  }
}
