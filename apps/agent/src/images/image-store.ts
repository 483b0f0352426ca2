/**
 * The node's image cache: one verified copy of each image file, named by its sha256
 * (`<root>/sha256/<hex>`), shared by every VM of the node.
 *
 * A file is fetched on first use, in the background: a reconcile asks (request) and never
 * waits; the store says where the fetch is, and emits 'change' with the digest when it ends, so
 * the VMs waiting for it are looked at again. The bytes are hashed as they arrive and written
 * under a temporary name; only a file whose digest is the one asked for is renamed into place.
 * So a file at its final path is always whole and verified, and a file that does not match is
 * never kept, let alone booted. A failed fetch is said (ImagePullFailed, ImageDigestMismatch)
 * and tried again once retryAfterMs has passed.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { ReadableStream } from 'node:stream/web';
import type { ImageFile } from '@shoal/api';
import type { Logger } from 'pino';

export const IMAGE_PULL_FAILED = 'ImagePullFailed';
export const IMAGE_DIGEST_MISMATCH = 'ImageDigestMismatch';

export type FileState =
  | { state: 'ready'; path: string; sizeBytes: number }
  | { state: 'fetching'; receivedBytes: number; totalBytes?: number }
  | { state: 'failed'; reason: typeof IMAGE_PULL_FAILED | typeof IMAGE_DIGEST_MISMATCH; message: string };

interface Download {
  receivedBytes: number;
  totalBytes?: number;
}

interface Failure {
  reason: typeof IMAGE_PULL_FAILED | typeof IMAGE_DIGEST_MISMATCH;
  message: string;
  at: number;
}

export interface ImageStoreOptions {
  /** The cache's directory: <data dir>/images. */
  root: string;
  log: Logger;
  /** How long a failed fetch is said before a request tries again (30 s). */
  retryAfterMs?: number;
}

const SHA256_DIR = 'sha256';
const PARTIAL_SUFFIX = '.partial';

export class ImageStore extends EventEmitter<{ change: [sha256: string] }> {
  private readonly ready = new Map<string, { path: string; sizeBytes: number }>();
  private readonly fetches = new Map<string, Download>();
  private readonly failures = new Map<string, Failure>();

  constructor(private readonly opts: ImageStoreOptions) {
    super();
  }

  private get dir(): string {
    return join(this.opts.root, SHA256_DIR);
  }

  /** Finds the files a previous run kept (each verified before it got its name) and drops half-written ones. */
  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      if (!/^[0-9a-f]{64}$/.test(name)) {
        await rm(path, { force: true });
        continue;
      }
      this.ready.set(name, { path, sizeBytes: (await stat(path)).size });
    }
  }

  /** Where the file is: ready (its path), being fetched (how far), or failed (why). Starts the fetch when nothing is under way. */
  request(file: ImageFile): FileState {
    const have = this.ready.get(file.sha256);
    if (have) return { state: 'ready', ...have };
    const fetch = this.fetches.get(file.sha256);
    if (fetch) return { state: 'fetching', ...fetch };
    const failed = this.failures.get(file.sha256);
    if (failed && Date.now() - failed.at < (this.opts.retryAfterMs ?? 30_000)) return { state: 'failed', reason: failed.reason, message: failed.message };
    this.failures.delete(file.sha256);
    const started: Download = { receivedBytes: 0 };
    this.fetches.set(file.sha256, started);
    void this.download(file, started);
    return { state: 'fetching', ...started };
  }

  /** The verified files held, for the Node's status.images. */
  list(): { sha256: string; sizeBytes: number }[] {
    return [...this.ready].map(([sha256, f]) => ({ sha256, sizeBytes: f.sizeBytes })).sort((a, b) => a.sha256.localeCompare(b.sha256));
  }

  /** Removes a file nothing uses any more (the caller knows). */
  async remove(sha256: string): Promise<void> {
    const have = this.ready.get(sha256);
    if (!have) return;
    this.ready.delete(sha256);
    await rm(have.path, { force: true });
    this.emit('change', sha256);
  }

  private async download(file: ImageFile, progress: Download): Promise<void> {
    const final = join(this.dir, file.sha256);
    const partial = `${final}.${process.pid}.${Date.now()}${PARTIAL_SUFFIX}`;
    const log = this.opts.log.child({ url: file.url, sha256: file.sha256 });
    log.info('fetching an image file');
    try {
      await mkdir(this.dir, { recursive: true });
      const source = await openSource(file.url, progress);
      const hash = createHash('sha256');
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          progress.receivedBytes += chunk.length;
          done(null, chunk);
        },
      });
      await pipeline(source, counter, createWriteStream(partial));
      const digest = hash.digest('hex');
      if (digest !== file.sha256) {
        await rm(partial, { force: true });
        this.fail(file, {
          reason: IMAGE_DIGEST_MISMATCH,
          message: `${file.url} has sha256 ${digest}, not the ${file.sha256} the image names: not kept, never booted`,
        });
        return;
      }
      await rename(partial, final);
      this.ready.set(file.sha256, { path: final, sizeBytes: progress.receivedBytes });
      log.info({ bytes: progress.receivedBytes }, 'image file fetched and verified');
    } catch (err) {
      await rm(partial, { force: true });
      this.fail(file, { reason: IMAGE_PULL_FAILED, message: `fetching ${file.url}: ${describe(err)}` });
      return;
    } finally {
      this.fetches.delete(file.sha256);
    }
    this.emit('change', file.sha256);
  }

  private fail(file: ImageFile, failure: Omit<Failure, 'at'>): void {
    this.opts.log.warn({ url: file.url, reason: failure.reason }, failure.message);
    this.failures.set(file.sha256, { ...failure, at: Date.now() });
    this.fetches.delete(file.sha256);
    this.emit('change', file.sha256);
  }
}

/** The bytes at `url` (http, https, file), with the total size when known. */
async function openSource(url: string, progress: Download): Promise<Readable> {
  if (url.startsWith('file://')) {
    const path = fileURLToPath(url);
    progress.totalBytes = (await stat(path)).size;
    return createReadStream(path);
  }
  const res = await fetch(url, { redirect: 'follow' });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
  const length = Number(res.headers.get('content-length'));
  if (Number.isFinite(length) && length > 0) progress.totalBytes = length;
  return Readable.fromWeb(res.body as ReadableStream<Uint8Array>);
}

/** An error in a few words: fetch() hides the reason (ECONNREFUSED, ENOTFOUND) in its cause. */
function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message} (${cause})` : e.message;
}
