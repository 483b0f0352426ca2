/**
 * A list answered as JSON written from each object's stored JSON (storage/stored-json.ts),
 * streamed in chunks: neither parsed objects serialised again nor one string of the whole list.
 * A whole list of 10,000 VMs is ~17 MB; as one JSON.stringify it cost ~60 ms of the apiserver's
 * thread and, with its UTF-8 copy, ~35 MB of heap at once, which stayed in the process's
 * resident memory after the list was sent. Written in chunks, the socket's pace sets how much
 * is held (kube-apiserver streams list encoding for the same reason).
 */
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { KindInfo } from '@shoal/api';
import type { StoredList } from '../registry/resource-list.js';
import { answerJson } from '../storage/stored-value.js';

/** Characters handed to the socket at a time. */
const CHUNK_CHARS = 64 * 1024;
/** Lists this short go out as one string (with a Content-Length), the cheaper way for them. */
const STREAM_FROM_ITEMS = 100;

export function sendList(reply: FastifyReply, kind: KindInfo, list: StoredList): FastifyReply {
  const chunks = listJson(kind, list);
  void reply.type('application/json; charset=utf-8');
  if (list.items.length < STREAM_FROM_ITEMS) return reply.send([...chunks].join(''));
  return reply.send(Readable.from(chunks, { objectMode: false, highWaterMark: CHUNK_CHARS }));
}

/** The list's JSON, in pieces of about CHUNK_CHARS, built only as they are read. */
export function* listJson(kind: KindInfo, list: StoredList): Generator<string> {
  const head = { apiVersion: kind.apiVersion, kind: kind.listKind, metadata: list.metadata };
  let piece = `${JSON.stringify(head).slice(0, -1)},"items":[`;
  for (let i = 0; i < list.items.length; i++) {
    piece += (i === 0 ? '' : ',') + answerJson(list.items[i]!);
    if (piece.length >= CHUNK_CHARS) {
      yield piece;
      piece = '';
    }
  }
  yield `${piece}]}`;
}
