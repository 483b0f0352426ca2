/**
 * The protobuf wire form of the few etcd v3 messages the apiserver sends and reads (etcdserverpb
 * Range, Txn and Watch, mvccpb KeyValue and Event; field numbers from etcd's rpc.proto and kv.proto,
 * as vendored in node_modules/etcd3/proto). Encoding sizes a message first and writes it once,
 * gRPC's 5-byte frame prefix included; decoding reads the fields used and skips the rest.
 * Revisions and counts are JS numbers: exact up to 2^53, which etcd revisions never approach.
 */

export interface KeyValue {
  key: Buffer;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: number;
}

export interface RangeRequest {
  key: string;
  /** Exclusive end of the range; omitted: the key alone. */
  rangeEnd?: string;
  limit?: number;
  /** Read at this revision (0: the latest). */
  revision?: number;
}

export interface RangeResponse {
  /** The store revision the read was served at (the header's). */
  revision: number;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export type CompareTarget = 'Version' | 'Create' | 'Mod';
export interface Compare {
  key: string;
  target: CompareTarget;
  /** Only equality is used by the store; the revision (or version) compared against. */
  equals: number;
}

export type RequestOp = { put: { key: string; value: string } } | { range: RangeRequest } | { deleteRange: { key: string } };

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure?: RequestOp[];
}

export interface ResponseOp {
  range?: RangeResponse;
  /** Keys a delete removed. */
  deleted?: number;
}

