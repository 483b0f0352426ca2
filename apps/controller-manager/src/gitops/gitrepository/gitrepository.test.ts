/**
 * The gitrepository controller with real git on a secured cluster (its own identity and RBAC
 * role): a real etcd, a real apiserver, and the controller-manager running only this controller.
 * Remotes are made in a temporary directory: a bare repository, a work clone that commits and
 * pushes to it, and an HTTP server in front of them that wants a password (git http-backend).
 *
 *   a branch → status.artifact names its commit, Ready True, a NewArtifact Event
 *   a push to a local bare repository, a commit in a local work tree → fetched at once (chokidar),
 *     well before the 1 h interval
 *   a tag, a semver range (and a new tag in range, seen at once)
 *   a deleted GitRepository → its cache removed
 *   failures → Ready False with the reason and git's message, never a credential; Stalled for a bad range
 *   https with credentials from a Secret → fetched; the password on no command line or environment, nor in status
 *   the webhook (bearer token, then a body signature) → a fetch at once of a remote nothing watches;
 *     lastHandledReconcileAt equals the annotation it set
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCondition, gitRepositoryWebhookPath, RECONCILE_REQUESTED_ANNOTATION, type Event, type GitRepository, type GitRepositorySpec } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { freePort, http, makeGitRemote, startGitHttpServer, waitFor, waitForObject, type GitHttpServer, type GitRemote } from '@shoal/testing';
import { refusals, withSystemCluster, type SystemCluster } from '../../test-support/system-cluster.js';
import { NEW_ARTIFACT } from './reconcile.js';
import { PROGRESSING_WITH_RETRY, READY, RECONCILING, STALLED, SUCCEEDED } from './status.js';

const NS = { namespace: 'default' };
/** Far longer than any wait below: a change seen within one was not seen by the interval's timer. */
const INTERVAL = '1h';
/** How long a change may take to show: chokidar's event, a fetch, a status write. */
const AT_ONCE_MS = 10_000;
const PASSWORD = 'pw-9c1e-never-in-status';

let dir: string;
let cacheDir: string;
let remote: GitRemote;
let server: GitHttpServer;
/** Processes that showed the password on their command line or in their environment while git fetched over HTTP. */
const leaks: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-gitrepository-'));
  cacheDir = join(dir, 'cache');
  remote = await makeGitRemote();
  await remote.commit({ 'vms/web.yaml': 'kind: VirtualMachine\n' }, 'first VM');
  await remote.tag('v1.0.0', 'release 1.0.0');
  await remote.commit({ 'vms/db.yaml': 'kind: VirtualMachine\n' }, 'second VM');
  await remote.tag('v1.2.0');
  await remote.commit({ 'README.md': 'hello\n' }, 'a readme');
  await remote.tag('v2.0.0');
  server = await startGitHttpServer({
    root: remote.dir,
    username: 'deploy',
    password: PASSWORD,
    beforeServing: async () => void leaks.push(...(await processesMentioning(PASSWORD))),
  });
});

after(async () => {
  await server?.close();
  await remote?.remove();
  await rm(dir, { recursive: true, force: true });
});

const withCluster = (fn: (c: SystemCluster) => Promise<void>) =>
  withSystemCluster({ controllers: ['gitrepository'], secured: true, args: ['--gitops-cache-dir', cacheDir] }, async (c) => {
    await fn(c);
    assert.deepEqual(refusals(c.cm!), [], 'the controller was refused nothing');
  });

const create = (client: ShoalClient, name: string, spec: Partial<GitRepositorySpec>) =>
  client.create<GitRepository>('gitrepository', { metadata: { name }, spec: { interval: INTERVAL, ...spec } }, NS);

/** Waits until the repository's artifact is `commit`. */
const fetched = (client: ShoalClient, name: string, commit: string, timeoutMs = AT_ONCE_MS) =>
  waitForObject(client, 'GitRepository', name, (r) => r.status?.artifact?.commit === commit, { ...NS, timeoutMs, message: `artifact ${commit}` });

const eventsOf = async (client: ShoalClient, name: string) =>
  (await client.list<Event>('event', NS)).items.filter((e) => e.involvedObject.kind === 'GitRepository' && e.involvedObject.name === name);

