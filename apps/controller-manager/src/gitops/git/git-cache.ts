/**
 * The git cache the gitops controllers share: one bare, shallow repository per GitRepository,
 * and the files of the commits GitSyncs apply.
 *
 *   <cacheDir>/<namespace>/<name>/
 *     repo.git/           bare; each fetch brings one commit (--depth 1), held by refs/shoal/commits/<sha>
 *     url                 the spec.url it holds commits of; another url starts it afresh
 *     trees/<commit>/     the files of a commit: written whole into trees/.tmp-*, then renamed, so a
 *                         half-written tree is never seen; the last few used are kept
 *   <cacheDir>/.credentials/   one private directory per operation with credentials (credentials.ts)
 *
 * fetch() resolves spec.ref on the remote with `git ls-remote` (a branch, a tag, the highest tag in
 * a semver range, the branch of the remote's HEAD) and fetches that commit unless the cache has it;
 * a spec.ref.commit is fetched by its SHA. checkout() gives the files of a commit, fetching it
 * first when this cache lacks it: the GitSync controller may run in another controller-manager
 * than the one whose GitRepository controller fetched it.
 *
 * Operations on one repository run one at a time in this process (git's own lock files would
 * refuse two fetches at once); across processes the tree's rename is what keeps readers safe.
 * Each is bounded by spec.timeout and the caller's AbortSignal (git-command.ts).
 */
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDuration, type GitRepository } from '@shoal/api';
import type { Logger } from 'pino';
import { withCredentials, type GitAuth, type GitCredentials } from './credentials.js';
import { git, redact, type GitRun } from './git-command.js';
import { GitOperationError, InvalidRefError } from './git-errors.js';
import { checkRefName, parseLsRemote, pickSemverTag, revisionString, tagCommits } from './refs.js';

export interface GitCache {
  /** Resolves spec.ref on the remote and fetches that commit; returns it. */
  fetch(repo: GitRepository, credentials: GitCredentials | undefined, signal?: AbortSignal): Promise<{ commit: string; revision: string; message: string }>;
  /** A directory holding the files of `commit` (read-only; kept until prune), fetching the commit first if the cache lacks it (another controller-manager may have fetched it). */
  checkout(repo: GitRepository, commit: string, credentials: GitCredentials | undefined, signal?: AbortSignal): Promise<string>;
}

/** Trees kept per repository besides the one just checked out: a GitSync reading the one before is not cut short. */
const KEEP_TREES = 3;
/** A .tmp-* tree this old was left by a process that died while writing it. */
const STALE_TEMP_MS = 60 * 60_000;
const DEFAULT_TIMEOUT = '60s';
const FULL_SHA = /^([0-9a-f]{40}|[0-9a-f]{64})$/;
const ANY_SHA = /^[0-9a-f]{7,64}$/;
/** Names and namespaces are DNS names; anything else must not become a path here. */
const SAFE_SEGMENT = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function gitCache(cacheDir: string, log: Logger): GitCache {
  return new RepositoryCache(cacheDir, log);
}

/** Removes what the cache holds of a GitRepository (it was deleted). */
export async function removeCachedRepository(cacheDir: string, namespace: string, name: string): Promise<void> {
  const { root } = layout(cacheDir, namespace, name);
  await exclusive(root, () => rm(root, { recursive: true, force: true }));
}

interface Layout {
  root: string;
  gitDir: string;
  urlFile: string;
  trees: string;
}

function layout(cacheDir: string, namespace: string, name: string): Layout {
  if (!SAFE_SEGMENT.test(namespace) || !SAFE_SEGMENT.test(name)) throw new Error(`git cache: "${namespace}/${name}" is not a GitRepository's name`);
  const root = join(cacheDir, namespace, name);
  return { root, gitDir: join(root, 'repo.git'), urlFile: join(root, 'url'), trees: join(root, 'trees') };
}

