/**
 * A child process of the local cluster: started with execa, its output kept in a log file
 * under the data dir, ready when a line matches, stopped with SIGTERM then SIGKILL.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { execa, type ResultPromise } from 'execa';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  /** Ready once a line of its output matches; or once `probe` answers true. */
  ready: RegExp | (() => Promise<boolean>);
  readyTimeoutMs?: number;
  cwd?: string;
}

const STOP_GRACE_MS = 10_000;

export class SupervisedProcess {
  private proc?: ResultPromise;
  private log?: WriteStream;
  private stopping = false;
  exited?: Promise<{ code?: number; signal?: string }>;

  constructor(readonly spec: ProcessSpec) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts the process; resolves when it is ready, rejects (with its log tail) if it exits or times out first. */
  async start(onUnexpectedExit: (why: string) => void): Promise<void> {
    const { spec } = this;
    this.log = createWriteStream(spec.logFile, { flags: 'a' });
    this.proc = execa(spec.command, spec.args, { reject: false, all: true, buffer: false, cwd: spec.cwd, stdin: 'ignore' });
    let tail = '';
    this.proc.all!.on('data', (chunk: Buffer) => {
      this.log!.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    });
    this.exited = this.proc.then((r) => ({ code: r.exitCode, signal: r.signal }));
    void this.exited.then((r) => {
      if (!this.stopping) onUnexpectedExit(`${spec.name} exited (${r.code ?? r.signal}); see ${spec.logFile}`);
    });
    const deadline = Date.now() + (spec.readyTimeoutMs ?? 60_000);
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      if (exited) throw new Error(`${spec.name} exited before it was ready:\n${tail}`);
      if (spec.ready instanceof RegExp ? spec.ready.test(tail) : await spec.ready().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${spec.name} was not ready within ${(spec.readyTimeoutMs ?? 60_000) / 1000} s:\n${tail}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.proc || this.proc.exitCode !== null) return this.closeLog();
    this.proc.kill('SIGTERM');
    const killer = setTimeout(() => this.proc?.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(killer);
    await this.closeLog();
  }

  private closeLog(): Promise<void> {
    return new Promise((resolve) => (this.log ? this.log.end(resolve) : resolve()));
  }
}