test('refs: a branch, then each push to the bare repository and each commit in a work tree fetched at once; a tag; a semver range; a deleted repository leaves no cache', async () => {
  await withCluster(async ({ client }) => {
    const head = await remote.git('rev-parse', 'HEAD');
    await create(client, 'bare', { url: remote.bare, ref: { branch: 'main' } });
    const first = await fetched(client, 'bare', head, 30_000);
    const { artifact } = first.status!;
    assert.equal(artifact!.revision, `main@sha1:${head}`);
    assert.equal(artifact!.message, 'a readme');
    assert.ok(artifact!.lastUpdateTime && first.status!.lastFetchTime);
    assert.equal(first.status!.observedGeneration, first.metadata.generation);
    const ready = findCondition(first.status!.conditions, READY)!;
    assert.deepEqual([ready.status, ready.reason, ready.message], ['True', SUCCEEDED, `stored artifact for revision 'main@sha1:${head}'`]);
    assert.equal(findCondition(first.status!.conditions, RECONCILING), undefined);
    await waitFor(async () => (await eventsOf(client, 'bare')).some((e) => e.reason === NEW_ARTIFACT && e.message?.includes(head)), {
      message: 'a NewArtifact Event',
    });

    // A push to the bare repository: seen by its watcher, fetched at once, not at the 1 h interval.
    const pushed = await remote.commit({ 'vms/cache.yaml': 'kind: VirtualMachine\n' }, 'a pushed VM');
    const second = await fetched(client, 'bare', pushed);
    assert.equal(second.status!.artifact!.revision, `main@sha1:${pushed}`);
    assert.equal(second.status!.artifact!.message, 'a pushed VM');

    // A work tree's .git is watched the same way: a commit there (no push) is fetched at once.
    await create(client, 'worktree', { url: remote.work });
    await fetched(client, 'worktree', pushed, 30_000);
    await remote.git('commit', '--quiet', '--allow-empty', '-m', 'committed, not pushed');
    const local = await remote.git('rev-parse', 'HEAD');
    const third = await fetched(client, 'worktree', local);
    assert.equal(third.status!.artifact!.revision, `main@sha1:${local}`, 'no ref given: the branch HEAD names');

    // A tag, and the highest tag in a range; a new tag in the range is seen at once.
    const tagged = (await remote.git('rev-list', '-n', '1', 'v1.0.0')).trim();
    const inRange = (await remote.git('rev-list', '-n', '1', 'v1.2.0')).trim();
    await create(client, 'tagged', { url: remote.bare, ref: { tag: 'v1.0.0' } });
    await create(client, 'ranged', { url: `file://${remote.bare}`, ref: { semver: '>=1.0.0 <2.0.0' } });
    assert.equal((await fetched(client, 'tagged', tagged, 30_000)).status!.artifact!.revision, `v1.0.0@sha1:${tagged}`);
    assert.equal((await fetched(client, 'ranged', inRange, 30_000)).status!.artifact!.revision, `v1.2.0@sha1:${inRange}`);
    await remote.tag('v1.5.0');
    assert.equal((await fetched(client, 'ranged', local)).status!.artifact!.revision, `v1.5.0@sha1:${local}`);

    // Deleted: what the cache held of it goes too.
    const cached = join(cacheDir, 'default', 'tagged');
    assert.ok((await stat(cached)).isDirectory());
    await client.delete('gitrepository', 'tagged', NS);
    await waitFor(async () => !(await stat(cached).catch(() => undefined)), { message: 'the cache of a deleted GitRepository removed' });
    assert.ok((await readdir(join(cacheDir, 'default'))).includes('ranged'));
  });
});

test('failures say why, without credentials; https credentials come from the Secret and show nowhere', async () => {
  await withCluster(async ({ client }) => {
    await client.create('secret', { metadata: { name: 'git-auth' }, type: 'shoal.dev/basic-auth', stringData: { username: 'deploy', password: PASSWORD } }, NS);
    await client.create('secret', { metadata: { name: 'wrong-auth' }, stringData: { username: 'deploy', password: 'wrong-Qv7-password' } }, NS);

    // Nothing listens there: git's own first line, and no credentials in it.
    const closed = `http://127.0.0.1:${await freePort()}/team/vms.git`;
    await create(client, 'unreachable', { url: closed, secretRef: { name: 'git-auth' } });
    await create(client, 'refused', { url: `${server.url}/remote.git`, secretRef: { name: 'wrong-auth' } });
    await create(client, 'no-secret', { url: `${server.url}/remote.git`, secretRef: { name: 'missing' } });
    await create(client, 'bad-range', { url: remote.bare, ref: { semver: 'newest please' } });
    await create(client, 'private', { url: `${server.url}/remote.git`, secretRef: { name: 'git-auth' } });

    const failed = (name: string) =>
      waitForObject(client, 'GitRepository', name, (r) => findCondition(r.status?.conditions, READY)?.status === 'False', {
        ...NS,
        timeoutMs: 30_000,
        message: 'Ready False',
      });
    const unreachable = await failed('unreachable');
    const ready = findCondition(unreachable.status!.conditions, READY)!;
    assert.equal(ready.reason, 'GitOperationFailed');
    assert.match(ready.message!, new RegExp(`^git ls-remote failed: fatal: unable to access '${closed}/': Failed to connect to 127\\.0\\.0\\.1`));
    assert.equal(findCondition(unreachable.status!.conditions, RECONCILING)?.reason, PROGRESSING_WITH_RETRY);
    assert.equal(unreachable.status!.artifact, undefined);

    const refused = findCondition((await failed('refused')).status!.conditions, READY)!;
    assert.equal(refused.reason, 'GitOperationFailed');
    assert.match(refused.message!, /Authentication failed for/);
    const noSecret = findCondition((await failed('no-secret')).status!.conditions, READY)!;
    assert.deepEqual([noSecret.reason, noSecret.message], ['AuthenticationFailed', 'spec.secretRef: Secret default/missing not found']);
    const badRange = await failed('bad-range');
    assert.equal(findCondition(badRange.status!.conditions, READY)!.reason, 'InvalidRef');
    assert.equal(findCondition(badRange.status!.conditions, STALLED)?.status, 'True');
    assert.equal(findCondition(badRange.status!.conditions, RECONCILING), undefined);
    await waitFor(async () => (await eventsOf(client, 'unreachable')).some((e) => e.type === 'Warning' && e.reason === 'GitOperationFailed'), {
      message: 'a Warning Event',
    });

    // With the Secret's credentials over HTTP: fetched; the password seen in no process, nor anywhere in the status.
    const head = await remote.git('rev-parse', 'refs/remotes/origin/main');
    await fetched(client, 'private', head, 30_000);
    assert.ok(server.served > 0);
    assert.deepEqual(leaks, []);
    const all = JSON.stringify((await client.list('gitrepository', NS)).items);
    assert.doesNotMatch(all, new RegExp(`${PASSWORD}|wrong-Qv7-password`));
    assert.doesNotMatch(JSON.stringify(await eventsOf(client, 'refused')), /wrong-Qv7-password/);
  });
});

