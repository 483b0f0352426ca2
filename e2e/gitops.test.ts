/**
 * GitOps end to end: a secure cluster (tokens, Node,RBAC) whose controller-manager runs each
 * controller as its own user, real git repositories made in the test (a bare "remote" and a work
 * clone that commits and pushes), and a real QEMU agent for the VM that must run.
 *
 *   a VM committed                    → it runs; a new memory in a commit reaches its spec; a
 *                                       hand edit is put back (DriftCorrected Event); the file
 *                                       deleted → the VM is pruned, an object made by hand
 *                                       beside it stays
 *   a commit with a broken manifest   → Stalled, naming the file, object and field; nothing of
 *                                       that commit applied; the last good revision in force
 *   dependsOn                         → nothing applied before the dependency is Ready
 *   a tenant's sync (service account) → cannot write outside its namespace: the commit that
 *                                       tries applies nothing
 *   a push and the webhook            → synced at once (the interval is an hour, the remote a
 *                                       git daemon nothing watches); bench/gitops.ts times it
 *   kill -9 of the leader mid-apply   → the standby applies the same revision to the end:
 *                                       every object once, none written twice
 *   shoalctl gitops diff / reconcile  → what the next pass changes; a pass now
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { request, Agent } from 'undici';
import {
  findCondition,
  gitRepositoryWebhookPath,
  type Event,
  type GitRepository,
  type GitSync,
  type KubeObject,
  type Lease,
  type Secret,
  type VirtualMachine,
  type WatchEvent,
} from '@shoal/api';
import { ShoalClient } from '@shoal/client';
import {
  freePort,
  makeServerCertificates,
  securedApiserverArgs,
  startCluster,
  waitFor,
  waitForGone,
  waitForObject,
  type ControllerManagerProcess,
  type TestCertificates,
  type TestCluster,
} from '@shoal/testing';
import { shoalctl } from '../apps/cli/src/test-support/shoalctl.js';
import { CONTROLLER_NAMES } from '../apps/controller-manager/src/controllers.js';

/** Every controller, each as its own user (--controller-tokens-dir): the gitsync controller with its bootstrap rights only. */
const CONTROLLERS = CONTROLLER_NAMES;
const TOKENS = {
  admin: 'gitops-admin-token',
  node: 'gitops-node-token',
  ...Object.fromEntries(CONTROLLERS.map((c) => [c, `gitops-${c}-token`])),
} as Record<string, string>;
const NODE = 'gitops-a';
/** Short leader-election timing, so the kill -9 case hands over in a couple of seconds. */
const ELECTION = ['--leader-elect', '--leader-elect-lease-duration', '2', '--leader-elect-renew-deadline', '1.5', '--leader-elect-retry-period', '0.25'];

let cluster: TestCluster;
let certs: TestCertificates;
let admin: ShoalClient;
let work: string;
let remote: string;
let managers: ControllerManagerProcess[] = [];
let managerArgs: string[];

const git = (...args: string[]) =>
  execa('git', ['-C', work, '-c', 'user.name=Shoal Test', '-c', 'user.email=test@shoal.invalid', ...args], { stdin: 'ignore' });

/** Writes (or, for null, removes) files in the work clone, commits them and pushes: answers the commit. */
async function commit(files: Record<string, string | null>, message: string): Promise<string> {
  for (const [path, text] of Object.entries(files)) {
    const full = join(work, path);
    if (text === null) await rm(full, { force: true });
    else {
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, text);
    }
  }
  await git('add', '-A');
  await git('commit', '-q', '--allow-empty', '-m', message);
  await git('push', '-q', 'origin', 'HEAD:main');
  return (await git('rev-parse', 'HEAD')).stdout.trim();
}

const vmYaml = (name: string, memoryMiB: number, extra = '') => `apiVersion: shoal.dev/v1alpha1
kind: VirtualMachine
metadata:
  name: ${name}${extra}
spec:
  runStrategy: Always
  resources: { vcpus: 1, memoryMiB: ${memoryMiB} }
  command: ["sh", "-c", "echo up; exec sleep 600"]
`;

