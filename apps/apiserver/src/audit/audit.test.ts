/**
 * The audit log against a real etcd and a real apiserver started with --audit-log-path, and
 * `shoalctl audit verify` as users run it (the real binary): what is logged (mutations with
 * their outcome, dry runs marked, no reads), that the chain verifies, that each kind of
 * tampering is pinned to its line, and that a restarted apiserver continues the chain.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { auditEntryHash, GENESIS_HASH } from '@shoal/api';
import { freePort, http, REPO_ROOT, startCluster, waitFor, type TestCluster } from '@shoal/testing';

const VMS = '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines';
const MERGE = { 'content-type': 'application/merge-patch+json' };
const UA = { 'user-agent': 'audit-test/1.0' };

let cluster: TestCluster;
let dir: string;
let logPath: string;

const vm = (name: string) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name },
  spec: { resources: { vcpus: 1, memoryMiB: 128 } },
});
const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  http(cluster.url, method, path, body, { ...UA, ...headers });

async function entries(path = logPath): Promise<any[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Waits until the log holds `n` entries (they are written after the response is sent). */
const waitForEntries = (n: number) => waitFor(async () => ((await entries()).length >= n ? entries() : undefined), { message: `${n} audit entries` });

/** The log once it holds the entry of the request `res` answered (written after the response is sent). */
const entriesThrough = (res: { headers: Record<string, unknown> }) =>
  waitFor(
    async () => {
      const all = await entries();
      return all.some((e) => e.requestID === res.headers['audit-id']) ? all : undefined;
    },
    { message: `the audit entry of request ${String(res.headers['audit-id'])}` },
  );