export interface TxnResponse {
  revision: number;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface WatchCreateRequest {
  key: string;
  rangeEnd?: string;
  startRevision: number;
  prevKv?: boolean;
}

export interface WatchEvent {
  type: 'Put' | 'Delete';
  kv: KeyValue;
  prevKv?: KeyValue;
}

export interface WatchResponse {
  /** The header's revision: for events caught up from the past it may be ahead of the last event. */
  revision: number;
  created: boolean;
  canceled: boolean;
  /** Set when the watch was canceled because its start revision was compacted. */
  compactRevision: number;
  cancelReason: string;
  events: WatchEvent[];
}

// ---- encoding ---------------------------------------------------------------------------

/** A field: its number and a value (varint, UTF-8 string, bytes, or a nested message). */
type Field = [no: number, value: number | boolean | string | Uint8Array | Message];

/** A message to encode; its size is computed once and remembered. */
class Message {
  size = -1;
  constructor(readonly fields: Field[]) {}
}

const COMPARE_TARGET: Record<CompareTarget, number> = { Version: 0, Create: 1, Mod: 2 };
/** Compare's oneof field holding the value of each target. */
const COMPARE_VALUE_FIELD: Record<CompareTarget, number> = { Version: 4, Create: 5, Mod: 6 };

function rangeMessage(r: RangeRequest): Message {
  const fields: Field[] = [[1, r.key]];
  if (r.rangeEnd !== undefined) fields.push([2, r.rangeEnd]);
  if (r.limit) fields.push([3, r.limit]);
  if (r.revision) fields.push([4, r.revision]);
  return new Message(fields);
}

function requestOpMessage(op: RequestOp): Message {
  if ('put' in op) return new Message([[2, new Message([[1, op.put.key], [2, op.put.value]])]]);
  if ('range' in op) return new Message([[1, rangeMessage(op.range)]]);
  return new Message([[3, new Message([[1, op.deleteRange.key]])]]);
}

function txnMessage(t: TxnRequest): Message {
  const fields: Field[] = [];
  for (const c of t.compare) {
    // The value is written even when 0: it is a member of a oneof, where presence matters.
    fields.push([1, new Message([[1, 0], [2, COMPARE_TARGET[c.target]], [3, c.key], [COMPARE_VALUE_FIELD[c.target], c.equals]])]);
  }
  for (const op of t.success) fields.push([2, requestOpMessage(op)]);
  for (const op of t.failure ?? []) fields.push([3, requestOpMessage(op)]);
  return new Message(fields);
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function fieldSize(no: number, value: Field[1]): number {
  const tag = varintSize(no << 3);
  if (typeof value === 'number') return tag + varintSize(value);
  if (typeof value === 'boolean') return tag + 1;
  const len = typeof value === 'string' ? Buffer.byteLength(value) : value instanceof Message ? messageSize(value) : value.length;
  return tag + varintSize(len) + len;
}

function messageSize(m: Message): number {
  if (m.size < 0) {
    let size = 0;
    for (const [no, value] of m.fields) size += fieldSize(no, value);
    m.size = size;
  }
  return m.size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

function writeMessage(buf: Buffer, pos: number, m: Message): number {
  for (const [no, value] of m.fields) {
    if (typeof value === 'number' || typeof value === 'boolean') {
      pos = writeVarint(buf, pos, no << 3);
      pos = writeVarint(buf, pos, Number(value));
    } else if (typeof value === 'string') {
      pos = writeVarint(buf, pos, (no << 3) | 2);
      pos = writeVarint(buf, pos, Buffer.byteLength(value));
      pos += buf.write(value, pos, 'utf8');
    } else if (value instanceof Message) {
      pos = writeVarint(buf, pos, (no << 3) | 2);
      pos = writeVarint(buf, pos, messageSize(value));
      pos = writeMessage(buf, pos, value);
    } else {
      pos = writeVarint(buf, pos, (no << 3) | 2);
      pos = writeVarint(buf, pos, value.length);
      buf.set(value, pos);
      pos += value.length;
    }
  }
  return pos;
}

/** The message in a gRPC frame: 1 byte "not compressed", 4 bytes length, the message. */
function framed(m: Message): Buffer {
  const size = messageSize(m);
  const buf = Buffer.allocUnsafe(5 + size);
  buf[0] = 0;
  buf.writeUInt32BE(size, 1);
  const end = writeMessage(buf, 5, m);
  if (end !== buf.length) throw new Error(`kv-protobuf: wrote ${end - 5} bytes of a ${size}-byte message`);
  return buf;
}

export const encodeRangeRequest = (r: RangeRequest): Buffer => framed(rangeMessage(r));
export const encodeWatchCreateRequest = (w: WatchCreateRequest): Buffer => {
  const create: Field[] = [[1, w.key]];
  if (w.rangeEnd !== undefined) create.push([2, w.rangeEnd]);
  if (w.startRevision) create.push([3, w.startRevision]);
  if (w.prevKv) create.push([6, true]);
  return framed(new Message([[1, new Message(create)]]));
};
export const encodeTxnRequest = (t: TxnRequest): Buffer => framed(txnMessage(t));

// ---- decoding ---------------------------------------------------------------------------

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('kv-protobuf: truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
  }

  /** A length-delimited field's extent; the reader moves past it. */
  sub(): Reader {
    const len = this.varint();
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.end) throw new Error('kv-protobuf: truncated field');
    return new Reader(this.buf, start, this.pos);
  }

  bytes(): Buffer {
    const r = this.sub();
    return this.buf.subarray(r.pos, r.end);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2:
        this.sub();
        return;
      case 5:
        this.pos += 4;
        return;
      default:
        throw new Error(`kv-protobuf: unexpected wire type ${wireType}`);
    }
  }
}

/** Calls `field` for each field of the message the reader spans. */
function eachField(r: Reader, field: (no: number, wireType: number) => void): void {
  while (!r.done) {
    const tag = r.varint();
    field(Math.floor(tag / 8), tag & 7);
  }
}

function headerRevision(r: Reader): number {
  let revision = 0;
  eachField(r, (no, wt) => (no === 3 && wt === 0 ? (revision = r.varint()) : r.skip(wt)));
  return revision;
}