const repository = (name: string, namespace: string, spec: Record<string, unknown> = {}) =>
  admin.create('gitrepository', { metadata: { name, namespace }, spec: { url: remote, ref: { branch: 'main' }, interval: '1h', ...spec } });

const gitSync = (name: string, namespace: string, spec: Record<string, unknown>) =>
  admin.create('gitsync', { metadata: { name, namespace }, spec: { sourceRef: { name: 'repo' }, interval: '1h', ...spec } });

const syncNow = (name: string, namespace: string) => admin.get<GitSync>('gitsync', name, { namespace });
const ready = (s: GitSync) => findCondition(s.status?.conditions, 'Ready');

/** Waits for the sync to have applied `commit` and be Ready. */
function appliedCommit(name: string, namespace: string, sha: string, timeoutMs = 30_000): Promise<GitSync> {
  return waitForObject(admin, 'GitSync', name, (s) => !!s.status?.lastAppliedRevision?.endsWith(sha) && ready(s)?.status === 'True', {
    namespace,
    timeoutMs,
    message: `applied ${sha.slice(0, 8)} and Ready`,
  });
}

async function startManager(): Promise<ControllerManagerProcess> {
  const m = await cluster.startControllerManager({ args: managerArgs });
  managers.push(m);
  return m;
}

before(async () => {
  certs = await makeServerCertificates();
  const tokenFile = join(certs.dir, 'tokens.csv');
  await writeFile(
    tokenFile,
    [
      `${TOKENS.admin},admin,1,system:masters`,
      `${TOKENS.node},system:node:${NODE},2,system:nodes`,
      ...CONTROLLERS.map((c, i) => `${TOKENS[c]},system:shoal:${c},${10 + i},`),
    ].join('\n'),
  );
  const tokensDir = join(certs.dir, 'controller-tokens');
  await mkdir(tokensDir, { mode: 0o700 });
  for (const c of CONTROLLERS) await writeFile(join(tokensDir, `${c}.token`), `${TOKENS[c]}\n`, { mode: 0o600 });

  const root = await mkdtemp(join(tmpdir(), 'shoal-gitops-'));
  remote = join(root, 'remote.git');
  work = join(root, 'work');
  await execa('git', ['init', '-q', '--bare', '--initial-branch', 'main', remote]);
  await execa('git', ['clone', '-q', remote, work]);
  await commit({ 'README.md': '# clusters\n' }, 'an empty repository');

  cluster = await startCluster({
    apiserverArgs: securedApiserverArgs(certs, tokenFile),
    client: { caFile: certs.caFile, token: TOKENS.admin },
  });
  admin = cluster.client;
  managerArgs = [
    '--controllers',
    CONTROLLERS.join(','),
    '--controller-tokens-dir',
    tokensDir,
    '--certificate-authority',
    certs.caFile,
    '--gitops-cache-dir',
    join(root, 'cache'),
    ...ELECTION,
  ];
  await Promise.all([
    startManager(),
    cluster.startAgent(NODE, { args: ['--vcpus', '4', '--memory-mib', '2048', '--token', TOKENS.node, '--certificate-authority', certs.caFile] }),
  ]);
  await repository('repo', 'default');
});

after(async () => {
  await Promise.all(managers.map((m) => m.kill().catch(() => undefined)));
  await cluster?.stop();
  await rm(dirname(work ?? '/nonexistent/x'), { recursive: true, force: true });
});

