/**
 * Watches the refs of GitRepositories on this machine (an absolute path or file:// url) with
 * chokidar, so a commit or push there is fetched at once instead of at the next interval.
 *
 * What is watched is the git directory's HEAD, packed-refs and refs/ (the repository itself when
 * bare, its .git otherwise): every commit, push, tag or branch switch writes one of them, and
 * nothing else in there (objects, logs, the index) is looked at. Changes are coalesced: the
 * first one enqueues the repository a little later, so a push that writes several refs makes one
 * fetch.
 *
 * Watchers exist only while the controller runs (reconcile makes them, its stop closes them): a
 * standby controller-manager watches nothing. A reconcile makes or closes its repository's
 * watcher as the url or spec.suspend says, and waits until the watcher is ready before it
 * fetches, so no commit can fall between what it fetched and what the watcher sees.
 */
import { relative, sep } from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import type { GitRepository } from '@shoal/api';
import type { Logger } from 'pino';
import { localGitDir, localRepositoryPath } from '../git/index.js';

/** How long after a first change the repository is enqueued: what else the same push writes comes with it. */
const COALESCE_MS = 100;
/** The longest a reconcile waits for a watcher's first scan; past it, it fetches anyway. */
const READY_WAIT_MS = 5_000;

interface Watch {
  path: string;
  watcher: FSWatcher;
  ready: Promise<void>;
  pending?: NodeJS.Timeout;
}

/** Whether a path inside a git directory is one that says where refs point. */
export function isRefPath(gitDir: string, path: string): boolean {
  const rel = relative(gitDir, path);
  return rel === '' || rel === 'HEAD' || rel === 'packed-refs' || rel === 'refs' || rel.startsWith(`refs${sep}`);
}

export class RepositoryWatches {
  private readonly watches = new Map<string, Watch>();
  private enqueue?: (key: string) => void;
  private closed = false;

  constructor(private readonly log: Logger) {}

  /** Hands the keys of changed repositories to `enqueue` from now on; answers how to stop (every watcher closed). */
  start(enqueue: (key: string) => void): () => void {
    this.enqueue = enqueue;
    return () => void this.close();
  }

  /** Watches the repository of `key` if it is local and not suspended, else stops watching it; resolves once the watcher is ready. */
  async sync(key: string, repo: GitRepository | undefined): Promise<void> {
    if (this.closed) return;
    const path = repo && !repo.spec.suspend ? localRepositoryPath(repo.spec.url) : undefined;
    const current = this.watches.get(key);
    if (current && current.path === path) return current.ready;
    if (current) await this.unwatch(key);
    if (!path) return;
    // Not there (yet): nothing to watch; the next reconcile looks again.
    const gitDir = await localGitDir(path);
    if (!gitDir || this.closed) return;
    const watcher = chokidar.watch(gitDir, { ignoreInitial: true, ignored: (p) => !isRefPath(gitDir, p) });
    let timer: NodeJS.Timeout | undefined;
    const ready = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, READY_WAIT_MS);
      watcher.once('ready', resolve);
    }).finally(() => clearTimeout(timer));
    const watch: Watch = { path, watcher, ready };
    watcher.on('all', () => this.changed(key, watch));
    watcher.on('error', (err) => this.log.warn({ repository: key, path: gitDir, err: (err as Error).message }, 'watching a local repository failed'));
    this.watches.set(key, watch);
    this.log.debug({ repository: key, path: gitDir }, 'watching local repository');
    await ready;
  }

  private changed(key: string, watch: Watch): void {
    if (watch.pending || this.watches.get(key) !== watch) return;
    watch.pending = setTimeout(() => {
      watch.pending = undefined;
      if (this.watches.get(key) === watch) this.enqueue?.(key);
    }, COALESCE_MS);
  }

  private async unwatch(key: string): Promise<void> {
    const watch = this.watches.get(key);
    if (!watch) return;
    this.watches.delete(key);
    clearTimeout(watch.pending);
    await watch.watcher.close();
  }

  /** How many repositories are watched now. */
  get size(): number {
    return this.watches.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.watches.keys()].map((key) => this.unwatch(key)));
  }
}