function keyValue(r: Reader): KeyValue {
  const kv: KeyValue = { key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0, lease: 0 };
  eachField(r, (no, wt) => {
    if (no === 1 && wt === 2) kv.key = r.bytes();
    else if (no === 2 && wt === 0) kv.createRevision = r.varint();
    else if (no === 3 && wt === 0) kv.modRevision = r.varint();
    else if (no === 4 && wt === 0) kv.version = r.varint();
    else if (no === 5 && wt === 2) kv.value = r.bytes();
    else if (no === 6 && wt === 0) kv.lease = r.varint();
    else r.skip(wt);
  });
  return kv;
}

const EMPTY = Buffer.alloc(0);

function rangeResponse(r: Reader): RangeResponse {
  const res: RangeResponse = { revision: 0, kvs: [], more: false, count: 0 };
  eachField(r, (no, wt) => {
    if (no === 1 && wt === 2) res.revision = headerRevision(r.sub());
    else if (no === 2 && wt === 2) res.kvs.push(keyValue(r.sub()));
    else if (no === 3 && wt === 0) res.more = r.varint() !== 0;
    else if (no === 4 && wt === 0) res.count = r.varint();
    else r.skip(wt);
  });
  return res;
}

function deleteRangeResponse(r: Reader): number {
  let deleted = 0;
  eachField(r, (no, wt) => (no === 2 && wt === 0 ? (deleted = r.varint()) : r.skip(wt)));
  return deleted;
}

function responseOp(r: Reader): ResponseOp {
  const op: ResponseOp = {};
  eachField(r, (no, wt) => {
    if (no === 1 && wt === 2) op.range = rangeResponse(r.sub());
    else if (no === 3 && wt === 2) op.deleted = deleteRangeResponse(r.sub());
    else r.skip(wt);
  });
  return op;
}

function txnResponse(r: Reader): TxnResponse {
  const res: TxnResponse = { revision: 0, succeeded: false, responses: [] };
  eachField(r, (no, wt) => {
    if (no === 1 && wt === 2) res.revision = headerRevision(r.sub());
    else if (no === 2 && wt === 0) res.succeeded = r.varint() !== 0;
    else if (no === 3 && wt === 2) res.responses.push(responseOp(r.sub()));
    else r.skip(wt);
  });
  return res;
}

function watchEvent(r: Reader): WatchEvent {
  const ev: WatchEvent = { type: 'Put', kv: undefined as unknown as KeyValue };
  eachField(r, (no, wt) => {
    if (no === 1 && wt === 0) ev.type = r.varint() === 1 ? 'Delete' : 'Put';
    else if (no === 2 && wt === 2) ev.kv = keyValue(r.sub());
    else if (no === 3 && wt === 2) ev.prevKv = keyValue(r.sub());
    else r.skip(wt);
  });
  if (!ev.kv) throw new Error('kv-protobuf: watch event without a key-value');
  return ev;
}

function watchResponse(r: Reader): WatchResponse {
  const res: WatchResponse = { revision: 0, created: false, canceled: false, compactRevision: 0, cancelReason: '', events: [] };
  eachField(r, (no, wt) => {
    if (no === 1 && wt === 2) res.revision = headerRevision(r.sub());
    else if (no === 3 && wt === 0) res.created = r.varint() !== 0;
    else if (no === 4 && wt === 0) res.canceled = r.varint() !== 0;
    else if (no === 5 && wt === 0) res.compactRevision = r.varint();
    else if (no === 6 && wt === 2) res.cancelReason = r.bytes().toString();
    else if (no === 11 && wt === 2) res.events.push(watchEvent(r.sub()));
    else r.skip(wt);
  });
  return res;
}

/** Decoders of a message that spans buf[start, end). */
export const decodeRangeResponse = (buf: Buffer, start: number, end: number): RangeResponse => rangeResponse(new Reader(buf, start, end));
export const decodeTxnResponse = (buf: Buffer, start: number, end: number): TxnResponse => txnResponse(new Reader(buf, start, end));
export const decodeWatchResponse = (buf: Buffer, start: number, end: number): WatchResponse => watchResponse(new Reader(buf, start, end));