test('a committed VM runs; a new memory reaches its spec; a hand edit is put back; a deleted file is pruned and a hand-made object beside it stays', async () => {
  // The directory stays when the VM's file goes (a path that is not in the repository is an error, never an empty set to prune against).
  await commit({ 'apps/README.md': 'the apps of the default namespace\n' }, 'the apps directory');
  await admin.create('secret', { metadata: { name: 'by-hand', namespace: 'default' }, stringData: { note: 'made with kubectl' } });
  const first = await commit({ 'apps/web.yaml': vmYaml('web', 128) }, 'web, 128 MiB');
  await gitSync('apps', 'default', { path: './apps', wait: true, timeout: '2m' });
  await appliedCommit('apps', 'default', first, 90_000);
  const running = await admin.get<VirtualMachine>('vm', 'web', { namespace: 'default' });
  assert.equal(running.status?.phase, 'Running', 'with wait, Ready means the VM runs');
  assert.equal(running.metadata.labels?.['gitops.shoal.dev/name'], 'apps');

  const bigger = await commit({ 'apps/web.yaml': vmYaml('web', 192) }, 'web, 192 MiB');
  await appliedCommit('apps', 'default', bigger, 60_000);
  assert.equal((await admin.get<VirtualMachine>('vm', 'web', { namespace: 'default' })).spec.resources.memoryMiB, 192);

  // Drift: someone changes a field the repository sets; a pass (asked for now) puts it back.
  await admin.patch('vm', 'web', { spec: { resources: { memoryMiB: 160 } } }, { type: 'merge', namespace: 'default' });
  const reconciled = await shoalctl(['gitops', 'reconcile', 'apps', '--server', cluster.url, '--token', TOKENS.admin, '--certificate-authority', certs.caFile]);
  assert.equal(reconciled.exitCode, 0, reconciled.stderr);
  assert.equal((await admin.get<VirtualMachine>('vm', 'web', { namespace: 'default' })).spec.resources.memoryMiB, 192, 'the hand edit is undone');
  const events = await admin.list<Event>('event', { namespace: 'default' });
  assert.ok(
    events.items.some((e) => e.involvedObject?.name === 'apps' && e.reason === 'DriftCorrected'),
    'the correction is reported as an Event',
  );

  const removed = await commit({ 'apps/web.yaml': null }, 'web goes');
  await appliedCommit('apps', 'default', removed, 60_000);
  await waitForGone(admin, 'VirtualMachine', 'web', { namespace: 'default', timeoutMs: 60_000 });
  assert.ok(await admin.get<Secret>('secret', 'by-hand', { namespace: 'default' }), 'what the sync did not create is never pruned');
  assert.deepEqual((await syncNow('apps', 'default')).status?.inventory, []);
});

test('a commit with a broken manifest applies nothing of it: Stalled, naming the file, object and field; the last good revision stays', async () => {
  const good = await commit({ 'broken/ok.yaml': vmYaml('b-first', 64) }, 'a good first commit');
  await gitSync('broken', 'default', { path: './broken' });
  await appliedCommit('broken', 'default', good);
  const bad = await commit(
    { 'broken/more.yaml': vmYaml('b-second', 64), 'broken/bad.yaml': vmYaml('b-bad', 64).replace('memoryMiB: 64', 'memoryMiB: lots') },
    'one good VM and one broken one',
  );
  const stalled = await waitForObject(
    admin,
    'GitSync',
    'broken',
    (s) => findCondition(s.status?.conditions, 'Stalled')?.status === 'True' && !!s.status?.lastAttemptedRevision?.endsWith(bad),
    { namespace: 'default', timeoutMs: 30_000, message: 'Stalled on the broken commit' },
  );
  assert.equal(ready(stalled)?.status, 'False');
  assert.equal(ready(stalled)?.observedGeneration, stalled.metadata.generation);
  assert.ok(stalled.status?.lastAppliedRevision?.endsWith(good), 'the last good revision stays in force');
  const error = stalled.status?.errors?.find((e) => e.file === 'broken/bad.yaml');
  assert.ok(error, `an error names the file: ${JSON.stringify(stalled.status?.errors)}`);
  assert.equal(error.name, 'b-bad');
  assert.equal(error.field, 'spec.resources.memoryMiB');
  assert.match(ready(stalled)!.message!, /broken\/bad\.yaml/);
  await assert.rejects(admin.get('vm', 'b-second', { namespace: 'default' }), /not found/, 'nothing of the broken commit is applied');

  const fixed = await commit({ 'broken/bad.yaml': null }, 'the broken VM removed');
  await appliedCommit('broken', 'default', fixed);
  assert.ok(await admin.get('vm', 'b-second', { namespace: 'default' }));
});

