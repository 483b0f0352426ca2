/**
 * A QMP connection that stays open: many commands, one after another, and the events QEMU sends
 * in between. A migration needs both on one socket — BLOCK_JOB_READY and MIGRATION arrive only
 * on a connection that is open when they happen, and blockdev-mirror jobs, TLS objects and NBD
 * exports outlive the command that made them. (qmp-client.ts, one command per connection, stays
 * what the rest of the agent uses.)
 *
 * QMP answers commands in order, so replies are matched to a FIFO of pending commands; events
 * carry an "event" key and never answer anything.
 */
import { createConnection, type Socket } from 'node:net';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** QEMU refused a command: `errorClass` is QMP's class (GenericError, DeviceNotFound…), `desc` its words. */
export class QmpCommandError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${desc}`);
    this.name = 'QmpCommandError';
  }
}

/** The socket is gone, could not be reached, or a reply did not come in time. */
export class QmpConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QmpConnectionError';
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export class QmpSession {
  private readonly pending: Pending[] = [];
  private readonly listeners = new Set<(e: QmpEvent) => void>();
  /** Event waiters, failed when the connection goes. */
  private readonly closeWaiters = new Set<(err: Error) => void>();
  private buffer = '';
  private closedError?: Error;

  private constructor(
    private readonly sock: Socket,
    readonly socketPath: string,
  ) {
    sock.on('data', (chunk) => this.onData(chunk.toString()));
    sock.on('close', () => this.fail(new QmpConnectionError(`QMP ${socketPath}: connection closed (QEMU exited?)`)));
    sock.on('error', (err) => this.fail(new QmpConnectionError(`QMP ${socketPath}: ${err.message}`)));
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  static async connect(socketPath: string, opts: { timeoutMs?: number } = {}): Promise<QmpSession> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const sock = createConnection(socketPath);
    const session = new QmpSession(sock, socketPath);
    // The greeting is the first line; it is taken as the "reply" to a pseudo-command queued first.
    const greeting = session.enqueue('(greeting)', timeoutMs);
    try {
      await greeting;
      await session.execute('qmp_capabilities', undefined, { timeoutMs });
    } catch (err) {
      session.close();
      throw err;
    }
    return session;
  }

  /** Runs one command and answers its `return` value; throws QmpCommandError on QEMU's error. */
  execute<T = unknown>(command: string, args?: object, opts: { timeoutMs?: number } = {}): Promise<T> {
    const reply = this.enqueue(command, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) as Promise<T>;
    if (!this.closedError) this.sock.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) }) + '\n');
    return reply;
  }

  /** Calls `listener` for every event from now on; answers the function that stops it. */
  onEvent(listener: (e: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The first event named `name` (for which `match` holds) from now on. Subscribe before the
   * command that causes it: an event sent before the call is not seen.
   */
  waitForEvent(name: string, opts: { match?: (e: QmpEvent) => boolean; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error, e?: QmpEvent) => {
        off();
        this.closeWaiters.delete(done);
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(e!);
      };
      const off = this.onEvent((e) => {
        if (e.event === name && (!opts.match || opts.match(e))) done(undefined, e);
      });
      const timer = setTimeout(
        () => done(new QmpConnectionError(`QMP ${this.socketPath}: no ${name} event within ${opts.timeoutMs} ms`)),
        opts.timeoutMs ?? 2 ** 31 - 1,
      );
      const onAbort = () => done(opts.signal!.reason instanceof Error ? opts.signal!.reason : new Error('aborted'));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (this.closedError) done(this.closedError);
      else this.closeWaiters.add(done);
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  close(): void {
    this.sock.destroy();
    this.fail(new QmpConnectionError(`QMP ${this.socketPath}: session closed`));
  }

  private enqueue(command: string, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      const entry: Pending = {
        command,
        resolve,
        reject,
        // A command that times out stays in the queue: QEMU will still answer it, in order, and
        // that answer must not be taken for the next command's.
        timer: setTimeout(() => reject(new QmpConnectionError(`QMP ${command} on ${this.socketPath}: no answer within ${timeoutMs} ms`)), timeoutMs),
      };
      this.pending.push(entry);
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      let msg: { QMP?: unknown; return?: unknown; error?: { class: string; desc: string }; event?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        continue;
      }
      if (msg.event) {
        for (const l of [...this.listeners]) l(msg as QmpEvent);
        continue;
      }
      const p = this.pending.shift();
      if (!p) continue;
      clearTimeout(p.timer);
      if (msg.error) p.reject(new QmpCommandError(p.command, msg.error.class, msg.error.desc));
      else p.resolve(msg.QMP ?? msg.return);
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    for (const w of [...this.closeWaiters]) w(err);
    this.closeWaiters.clear();
    this.listeners.clear();
  }
}
