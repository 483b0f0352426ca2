/**
 * etcd's snapshot stream ends with the sha256 of everything before it (the bbolt database);
 * `etcdctl snapshot save` keeps it in the file and `etcdctl snapshot restore` refuses a file
 * whose digest does not match. Checking it here, as the bytes go by, tells a complete copy from
 * a torn or corrupted one before anything relies on it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export const DIGEST_BYTES = 32;

/** Feed it the stream in order; `matches()` says whether its last 32 bytes are the sha256 of the rest. */
export class SnapshotDigest {
  private readonly hash = createHash('sha256');
  /** The last bytes seen, held back until more come: they may be the digest. */
  private tail = Buffer.alloc(0);
  bytes = 0;

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    const joined = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    const cut = joined.length - DIGEST_BYTES;
    if (cut > 0) this.hash.update(joined.subarray(0, cut));
    // A copy: the tail must not keep a whole chunk alive, nor change if the caller reuses its buffer.
    this.tail = Buffer.from(joined.subarray(Math.max(0, cut)));
  }

  matches(): boolean {
    return this.bytes > DIGEST_BYTES && this.hash.digest().equals(this.tail);
  }
}

export class SnapshotIntegrityError extends Error {
  constructor(what: string, detail: string) {
    super(`${what} is not a complete etcd snapshot: ${detail}`);
    this.name = 'SnapshotIntegrityError';
  }
}

export const DIGEST_MISMATCH = 'its last 32 bytes are not the sha256 of the rest (a torn or corrupted copy)';

/** Reads a snapshot file through and checks its digest; answers its size. */
export async function verifySnapshotFile(path: string): Promise<{ bytes: number }> {
  const digest = new SnapshotDigest();
  for await (const chunk of createReadStream(path)) digest.update(chunk as Buffer);
  if (!digest.matches()) throw new SnapshotIntegrityError(path, digest.bytes <= DIGEST_BYTES ? `it is only ${digest.bytes} bytes long` : DIGEST_MISMATCH);
  return { bytes: digest.bytes };
}