test('dependsOn: nothing is applied before the dependency is Ready at its revision', async () => {
  const sha = await commit(
    {
      'infra/ns.yaml': 'apiVersion: shoal.dev/v1alpha1\nkind: Namespace\nmetadata:\n  name: team-x\n',
      'team/vm.yaml': vmYaml('t-vm', 64),
    },
    'a namespace and a VM in it',
  );
  await gitSync('infra', 'default', { path: './infra', suspend: true });
  await gitSync('team', 'default', { path: './team', targetNamespace: 'team-x', dependsOn: [{ name: 'infra' }] });
  const held = await waitForObject(admin, 'GitSync', 'team', (s) => ready(s)?.reason === 'DependencyNotReady', {
    namespace: 'default',
    timeoutMs: 30_000,
    message: 'held by its dependency',
  });
  assert.match(ready(held)!.message!, /infra/);
  await assert.rejects(admin.get('namespace', 'team-x'), /not found/);

  await admin.patch('gitsync', 'infra', { spec: { suspend: false } }, { type: 'merge', namespace: 'default' });
  await appliedCommit('team', 'default', sha);
  const [ns, vm] = await Promise.all([admin.get('namespace', 'team-x'), admin.get('vm', 't-vm', { namespace: 'team-x' })]);
  assert.ok(Date.parse(ns.metadata.creationTimestamp!) <= Date.parse(vm.metadata.creationTimestamp!), 'the namespace came first');
});

test("a tenant's sync applies as its service account: a commit that writes outside its namespace applies nothing", async () => {
  for (const ns of ['tenant-a', 'tenant-b']) await admin.create('namespace', { metadata: { name: ns } });
  await admin.create('role', { metadata: { name: 'deployer', namespace: 'tenant-a' }, rules: [{ apiGroups: ['shoal.dev'], resources: ['*'], verbs: ['*'] }] });
  await admin.create('rolebinding', {
    metadata: { name: 'deployer', namespace: 'tenant-a' },
    subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'tenant-a' }],
    roleRef: { apiGroup: 'shoal.dev', kind: 'Role', name: 'deployer' },
  });
  await repository('repo', 'tenant-a');
  const escaping = await commit(
    {
      'tenant/mine.yaml': vmYaml('mine', 64),
      'tenant/theirs.yaml': vmYaml('theirs', 64, '\n  namespace: tenant-b'),
    },
    'a VM of mine and one in another tenant',
  );
  await admin.create('gitsync', {
    metadata: { name: 'tenant', namespace: 'tenant-a' },
    spec: { sourceRef: { name: 'repo' }, path: './tenant', interval: '1h', retryInterval: '1h', serviceAccountName: 'deployer' },
  });
  const refused = await waitForObject(
    admin,
    'GitSync',
    'tenant',
    (s) => !!s.status?.lastAttemptedRevision?.endsWith(escaping) && ready(s)?.status === 'False',
    {
      namespace: 'tenant-a',
      timeoutMs: 30_000,
      message: 'refused',
    },
  );
  assert.match(ready(refused)!.message!, /forbidden/i);
  assert.match(ready(refused)!.message!, /theirs/);
  assert.equal((await admin.list('vm', { namespace: 'tenant-b' })).items.length, 0, 'nothing written in the other tenant');
  assert.equal((await admin.list('vm', { namespace: 'tenant-a' })).items.length, 0, 'nor anything of that commit in its own');

  const within = await commit({ 'tenant/theirs.yaml': null }, 'only my own VM');
  await admin.patch(
    'gitsync',
    'tenant',
    { metadata: { annotations: { 'shoal.dev/reconcile-requested-at': 'now-1' } } },
    { type: 'merge', namespace: 'tenant-a' },
  );
  await appliedCommit('tenant', 'tenant-a', within);
  assert.ok(await admin.get('vm', 'mine', { namespace: 'tenant-a' }));
});