/** The operations under way per repository root: each one waits for the one before. */
const locks = new Map<string, Promise<void>>();

async function exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = locks.get(key) ?? Promise.resolve();
  const run = before.then(fn);
  const done = run.then(
    () => undefined,
    () => undefined,
  );
  locks.set(key, done);
  try {
    return await run;
  } finally {
    if (locks.get(key) === done) locks.delete(key);
  }
}

/** What spec.ref resolved to: what to fetch, the name the revision carries, and the commit if the remote said it. */
interface Target {
  name?: string;
  /** The ref to fetch (`refs/heads/main`); absent for a commit asked for by its SHA. */
  ref?: string;
  commit?: string;
}

class RepositoryCache implements GitCache {
  constructor(
    private readonly cacheDir: string,
    private readonly log: Logger,
  ) {}

  async fetch(repo: GitRepository, credentials: GitCredentials | undefined, signal?: AbortSignal) {
    const paths = this.layoutOf(repo);
    const url = repo.spec.url;
    return exclusive(paths.root, () =>
      this.withRun(repo, credentials, signal, async (run) => {
        const started = Date.now();
        await this.prepare(paths, url, run);
        const target = await resolveRef(repo, run);
        let commit = target.commit && (await this.has(paths, target.commit, run));
        if (!commit) {
          if (target.ref) {
            await git(['fetch', '--depth', '1', '--no-tags', '--', url, target.ref], run, paths.gitDir);
            commit = await this.has(paths, 'FETCH_HEAD', run);
            if (!commit) throw new GitOperationError(redact(`${url} sent no commit for ${target.ref}`, run.secrets));
          } else {
            commit = await this.fetchCommit(paths, url, target.commit!, run);
          }
        }
        await git(['update-ref', `refs/shoal/commits/${commit}`, commit], run, paths.gitDir);
        const message = (await git(['log', '-1', '--format=%B', commit], run, paths.gitDir)).split('\n')[0]!.trim();
        await this.pruneRefs(paths, commit, run);
        const revision = revisionString(target.name, commit);
        this.log.debug({ repository: `${repo.metadata.namespace}/${repo.metadata.name}`, url: redact(url, []), revision, ms: Date.now() - started }, 'fetched');
        return { commit, revision, message };
      }),
    );
  }

  async checkout(repo: GitRepository, commit: string, credentials: GitCredentials | undefined, signal?: AbortSignal): Promise<string> {
    if (!ANY_SHA.test(commit)) throw new InvalidRefError('commit', `"${commit}" is not a commit SHA`);
    const paths = this.layoutOf(repo);
    return exclusive(paths.root, async () => {
      const ready = join(paths.trees, commit);
      if ((await readFile(paths.urlFile, 'utf8').catch(() => undefined)) === repo.spec.url && (await isDirectory(ready))) {
        await touch(ready);
        return ready;
      }
      return this.withRun(repo, credentials, signal, async (run) => {
        await this.prepare(paths, repo.spec.url, run);
        const full = (await this.has(paths, commit, run)) ?? (await this.fetchCommit(paths, repo.spec.url, commit, run));
        await git(['update-ref', `refs/shoal/commits/${full}`, full], run, paths.gitDir);
        const dir = join(paths.trees, full);
        if (await isDirectory(dir)) await touch(dir);
        else await this.writeTree(paths, full, dir, run);
        await this.pruneTrees(paths, full);
        return dir;
      });
    });
  }

  private layoutOf(repo: GitRepository): Layout {
    return layout(this.cacheDir, repo.metadata.namespace!, repo.metadata.name!);
  }

  private async withRun<T>(repo: GitRepository, credentials: GitCredentials | undefined, signal: AbortSignal | undefined, fn: (run: GitRun) => Promise<T>) {
    const timeoutMs = parseDuration(repo.spec.timeout ?? DEFAULT_TIMEOUT);
    const deadline = Date.now() + timeoutMs;
    await mkdir(this.cacheDir, { recursive: true });
    return withCredentials(join(this.cacheDir, '.credentials'), credentials, (auth: GitAuth) =>
      fn({ deadline, timeoutMs, signal, env: auth.env, secrets: auth.secrets }),
    );
  }

