/**
 * The git cache with real git: remotes made in a temporary directory (a bare repository and a
 * work clone that commits and pushes to it), and one served over HTTP by `git http-backend`
 * behind basic authentication.
 *
 *   branch, the remote's HEAD, tags (annotated and not), semver ranges, commits (full, abbreviated)
 *   checkout: the commit's files, written whole; fetched first by a cache that never saw it; old trees pruned
 *   failures: a path that is no repository, a missing branch, a bad range, a server that never answers (timeout)
 *   https credentials: fetched with them; never on a command line or in the environment of a process; never in a message
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { GitRepository, GitRepositorySpec } from '@shoal/api';
import { makeGitRemote, startGitHttpServer, waitFor, type GitRemote } from '@shoal/testing';
import { gitCache, type GitCache } from './git-cache.js';
import { GitOperationError, InvalidRefError } from './git-errors.js';

const log = pino({ level: 'silent' });
let dir: string;
let remote: GitRemote;
let cache: GitCache;
const commits: Record<string, string> = {};

const repository = (spec: Partial<GitRepositorySpec> & { url: string }, name = 'repo'): GitRepository => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'GitRepository',
  metadata: { name, namespace: 'default' },
  spec: { interval: '1m', timeout: '20s', suspend: false, ...spec },
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-git-cache-'));
  cache = gitCache(join(dir, 'cache'), log);
  remote = await makeGitRemote();
  commits.first = await remote.commit({ 'vms/web.yaml': 'kind: VirtualMachine\n' }, 'first: one VM\n\nwith a body');
  await remote.tag('v1.0.0', 'release 1.0.0');
  commits.second = await remote.commit({ 'vms/db.yaml': 'kind: VirtualMachine\n' }, 'second: two VMs');
  await remote.tag('v1.2.0');
  commits.third = await remote.commit({ 'README.md': 'hello\n' }, 'third');
  await remote.tag('v2.0.0', 'release 2');
  commits.other = await remote.commit({ 'other.txt': 'x\n' }, 'on another branch', 'feature/x');
  await remote.git('checkout', '--quiet', 'main');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
  await remote?.remove();
});

test('refs: a branch, the remote HEAD, tags (annotated or not), a semver range, a commit by full or abbreviated SHA', async () => {
  const url = remote.bare;
  assert.deepEqual(await cache.fetch(repository({ url, ref: { branch: 'main' } }), undefined), {
    commit: commits.third,
    revision: `main@sha1:${commits.third}`,
    message: 'third',
  });
  assert.deepEqual(await cache.fetch(repository({ url }), undefined), { commit: commits.third, revision: `main@sha1:${commits.third}`, message: 'third' });
  assert.deepEqual(await cache.fetch(repository({ url: `file://${url}`, ref: { branch: 'feature/x' } }), undefined), {
    commit: commits.other,
    revision: `feature/x@sha1:${commits.other}`,
    message: 'on another branch',
  });
  // Annotated: the commit it tags, not the tag object; the message's first line only.
  assert.deepEqual(await cache.fetch(repository({ url, ref: { tag: 'v1.0.0' } }), undefined), {
    commit: commits.first,
    revision: `v1.0.0@sha1:${commits.first}`,
    message: 'first: one VM',
  });
  assert.equal((await cache.fetch(repository({ url, ref: { tag: 'v1.2.0' } }), undefined)).commit, commits.second);
  assert.deepEqual(await cache.fetch(repository({ url, ref: { semver: '>=1.0.0 <2.0.0' } }), undefined), {
    commit: commits.second,
    revision: `v1.2.0@sha1:${commits.second}`,
    message: 'second: two VMs',
  });
  assert.equal((await cache.fetch(repository({ url, ref: { semver: '>=2' } }), undefined)).revision, `v2.0.0@sha1:${commits.third}`);

  // By SHA, in caches that never fetched anything: one commit behind a branch tip, over file:// and a plain path.
  for (const [name, at] of [
    ['by-sha-file', `file://${url}`],
    ['by-sha-path', url],
  ]) {
    assert.deepEqual(await cache.fetch(repository({ url: at!, ref: { commit: commits.first! } }, name), undefined), {
      commit: commits.first,
      revision: `sha1:${commits.first}`,
      message: 'first: one VM',
    });
  }
  assert.deepEqual(await cache.fetch(repository({ url, ref: { commit: commits.second!.slice(0, 9) } }, 'by-short-sha'), undefined), {
    commit: commits.second,
    revision: `sha1:${commits.second}`,
    message: 'second: two VMs',
  });

  // A new commit on the branch is what the next fetch answers.
  const fourth = await remote.commit({ 'vms/cache.yaml': 'kind: VirtualMachine\n' }, 'fourth');
  assert.equal((await cache.fetch(repository({ url, ref: { branch: 'main' } }), undefined)).commit, fourth);
  commits.fourth = fourth;
});

test("checkout: the commit's files, written whole; a cache that lacks the commit fetches it; the last trees kept, older ones removed", async () => {
  const url = remote.bare;
  const repo = repository({ url, ref: { branch: 'main' } }, 'checkouts');
  const { commit } = await cache.fetch(repo, undefined);
  const tree = await cache.checkout(repo, commit, undefined);
  assert.equal(tree, join(dir, 'cache', 'default', 'checkouts', 'trees', commit));
  assert.equal(await readFile(join(tree, 'vms', 'web.yaml'), 'utf8'), 'kind: VirtualMachine\n');
  assert.deepEqual((await readdir(tree)).sort(), ['README.md', 'vms']);
  assert.equal(await cache.checkout(repo, commit, undefined), tree, 'the same tree again');

  // Another controller-manager's cache: it never fetched, yet checks out the commits it is told.
  const elsewhere = gitCache(join(dir, 'other-cache'), log);
  const trees: string[] = [];
  const files: string[][] = [];
  for (const c of [commits.first!, commits.second!, commits.third!, commits.fourth!, commits.other!]) {
    trees.push(await elsewhere.checkout(repo, c, undefined));
    files.push((await readdir(join(trees.at(-1)!, 'vms'))).sort());
  }
  assert.deepEqual(files, [['web.yaml'], ['db.yaml', 'web.yaml'], ['db.yaml', 'web.yaml'], ['cache.yaml', 'db.yaml', 'web.yaml'], ['db.yaml', 'web.yaml']]);
  assert.equal(await readFile(join(trees[4]!, 'other.txt'), 'utf8'), 'x\n');
  // Five checked out: the one just made and the three used before it are kept; no temporary tree is left.
  const kept = await readdir(join(dir, 'other-cache', 'default', 'checkouts', 'trees'));
  assert.deepEqual(kept.sort(), [commits.second, commits.third, commits.fourth, commits.other].sort());
  // An abbreviated SHA names the same tree.
  assert.equal(await elsewhere.checkout(repo, commits.other!.slice(0, 10), undefined), trees[4]);
});

test('failures: no repository at the path, a missing branch or tag, a range nothing matches, a bad range', async () => {
  const missing = join(dir, 'nothing-here');
  await assert.rejects(
    cache.fetch(repository({ url: missing }, 'missing'), undefined),
    (err) =>
      err instanceof GitOperationError && err.retryable && err.message === `git ls-remote failed: fatal: '${missing}' does not appear to be a git repository`,
  );
  await assert.rejects(
    cache.fetch(repository({ url: remote.bare, ref: { branch: 'nope' } }), undefined),
    (err) => err instanceof GitOperationError && err.message === `branch "nope" not found in ${remote.bare}`,
  );
  await assert.rejects(cache.fetch(repository({ url: remote.bare, ref: { tag: 'v9' } }), undefined), /tag "v9" not found/);
  await assert.rejects(cache.fetch(repository({ url: remote.bare, ref: { semver: '>=5' } }), undefined), /a tag in the range ">=5" \(among 3 tags\) not found/);
  await assert.rejects(
    cache.fetch(repository({ url: remote.bare, ref: { semver: 'latest please' } }), undefined),
    (err) => err instanceof InvalidRefError && !err.retryable && err.field === 'spec.ref.semver',
  );
  await assert.rejects(cache.fetch(repository({ url: remote.bare, ref: { branch: '--upload-pack=touch /tmp/x' } }), undefined), InvalidRefError);
});

test('spec.timeout: a server that never answers fails the fetch once the timeout passes, and no git process is left', async () => {
  const silent: Server = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}/stuck.git`;
  try {
    const started = Date.now();
    await assert.rejects(
      cache.fetch(repository({ url, timeout: '1s' }, 'stuck'), undefined),
      (err) => err instanceof GitOperationError && err.timedOut && /did not finish within the timeout of 1s/.test(err.message),
    );
    const took = Date.now() - started;
    assert.ok(took >= 1000 && took < 4000, `failed after ${took} ms`);
    await waitFor(async () => !(await processesMentioning(url)).length, { timeoutMs: 5000, message: 'no git process left for the stuck server' });

    // Cancelled by the caller: the same, at once.
    const abort = new AbortController();
    const fetching = cache.fetch(repository({ url, timeout: '1m' }, 'stuck'), undefined, abort.signal);
    setImmediate(() => abort.abort());
    await assert.rejects(fetching, /cancelled/);
  } finally {
    silent.close();
  }
});

test('https credentials: a fetch with them succeeds; they are on no command line and in no environment; a wrong one fails without saying it', async () => {
  const password = 'pw-Zq81-never-shown';
  let seenDuringFetch: string[] | undefined;
  const server = await startGitHttpServer({
    root: remote.dir,
    username: 'bob',
    password,
    // While git waits for the answer: every process's command line and environment, for the password.
    beforeServing: async () => {
      seenDuringFetch ??= await processesMentioning(password);
    },
  });
  try {
    const url = `${server.url}/remote.git`;
    const repo = repository({ url, ref: { branch: 'main' } }, 'over-https');
    assert.equal((await cache.fetch(repo, { username: 'bob', password })).commit, commits.fourth);
    assert.ok(server.served > 0);
    assert.deepEqual(seenDuringFetch, [], 'the password was visible in a process');
    assert.deepEqual(await readdir(join(dir, 'cache', '.credentials')), [], 'no credential file left');

    const refusedBefore = server.refused;
    await assert.rejects(cache.fetch(repo, { username: 'bob', password: 'wrong-pass-Xy7' }), (err) => {
      assert.ok(err instanceof GitOperationError, String(err));
      assert.match(err.message, /^git ls-remote failed: fatal: Authentication failed for/);
      assert.doesNotMatch(err.message, /wrong-pass-Xy7|pw-Zq81/);
      return true;
    });
    assert.ok(server.refused > refusedBefore);
    // No credentials at all: git does not ask anyone, it fails.
    await assert.rejects(cache.fetch(repository({ url }, 'anonymous'), undefined), /could not read Username|Authentication failed/);
  } finally {
    await server.close();
  }
});

/** The pids of processes whose command line or environment holds `text` (not this test's own process). */
async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    for (const file of ['cmdline', 'environ']) {
      const content = await readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => '');
      if (content.includes(text)) found.push(`${pid} (${file}: ${content.replace(/\0/g, ' ').slice(0, 200)})`);
    }
  }
  return found;
}