test('a push announced through the webhook is synced at once, with an interval of an hour and a remote nothing watches', async (t) => {
  await admin.create('secret', { metadata: { name: 'hook', namespace: 'default' }, type: 'shoal.dev/webhook-token', stringData: { token: 'push-secret' } });
  // A remote nothing can watch: git daemon on a free port, so the webhook alone can say there is a new commit.
  await commit({ 'hooked/README.md': 'VMs announced by webhook\n' }, 'a directory for the hooked sync');
  const served = join(dirname(remote), 'served');
  await mkdir(served);
  await execa('git', ['clone', '-q', '--bare', remote, join(served, 'hooked.git')]);
  const port = await freePort();
  // git-daemon itself, not `git daemon`: the git wrapper runs it as a child, which its kill would orphan.
  const daemonBin = join((await execa('git', ['--exec-path'])).stdout.trim(), 'git-daemon');
  const daemon = execa(daemonBin, ['--export-all', '--reuseaddr', '--listen=127.0.0.1', `--port=${port}`, `--base-path=${served}`, served], {
    reject: false,
    stdio: 'ignore',
  });
  t.after(() => daemon.kill('SIGKILL'));
  await waitFor(() => execa('git', ['ls-remote', `git://127.0.0.1:${port}/hooked.git`], { reject: false }).then((r) => r.exitCode === 0 || undefined), {
    timeoutMs: 10_000,
    message: 'git daemon serving',
  });
  await admin.create('gitrepository', {
    metadata: { name: 'hooked', namespace: 'default' },
    spec: { url: `git://127.0.0.1:${port}/hooked.git`, ref: { branch: 'main' }, interval: '1h', webhookSecretRef: { name: 'hook' } },
  });
  await gitSync('hooked', 'default', { sourceRef: { name: 'hooked' }, path: './hooked' });
  await waitForObject(admin, 'GitSync', 'hooked', (s) => ready(s)?.status === 'True', { namespace: 'default', timeoutMs: 30_000, message: 'Ready' });

  const sha = await commit({ 'hooked/hook-vm.yaml': vmYaml('hook-vm', 64) }, 'a VM announced by webhook');
  await git('push', '-q', join(served, 'hooked.git'), 'HEAD:main');
  const trusting = new Agent({ connect: { ca: await readFile(certs.caFile) } });
  const call = (token: string) =>
    request(`${cluster.url}${gitRepositoryWebhookPath('default', 'hooked')}`, {
      method: 'POST',
      dispatcher: trusting,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"ref":"refs/heads/main"}',
    });
  const wrong = await call('not-the-token');
  assert.equal(wrong.statusCode, 401);
  await wrong.body.dump();
  const pushedAt = Date.now();
  const res = await call('push-secret');
  assert.equal(res.statusCode, 202);
  await res.body.dump();
  await appliedCommit('hooked', 'default', sha, 10_000);
  const tookMs = Date.now() - pushedAt;
  // How fast is for bench/gitops.ts to say (a timed test fails on a busy machine); that it is the
  // webhook, not the hour-long interval nor a watcher, that made the sync happen is for here.
  t.diagnostic(`webhook to applied: ${tookMs} ms`);
  await trusting.close();
});