  /** A bare repository for `url`: made when missing, made afresh when it holds another url's commits. */
  private async prepare(paths: Layout, url: string, run: GitRun): Promise<void> {
    const recorded = await readFile(paths.urlFile, 'utf8').catch(() => undefined);
    if (recorded === url && (await isDirectory(join(paths.gitDir, 'objects')))) return;
    await rm(paths.root, { recursive: true, force: true });
    await mkdir(paths.root, { recursive: true });
    await git(['init', '--bare', '--quiet', paths.gitDir], run);
    await writeFile(paths.urlFile, url);
  }

  /** The full SHA of `rev` if the cache holds that commit. */
  private async has(paths: Layout, rev: string, run: GitRun): Promise<string | undefined> {
    try {
      return (await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], run, paths.gitDir)).trim() || undefined;
    } catch (err) {
      if (err instanceof GitOperationError && err.timedOut) throw err;
      return undefined;
    }
  }

  /**
   * Fetches one commit by its SHA, shallow. An abbreviated SHA cannot be asked for, and a server
   * speaking only protocol v0 refuses a commit no ref points at: then every branch and tag is
   * fetched whole, and the commit looked for among them.
   */
  private async fetchCommit(paths: Layout, url: string, sha: string, run: GitRun): Promise<string> {
    if (FULL_SHA.test(sha)) {
      try {
        await git(['fetch', '--depth', '1', '--no-tags', '--', url, sha], run, paths.gitDir);
        const full = await this.has(paths, sha, run);
        if (full) return full;
      } catch (err) {
        if (!(err instanceof GitOperationError) || err.timedOut) throw err;
        this.log.debug({ url: redact(url, run.secrets), commit: sha, err: err.message }, 'fetch by SHA refused; fetching every branch and tag');
      }
    }
    const shallow = (await git(['rev-parse', '--is-shallow-repository'], run, paths.gitDir)).trim() === 'true';
    await git(
      [
        'fetch',
        ...(shallow ? ['--unshallow'] : []),
        '--no-tags',
        '--',
        url,
        '+refs/heads/*:refs/shoal/remote/heads/*',
        '+refs/tags/*:refs/shoal/remote/tags/*',
      ],
      run,
      paths.gitDir,
    );
    const full = await this.has(paths, sha, run);
    if (!full) throw new GitOperationError(redact(`commit ${sha} not found in ${url}`, run.secrets));
    return full;
  }

  /** Drops the refs that hold commits no longer wanted: all but the one just fetched and those with a tree. */
  private async pruneRefs(paths: Layout, fetched: string, run: GitRun): Promise<void> {
    const keep = new Set([fetched, ...(await readdir(paths.trees).catch(() => []))]);
    const refs = (await git(['for-each-ref', '--format=%(refname)', 'refs/shoal/'], run, paths.gitDir)).split('\n').filter(Boolean);
    const drop = refs.filter((ref) => !(ref.startsWith('refs/shoal/commits/') && keep.has(ref.slice('refs/shoal/commits/'.length))));
    if (drop.length) await git(['update-ref', '--stdin'], { ...run, input: drop.map((r) => `delete ${r}\n`).join('') }, paths.gitDir);
  }

  /** Writes the files of `commit` into `dir` through a temporary directory beside it, renamed into place whole. */
  private async writeTree(paths: Layout, commit: string, dir: string, run: GitRun): Promise<void> {
    await mkdir(paths.trees, { recursive: true });
    const temp = await mkdtemp(join(paths.trees, '.tmp-'));
    try {
      const files = join(temp, 'tree');
      await mkdir(files);
      // A private index, outside the files: the bare repository has none, and the tree must hold only the commit's files.
      const inTemp: GitRun = { ...run, env: { ...run.env, GIT_INDEX_FILE: join(temp, 'index'), GIT_WORK_TREE: files } };
      await git(['read-tree', commit], inTemp, paths.gitDir);
      await git(['checkout-index', '--all'], inTemp, paths.gitDir);
      await rename(files, dir).catch(async (err: NodeJS.ErrnoException) => {
        // Another process wrote the same commit's tree first: the same files.
        if (!(err.code === 'ENOTEMPTY' || err.code === 'EEXIST') || !(await isDirectory(dir))) throw err;
      });
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }

  /** Keeps the KEEP_TREES trees used last (and `current`), and removes temporary ones left by a process that died. */
  private async pruneTrees(paths: Layout, current: string): Promise<void> {
    const entries = await readdir(paths.trees).catch(() => [] as string[]);
    const now = Date.now();
    const trees: { name: string; used: number }[] = [];
    for (const name of entries) {
      const info = await stat(join(paths.trees, name)).catch(() => undefined);
      if (!info) continue;
      if (name.startsWith('.tmp-')) {
        if (now - info.mtimeMs > STALE_TEMP_MS) await rm(join(paths.trees, name), { recursive: true, force: true });
      } else if (name !== current) trees.push({ name, used: info.mtimeMs });
    }
    trees.sort((a, b) => b.used - a.used);
    for (const { name } of trees.slice(KEEP_TREES)) await rm(join(paths.trees, name), { recursive: true, force: true });
  }
}

