/**
 * etcd's snapshot of its whole keyspace (Maintenance.Snapshot), as a byte stream: the member's
 * bbolt database followed by the sha256 of those bytes — what `etcdctl snapshot save` writes and
 * `etcdctl snapshot restore` checks. The member sends it from one read transaction, so the copy
 * is of one point in time however long the stream takes, and writes carry on meanwhile.
 */
import { Readable } from 'node:stream';
import type { Etcd3, ISnapshotResponse } from 'etcd3';

/** The sha256 etcd appends after the database. */
export const SNAPSHOT_DIGEST_BYTES = 32;

export interface EtcdSnapshot {
  /** The whole stream's length: the database's size (its first chunk says how much follows) and the digest. */
  expectedBytes: number;
  /** The bytes, in order. Destroying it cancels the member's stream. */
  body: Readable;
}

/** What etcd3 hands back for a server stream: grpc-js's ClientReadableStream. */
type SnapshotCall = Readable & { cancel?(): void };

/** Opens the stream and waits for its first chunk, so that a member that cannot send one fails here, before any byte is passed on. */
export async function openEtcdSnapshot(etcd: Etcd3): Promise<EtcdSnapshot> {
  const call = (await etcd.maintenance.snapshot()) as unknown as SnapshotCall;
  const chunks = call[Symbol.asyncIterator]() as AsyncIterator<ISnapshotResponse>;
  let first: IteratorResult<ISnapshotResponse>;
  try {
    first = await chunks.next();
  } catch (err) {
    call.cancel?.();
    throw err;
  }
  if (first.done) throw new Error('etcd ended the snapshot stream before sending anything');
  const expectedBytes = Number(first.value.remaining_bytes) + first.value.blob.length + SNAPSHOT_DIGEST_BYTES;
  async function* blobs(): AsyncGenerator<Buffer> {
    try {
      yield first.value.blob;
      for (;;) {
        const next = await chunks.next();
        if (next.done) return;
        yield next.value.blob;
      }
    } finally {
      // Ended early (the reader went away): the member stops reading its database for us.
      call.cancel?.();
    }
  }
  return { expectedBytes, body: Readable.from(blobs(), { objectMode: false }) };
}