test('the webhook: a call with the right token (bearer, then a signed body) makes the controller fetch a remote nothing watches, at once; a wrong token changes nothing', async () => {
  await withCluster(async ({ client, cp }) => {
    const TOKEN = 'hook-8d2b';
    await client.create('secret', { metadata: { name: 'git-auth' }, stringData: { username: 'deploy', password: PASSWORD } }, NS);
    await client.create('secret', { metadata: { name: 'hook' }, type: 'shoal.dev/webhook-token', stringData: { token: TOKEN } }, NS);
    // Over HTTP: no watcher can see a push there, and the interval is an hour away.
    await create(client, 'hooked', { url: `${server.url}/remote.git`, secretRef: { name: 'git-auth' }, webhookSecretRef: { name: 'hook' } });
    const before = await remote.git('rev-parse', 'refs/remotes/origin/main');
    await fetched(client, 'hooked', before, 30_000);

    const path = gitRepositoryWebhookPath('default', 'hooked');
    const requestedAt = async () => (await client.get<GitRepository>('gitrepository', 'hooked', NS)).metadata.annotations?.[RECONCILE_REQUESTED_ANNOTATION];
    const handled = (value: string) =>
      waitForObject(client, 'GitRepository', 'hooked', (r) => r.status?.lastHandledReconcileAt === value, {
        ...NS,
        timeoutMs: AT_ONCE_MS,
        message: `handled ${value}`,
      });

    const pushed = await remote.commit({ 'vms/hooked.yaml': 'kind: VirtualMachine\n' }, 'pushed, then the webhook called');
    const byBearer = await http(cp.url, 'POST', path, '{}', { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` });
    assert.equal(byBearer.status, 202, JSON.stringify(byBearer.body));
    const first = await requestedAt();
    assert.ok(first);
    const afterBearer = await handled(first);
    assert.equal(afterBearer.status!.artifact!.commit, pushed, 'the webhook made it fetch the new commit');

    const pushedAgain = await remote.commit({ 'vms/hooked.yaml': 'kind: VirtualMachine\nmetadata: {}\n' }, 'and again');
    const body = JSON.stringify({ ref: 'refs/heads/main', after: pushedAgain });
    const signature = `sha256=${createHmac('sha256', TOKEN).update(body).digest('hex')}`;
    assert.equal((await http(cp.url, 'POST', path, body, { 'content-type': 'application/json', 'x-hub-signature-256': signature })).status, 202);
    const second = await requestedAt();
    assert.notEqual(second, first);
    assert.equal((await handled(second!)).status!.artifact!.commit, pushedAgain);

    // A wrong token: 401, no annotation change, so nothing to answer.
    assert.equal((await http(cp.url, 'POST', path, '{}', { 'content-type': 'application/json', authorization: 'Bearer nope' })).status, 401);
    assert.equal(await requestedAt(), second);
  });
});

/** Command lines and environments of this machine's processes that hold `text`. */
async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    for (const file of ['cmdline', 'environ']) {
      const content = await readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => '');
      if (content.includes(text)) found.push(`${pid} ${file}: ${content.replace(/\0/g, ' ').slice(0, 200)}`);
    }
  }
  return found;
}