/** spec.ref resolved on the remote (`git ls-remote`). */
async function resolveRef(repo: GitRepository, run: GitRun): Promise<Target> {
  const { url, ref } = repo.spec;
  const lsRemote = async (...args: string[]) => parseLsRemote(await git(['ls-remote', ...args], run));
  const notFound = (what: string) => new GitOperationError(redact(`${what} not found in ${url}`, run.secrets));
  if (ref?.branch) {
    checkRefName('spec.ref.branch', ref.branch);
    const name = `refs/heads/${ref.branch}`;
    const commit = (await lsRemote('--', url, name)).refs.get(name);
    if (!commit) throw notFound(`branch "${ref.branch}"`);
    return { name: ref.branch, ref: name, commit };
  }
  if (ref?.tag) {
    checkRefName('spec.ref.tag', ref.tag);
    const name = `refs/tags/${ref.tag}`;
    const commit = tagCommits(await lsRemote('--', url, name, `${name}^{}`)).get(ref.tag);
    if (!commit) throw notFound(`tag "${ref.tag}"`);
    return { name: ref.tag, ref: name, commit };
  }
  if (ref?.semver) {
    const tags = tagCommits(await lsRemote('--tags', '--', url));
    const tag = pickSemverTag(tags.keys(), ref.semver);
    if (!tag) throw notFound(`a tag in the range "${ref.semver}" (among ${tags.size} tags)`);
    return { name: tag, ref: `refs/tags/${tag}`, commit: tags.get(tag) };
  }
  if (ref?.commit) return { commit: ref.commit };
  const head = await lsRemote('--symref', '--', url, 'HEAD');
  const commit = head.refs.get('HEAD');
  if (!commit) throw new GitOperationError(redact(`${url} has no HEAD (an empty repository?)`, run.secrets));
  const branch = head.symrefs.get('HEAD');
  // A HEAD that names no branch (detached) is followed as it is, and the revision says HEAD.
  return branch?.startsWith('refs/heads/') ? { name: branch.slice('refs/heads/'.length), ref: branch, commit } : { name: 'HEAD', ref: 'HEAD', commit };
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** Marks a tree as used now: pruning keeps the ones used last. */
async function touch(path: string): Promise<void> {
  const now = new Date();
  await utimes(path, now, now).catch(() => undefined);
}
