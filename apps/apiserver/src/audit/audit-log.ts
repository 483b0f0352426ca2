/**
 * The audit log file: JSON lines in a hash chain (@shoal/api audit-chain.ts). One writer per
 * file: entries are chained the moment they are appended (synchronously, so the chain order is
 * the order of append calls) and written by one queue in that order, whole lines only, never
 * interleaved.
 *
 * Durability: lines reach the file (the OS) as soon as the queue gets to them, normally within
 * the request's tick; fsync runs every `syncIntervalMs` (default 1 s) when anything was
 * written since the last one, and on close (SIGTERM). A crash of the machine may so lose up to
 * the last second of entries; a crash of the process loses only what was still queued.
 *
 * An existing file is continued: the chain goes on from the hash on its last line. A last line
 * that is not a complete entry is refused at start-up (move the file aside after `shoalctl
 * audit verify`): a security log should not quietly start a second chain.
 */
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { auditEntryHash, GENESIS_HASH, type AuditEntry, type AuditEvent } from '@shoal/api';

export type { AuditEntry, AuditEvent };

export interface AuditLogOptions {
  /** How often written lines are fsynced, at most; default 1000 ms. */
  syncIntervalMs?: number;
  log?: { error(obj: object, msg: string): void };
}

const HASH = /^[0-9a-f]{64}$/;

export class AuditLog {
  private queue: string[] = [];
  private writing: Promise<void> | undefined;
  private unsynced = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
    private prev: string,
    private readonly opts: AuditLogOptions,
  ) {
    this.timer = setInterval(() => void this.sync().catch((err) => this.failed(err, 'fsync')), opts.syncIntervalMs ?? 1000);
    this.timer.unref();
  }

  static async open(path: string, opts: AuditLogOptions = {}): Promise<AuditLog> {
    await mkdir(dirname(path), { recursive: true });
    const prev = await lastHash(path);
    const file = await open(path, 'a', 0o600);
    return new AuditLog(path, file, prev, opts);
  }

  /** Chains the event after the last one and queues its line; returns the entry as it will be written. */
  append(event: AuditEvent): AuditEntry {
    if (this.closed) throw new Error('the audit log is closed');
    const entry = { ...event, prev: this.prev } as AuditEntry;
    entry.hash = auditEntryHash(entry as unknown as Record<string, unknown>);
    this.prev = entry.hash;
    this.queue.push(`${JSON.stringify(entry)}\n`);
    this.writing ??= this.drain();
    return entry;
  }

  /** Resolves once every line appended so far has been written to the file (not necessarily fsynced). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Writes what is queued and fsyncs, if anything was written since the last fsync. */
  async sync(): Promise<void> {
    await this.flush();
    if (!this.unsynced) return;
    this.unsynced = false;
    await this.file.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    try {
      await this.sync();
    } finally {
      await this.file.close();
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const chunk = this.queue.join('');
      this.queue = [];
      try {
        // appendFile on the handle writes the whole chunk (looping over short writes) at the end of the file.
        await this.file.appendFile(chunk);
        this.unsynced = true;
      } catch (err) {
        // The lines are lost; the chain shows the gap to anyone who verifies it.
        this.failed(err, `write of ${chunk.split('\n').length - 1} audit entries`);
      }
    }
    this.writing = undefined;
  }

  private failed(err: unknown, what: string): void {
    this.opts.log?.error({ err: (err as Error).message, path: this.path }, `audit log: ${what} failed`);
  }
}

/** The hash on the last line of an existing log, or the genesis value for a new or empty one. */
async function lastHash(path: string): Promise<string> {
  const size = await stat(path).then(
    (s) => s.size,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return 0;
      throw err;
    },
  );
  if (size === 0) return GENESIS_HASH;
  const file = await open(path, 'r');
  try {
    // Read backwards in growing chunks until the chunk holds the whole last line.
    for (let want = 64 * 1024; ; want *= 2) {
      const length = Math.min(want, size);
      const buf = Buffer.alloc(length);
      await file.read(buf, 0, length, size - length);
      const text = buf.toString('utf8');
      if (!text.endsWith('\n'))
        throw new Error(`audit log ${path}: the last line is incomplete; check it with \`shoalctl audit verify ${path}\` and move the file aside`);
      const start = text.lastIndexOf('\n', text.length - 2);
      if (start < 0 && length < size) continue;
      const line = text.slice(start + 1, -1);
      let hash: unknown;
      try {
        hash = (JSON.parse(line) as { hash?: unknown }).hash;
      } catch {
        // reported below
      }
      if (typeof hash !== 'string' || !HASH.test(hash))
        throw new Error(
          `audit log ${path}: the last line is not an audit entry with a hash; check it with \`shoalctl audit verify ${path}\` and move the file aside`,
        );
      return hash;
    }
  } finally {
    await file.close();
  }
}
