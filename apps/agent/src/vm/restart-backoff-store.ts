/**
 * Where the agent keeps each VM's crash-loop step (restart-backoff.ts): one file per VM uid in
 * <data-dir>/restart-backoff/, beside its instances, so a restarted agent goes on waiting where
 * the last one stopped instead of restarting a crash-looping VM at once.
 *
 * Why not derive it from the VM's status (restarts, nextRestartAt)? Status is this agent's
 * report, written after the fact: a write that failed, or an agent killed between a launch and
 * its status write, leaves it behind what happened, and a loop read back from it would skip or
 * repeat a step. It also outlives the node — `restarts` is kept across an unbind — while a new
 * node has seen none of these exits. What the agent observed on this node it keeps on this
 * node; status only shows it.
 *
 * Writes are best effort: a full or read-only disk costs the memory of the loop across an agent
 * restart (it begins again), never a restart, and never an error that would stall a reconcile.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RestartBackoff } from './restart-backoff.js';

export interface RestartBackoffStore {
  get(uid: string): Promise<RestartBackoff | undefined>;
  set(uid: string, backoff: RestartBackoff): Promise<void>;
  /** Forgets a VM's loop: its instance is gone for good (deleted, evicted, no longer bound here). */
  delete(uid: string): Promise<void>;
}

/** For runtimes and tests that keep nothing across an agent restart. */
export class MemoryRestartBackoffStore implements RestartBackoffStore {
  private readonly steps = new Map<string, RestartBackoff>();

  async get(uid: string): Promise<RestartBackoff | undefined> {
    return this.steps.get(uid);
  }

  async set(uid: string, backoff: RestartBackoff): Promise<void> {
    this.steps.set(uid, backoff);
  }

  async delete(uid: string): Promise<void> {
    this.steps.delete(uid);
  }
}

function isBackoff(v: unknown): v is RestartBackoff {
  const b = v as Partial<RestartBackoff> | null;
  return (
    !!b &&
    typeof b.generation === 'number' &&
    typeof b.runStartedAt === 'string' &&
    typeof b.exits === 'number' &&
    typeof b.delayMs === 'number' &&
    typeof b.nextRestartAt === 'string'
  );
}

export class FileRestartBackoffStore implements RestartBackoffStore {
  /** What was read or written, so each VM's file is read at most once per agent process. */
  private readonly cache = new Map<string, RestartBackoff | undefined>();

  constructor(
    private readonly dir: string,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {}

  private file(uid: string): string {
    return join(this.dir, `${uid}.json`);
  }

  async get(uid: string): Promise<RestartBackoff | undefined> {
    if (this.cache.has(uid)) return this.cache.get(uid);
    const read = await readFile(this.file(uid), 'utf8').then(
      (text) => JSON.parse(text) as unknown,
      () => undefined,
    );
    const backoff = isBackoff(read) ? read : undefined;
    this.cache.set(uid, backoff);
    return backoff;
  }

  async set(uid: string, backoff: RestartBackoff): Promise<void> {
    this.cache.set(uid, backoff);
    const tmp = `${this.file(uid)}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(tmp, JSON.stringify(backoff));
      await rename(tmp, this.file(uid));
    } catch (err) {
      this.log.warn({ uid, err: (err as Error).message }, 'could not record the crash-loop back-off on disk: a restarted agent would begin it again');
    }
  }

  async delete(uid: string): Promise<void> {
    await rm(this.file(uid), { force: true }).then(
      () => this.cache.delete(uid),
      // Remembered as gone: a file that could not be removed must not come back.
      () => this.cache.set(uid, undefined),
    );
  }
}
