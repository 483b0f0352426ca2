/**
 * A snapshot stream written to FILE the way a backup must be: into a temporary file beside it
 * (same filesystem, so the rename is atomic), checked as it arrives (etcd's digest at its end,
 * the length announced before it), flushed to disk, and only then renamed over FILE. FILE is
 * either what it was before or a complete, verified snapshot; never a torn one. The file is
 * readable by its owner only: it holds everything the cluster stores.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DIGEST_MISMATCH, SnapshotDigest, SnapshotIntegrityError } from './snapshot-digest.js';

export interface WriteSnapshotOptions {
  /** The length the sender announced, if it did: a stream that ends short of it is incomplete. */
  expectedBytes?: number;
  /** After each chunk written, with the bytes written so far. */
  onProgress?: (bytes: number) => void;
  /** What the stream is, for error messages ("the snapshot from https://…"). */
  source: string;
  /** A last check of the complete temporary file, before it takes FILE's place (etcdctl snapshot status). */
  check?: (path: string) => Promise<void>;
}

export async function writeSnapshotFile(target: string, chunks: AsyncIterable<Buffer>, o: WriteSnapshotOptions): Promise<{ bytes: number }> {
  const partial = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
  const file = await open(partial, 'wx', 0o600);
  let closed = false;
  try {
    const digest = new SnapshotDigest();
    for await (const chunk of chunks) {
      digest.update(chunk);
      await file.write(chunk);
      o.onProgress?.(digest.bytes);
    }
    if (o.expectedBytes !== undefined && digest.bytes !== o.expectedBytes)
      throw new SnapshotIntegrityError(o.source, `it ended after ${digest.bytes} of the ${o.expectedBytes} bytes announced`);
    if (!digest.matches()) throw new SnapshotIntegrityError(o.source, DIGEST_MISMATCH);
    await file.sync();
    await file.close();
    closed = true;
    await o.check?.(partial);
    await rename(partial, target);
    await syncDirectory(dirname(target));
    return { bytes: digest.bytes };
  } catch (err) {
    if (!closed) await file.close().catch(() => undefined);
    await unlink(partial).catch(() => undefined);
    throw err;
  }
}

/** The rename itself survives a crash only once the directory is flushed too. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