test('shoalctl gitops diff shows what the next pass would change and what prune would delete', async () => {
  const sha = await commit({ 'diffed/one.yaml': vmYaml('d-one', 64), 'diffed/two.yaml': vmYaml('d-two', 64) }, 'two VMs to diff');
  await gitSync('diffed', 'default', { path: './diffed' });
  await appliedCommit('diffed', 'default', sha);
  const cli = (...args: string[]) => shoalctl([...args, '--server', cluster.url, '--token', TOKENS.admin, '--certificate-authority', certs.caFile]);
  const same = await cli('gitops', 'diff', 'diffed');
  assert.equal(same.exitCode, 0, `no differences: ${same.stdout}${same.stderr}`);

  const local = await mkdtemp(join(tmpdir(), 'shoal-diff-'));
  await writeFile(join(local, 'one.yaml'), vmYaml('d-one', 96));
  const changed = await cli('gitops', 'diff', 'diffed', '--path', local);
  await rm(local, { recursive: true, force: true });
  assert.equal(changed.exitCode, 1, changed.stderr);
  assert.match(changed.stdout, /^-\s+memoryMiB: 64$/m);
  assert.match(changed.stdout, /^\+\s+memoryMiB: 96$/m);
  assert.match(changed.stdout, /pruned: virtualmachine\/default\/d-two/);
  assert.equal((await admin.get<VirtualMachine>('vm', 'd-one', { namespace: 'default' })).spec.resources.memoryMiB, 64, 'a diff changes nothing');
});

test('kill -9 of the leader mid-apply: the standby applies the same revision to the end, every object once and none written twice', async () => {
  const COUNT = 300;
  const standby = await startManager();
  const files = Object.fromEntries(
    Array.from({ length: COUNT }, (_, i) => [
      `crash/s-${i}.yaml`,
      `apiVersion: shoal.dev/v1alpha1\nkind: Secret\nmetadata:\n  name: s-${i}\nstringData:\n  n: "${i}"\n`,
    ]),
  );
  await admin.create('namespace', { metadata: { name: 'crash' } });
  // Every write to the namespace's Secrets, from before the commit.
  const seen: WatchEvent<KubeObject>['type'][] = [];
  const added = new Map<string, number>();
  const stop = new AbortController();
  const watching = (async () => {
    for await (const e of admin.watch('secret', { namespace: 'crash' }, stop.signal)) {
      if (e.type === 'BOOKMARK' || e.type === 'ERROR') continue;
      seen.push(e.type);
      if (e.type === 'ADDED') added.set(e.object.metadata.name!, (added.get(e.object.metadata.name!) ?? 0) + 1);
    }
  })().catch(() => undefined);
  const sha = await commit(files, `${COUNT} secrets`);
  await admin.create('gitsync', {
    metadata: { name: 'crash', namespace: 'default' },
    spec: { sourceRef: { name: 'repo' }, path: './crash', targetNamespace: 'crash', interval: '1h' },
  });

  const lease = await waitFor(
    async () => (await admin.get<Lease>('lease', 'shoal-controller-manager-gitsync', { namespace: 'shoal-system' })).spec.holderIdentity,
    {
      message: 'a gitsync leader',
    },
  );
  const leader = managers.find((m) => m !== standby && m.output().includes(lease)) ?? managers.find((m) => m !== standby)!;
  await waitFor(() => added.size >= COUNT / 4 || undefined, { timeoutMs: 60_000, message: 'the apply under way' });
  await leader.kill();
  assert.ok(added.size < COUNT, `killed mid-apply (${added.size} of ${COUNT} applied)`);

  const done = await appliedCommit('crash', 'default', sha, 60_000);
  stop.abort();
  await watching;
  assert.equal(added.size, COUNT, 'every object applied');
  assert.ok(
    [...added.values()].every((n) => n === 1),
    'each created once',
  );
  assert.equal(seen.filter((x) => x !== 'ADDED').length, 0, `no object written twice or deleted: ${seen.filter((x) => x !== 'ADDED').join(',')}`);
  assert.equal(done.status?.inventory?.length, COUNT);
  assert.ok(
    done.status?.inventory?.every((e) => e.uid),
    'the inventory holds what was applied, by uid',
  );
});