async function verify(path: string) {
  const r = await execa('node', [`${REPO_ROOT}bin/shoalctl.js`, 'audit', 'verify', path], { reject: false, cwd: REPO_ROOT, env: { HOME: dir } });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-audit-'));
  logPath = join(dir, 'logs', 'audit.log');
  cluster = await startCluster({ apiserverArgs: ['--audit-log-path', logPath] });
});
after(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('every mutating request is one entry with who, verb, object and result; reads are not logged', async () => {
  assert.deepEqual(await entries(), [], 'nothing is logged before the first request');
  assert.equal((await api('GET', VMS)).status, 200);
  assert.equal((await api('GET', `${VMS}/nothing`)).status, 404);

  const created = await api('POST', VMS, vm('a'));
  assert.equal(created.status, 201);
  const patched = await api('PATCH', `${VMS}/a`, { metadata: { labels: { tier: 'web' } } }, MERGE);
  assert.equal(patched.status, 200);
  const status = await api('PATCH', `${VMS}/a/status`, { status: { phase: 'Pending' } }, MERGE);
  assert.equal(status.status, 200, JSON.stringify(status.body));
  const dry = await api('POST', `${VMS}?dryRun=All`, vm('b'));
  assert.equal(dry.status, 201);
  const invalid = await api('POST', VMS, { metadata: { name: 'c' }, spec: { resources: { vcpus: 0 } } });
  assert.equal(invalid.status, 422);
  const deleted = await api('DELETE', `${VMS}/a`);
  assert.equal(deleted.status, 200);
  const missing = await api('DELETE', `${VMS}/ghost`);
  assert.equal(missing.status, 404);
  assert.equal((await api('GET', `${VMS}/a`)).status, 404);

  const log = await waitForEntries(7);
  assert.equal(log.length, 7, 'the two reads before and the one after left no entry');
  const byId = new Map(log.map((e) => [e.requestID, e]));
  const entryOf = (r: { headers: Record<string, unknown> }) => {
    const id = r.headers['audit-id'];
    assert.match(String(id), /^[0-9a-f-]{36}$/, 'audited responses carry Audit-ID');
    return byId.get(id as string);
  };

  const c = entryOf(created);
  assert.match(c.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(
    {
      user: c.user,
      groups: c.groups,
      verb: c.verb,
      apiGroup: c.apiGroup,
      apiVersion: c.apiVersion,
      resource: c.resource,
      namespace: c.namespace,
      name: c.name,
    },
    {
      user: 'system:anonymous',
      groups: ['system:unauthenticated'],
      verb: 'create',
      apiGroup: 'shoal.dev',
      apiVersion: 'v1alpha1',
      resource: 'virtualmachines',
      namespace: 'default',
      name: 'a',
    },
  );
  assert.deepEqual(
    { code: c.code, dryRun: c.dryRun, uid: c.uid, resourceVersion: c.resourceVersion },
    { code: 201, dryRun: false, uid: created.body.metadata.uid, resourceVersion: created.body.metadata.resourceVersion },
  );
  assert.equal(c.subresource, undefined);
  assert.equal(c.reason, undefined);
  assert.equal(c.userAgent, 'audit-test/1.0');
  assert.match(c.sourceIP, /127\.0\.0\.1/);

  const p = entryOf(patched);
  assert.deepEqual(
    { verb: p.verb, name: p.name, code: p.code, resourceVersion: p.resourceVersion },
    { verb: 'patch', name: 'a', code: 200, resourceVersion: patched.body.metadata.resourceVersion },
  );
  const s = entryOf(status);
  assert.deepEqual({ verb: s.verb, subresource: s.subresource, name: s.name, code: s.code }, { verb: 'patch', subresource: 'status', name: 'a', code: 200 });
  const d = entryOf(dry);
  assert.deepEqual({ verb: d.verb, name: d.name, dryRun: d.dryRun, code: d.code }, { verb: 'create', name: 'b', dryRun: true, code: 201 });
  const i = entryOf(invalid);
  assert.deepEqual({ verb: i.verb, code: i.code, reason: i.reason, uid: i.uid }, { verb: 'create', code: 422, reason: 'Invalid', uid: undefined });
  const del = entryOf(deleted);
  assert.deepEqual({ verb: del.verb, name: del.name, code: del.code, uid: del.uid }, { verb: 'delete', name: 'a', code: 200, uid: created.body.metadata.uid });
  const m = entryOf(missing);
  assert.deepEqual({ verb: m.verb, name: m.name, code: m.code, reason: m.reason }, { verb: 'delete', name: 'ghost', code: 404, reason: 'NotFound' });

  // The chain as written: genesis first, each prev the hash before, each hash over the rest.
  assert.equal(log[0].prev, GENESIS_HASH);
  log.forEach((e, n) => {
    assert.equal(e.hash, auditEntryHash(e));
    if (n > 0) assert.equal(e.prev, log[n - 1].hash);
  });
});

test('a bulk bind is one entry for the request and one per VM, each with its own outcome, under the same requestID', async () => {
  const created = await api('POST', VMS, vm('bulk-1'));
  assert.equal(created.status, 201);
  const before = (await entriesThrough(created)).length;
  const res = await api('POST', '/apis/shoal.dev/v1alpha1/bindings', {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'BindingList',
    items: [
      { metadata: { namespace: 'default', name: 'bulk-1' }, target: { name: 'n1' } },
      { metadata: { namespace: 'default', name: 'bulk-missing' }, target: { name: 'n1' } },
    ],
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const added = (await waitForEntries(before + 3)).slice(before);
  const id = res.headers['audit-id'];
  assert.ok(added.every((e) => e.requestID === id));
  assert.deepEqual(
    added.map((e) => [e.verb, e.resource, e.subresource, e.namespace, e.name, e.code, e.reason]),
    [
      ['create', 'bindings', undefined, undefined, undefined, 200, undefined],
      ['create', 'virtualmachines', 'binding', 'default', 'bulk-1', 201, undefined],
      ['create', 'virtualmachines', 'binding', 'default', 'bulk-missing', 404, 'NotFound'],
    ],
  );
});

test('concurrent writes are appended whole and in one chain', async () => {
  const before = (await entries()).length;
  const answers = await Promise.all(Array.from({ length: 40 }, (_, n) => api('POST', VMS, vm(`many-${n}`))));
  assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([201]));
  const log = await waitForEntries(before + 40);
  const ids = new Set(log.map((e) => e.requestID));
  for (const a of answers) assert.ok(ids.has(a.headers['audit-id']));
  const r = await verify(logPath);
  assert.equal(r.stdout, `OK: ${before + 40} entries, chain intact`);
  assert.equal(r.exitCode, 0);
});

test('audit verify names the line that was edited, removed or moved', async () => {
  const lines = (await readFile(logPath, 'utf8')).split('\n').filter(Boolean);
  assert.ok(lines.length >= 20);
  const tampered = async (name: string, ls: string[]) => {
    const path = join(dir, `${name}.log`);
    await writeFile(path, ls.map((l) => `${l}\n`).join(''));
    return verify(path);
  };
  const firstLine = (r: { stdout: string }) => r.stdout.split('\n')[0];

  // A field changed in the middle (a 404 made to look like a success).
  const edited = [...lines];
  edited[16] = edited[16]!.replace(/"code":\d+/, '"code":200').replace(/"user":"[^"]*"/, '"user":"admin"');
  assert.notEqual(edited[16], lines[16]);
  const e = await tampered('edited', edited);
  assert.equal(e.exitCode, 1);
  assert.equal(firstLine(e), 'line 17: hash does not match its content (edited?)');
  assert.match(e.stdout, /FAILED: \d+ entries, chain broken at line 17 \(1 broken line\)/);

  // The same edit with the hash recomputed: the next line no longer links to it.
  const rehashed = [...lines];
  const forged = { ...JSON.parse(lines[16]!), user: 'admin' };
  forged.hash = auditEntryHash(forged);
  rehashed[16] = JSON.stringify(forged);
  assert.equal(firstLine(await tampered('rehashed', rehashed)), "line 18: prev does not match line 17's hash (line removed or reordered?)");

  // A line removed.
  const removed = lines.filter((_, n) => n !== 16);
  const r = await tampered('removed', removed);
  assert.equal(r.exitCode, 1);
  assert.equal(firstLine(r), "line 17: prev does not match line 16's hash (line removed or reordered?)");

  // Two lines swapped.
  const swapped = [...lines];
  [swapped[16], swapped[17]] = [swapped[17]!, swapped[16]!];
  assert.equal(firstLine(await tampered('swapped', swapped)), "line 17: prev does not match line 16's hash (line removed or reordered?)");

  // The first line removed, and a line that is not JSON.
  assert.equal(firstLine(await tampered('head', lines.slice(1))), 'line 1: prev is not the genesis value (lines removed from the start?)');
  const garbled = [...lines];
  garbled[4] = garbled[4]!.slice(0, 40);
  assert.match(firstLine(await tampered('garbled', garbled)), /^line 5: not valid JSON .*\(truncated or edited\?\)$/);

  const missing = await verify(join(dir, 'no-such.log'));
  assert.equal(missing.exitCode, 1);
  assert.match(missing.stderr, /cannot read .*no-such\.log: ENOENT/);
});

test('a restarted apiserver continues the chain from the last line', async () => {
  const before = await entries();
  await cluster.apiserver.stop(); // SIGTERM: the log is flushed and closed
  await cluster.restartApiserver();
  const created = await api('POST', VMS, vm('after-restart'));
  assert.equal(created.status, 201);
  const log = await waitForEntries(before.length + 1);
  const last = log.at(-1);
  assert.equal(last.name, 'after-restart');
  assert.equal(last.prev, before.at(-1).hash);
  const r = await verify(logPath);
  assert.equal(r.stdout, `OK: ${before.length + 1} entries, chain intact`);
  assert.equal(r.exitCode, 0);
});

test('an apiserver refuses to continue a log whose last line is not a whole entry', async () => {
  const broken = join(dir, 'broken.log');
  await writeFile(broken, `${(await readFile(logPath, 'utf8')).split('\n')[0]}\n{"time":"2`);
  const r = await execa(
    'node',
    [`${REPO_ROOT}bin/shoal-apiserver.js`, '--etcd-servers', cluster.etcd.endpoint, '--port', String(await freePort()), '--audit-log-path', broken],
    {
      reject: false,
      cwd: REPO_ROOT,
      timeout: 30_000,
    },
  );
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /audit log .*broken\.log: the last line is incomplete/);
});
