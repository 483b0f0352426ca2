/** `shoalctl get` and `describe` against a real etcd and apiserver. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT, startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { createNamespace, removeTestHome, shoalctl } from '../../test-support/shoalctl.js';

let cluster: TestCluster;
let get: (...args: string[]) => ReturnType<typeof shoalctl>;

const vm = (name: string, namespace: string, labels: Record<string, string>, vcpus = 1) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace, labels },
  spec: { resources: { vcpus, memoryMiB: 512 } },
});

before(async () => {
  cluster = await startCluster();
  get = (...args) => shoalctl(['--server', cluster.url, 'get', ...args]);
  await createNamespace(cluster.client, 'g');
  await createNamespace(cluster.client, 'h');
  await cluster.client.create('vm', vm('alpha', 'g', { app: 'web' }, 2));
  await cluster.client.create('vm', vm('beta', 'g', { app: 'db' }));
  await cluster.client.create('vm', vm('gamma', 'h', { app: 'web' }));
});
after(async () => {
  await cluster?.stop();
  await removeTestHome();
});

const lines = (s: string) => s.trimEnd().split('\n');

test('the default table: server columns, upper-case headers, aligned', async () => {
  const r = await get('vm', '-n', 'g');
  assert.equal(r.exitCode, 0, r.stderr);
  const [header, ...rows] = lines(r.stdout);
  assert.match(header!, /^NAME {3,}PHASE {3,}NODE {3,}VCPUS {3,}MEMORY {3,}AGE$/);
  assert.equal(rows.length, 2);
  assert.match(rows[0]!, /^alpha {3,}Pending {3,}<none> {3,}2 {3,}512Mi {3,}\d+s$/);
  const col = header!.indexOf('VCPUS');
  assert.ok(
    rows.every((row) => /\S/.test(row[col]!) && row[col - 1] === ' '),
    'cells start under their header',
  );
});

test('-o wide adds the priority columns', async () => {
  const r = await get('vm', '-n', 'g', '-o', 'wide');
  assert.match(lines(r.stdout)[0]!, /^NAME\s+PHASE\s+NODE\s+VCPUS\s+MEMORY\s+IP\s+RESTARTS\s+STRATEGY\s+AGE$/);
});

test('-o yaml: a List for a list, the object for one name', async () => {
  // Independent runs of the binary: side by side, here and below.
  const [list, oneYaml] = await Promise.all([get('vm', '-n', 'g', '-o', 'yaml'), get('vm', 'alpha', '-n', 'g', '-o', 'yaml')]);
  assert.match(list.stdout, /^apiVersion: v1\nkind: List\n/);
  const doc = parseYaml(list.stdout) as { items: { metadata: { name: string } }[] };
  assert.deepEqual(
    doc.items.map((i) => i.metadata.name),
    ['alpha', 'beta'],
  );
  const one = parseYaml(oneYaml.stdout) as { kind: string; metadata: { name: string } };
  assert.deepEqual([one.kind, one.metadata.name], ['VirtualMachine', 'alpha']);
});

test('-o json and -o name', async () => {
  const [oneJson, listJson, names] = await Promise.all([
    get('vm', 'beta', '-n', 'g', '-o', 'json'),
    get('vm', '-n', 'g', '-o', 'json'),
    get('vm', '-n', 'g', '-o', 'name'),
  ]);
  const json = JSON.parse(oneJson.stdout) as { metadata: { labels: Record<string, string> } };
  assert.deepEqual(json.metadata.labels, { app: 'db' });
  const list = JSON.parse(listJson.stdout) as { kind: string; items: unknown[] };
  assert.deepEqual([list.kind, list.items.length], ['List', 2]);
  assert.equal(names.stdout, 'virtualmachine.shoal.dev/alpha\nvirtualmachine.shoal.dev/beta\n');
});

test('-o yaml|json leave metadata.managedFields out, as kubectl does, unless --show-managed-fields', async () => {
  const [hidden, shown] = await Promise.all([get('vm', 'beta', '-n', 'g', '-o', 'json'), get('vm', 'beta', '-n', 'g', '-o', 'yaml', '--show-managed-fields')]);
  assert.equal(JSON.parse(hidden.stdout).metadata.managedFields, undefined);
  const entries = (parseYaml(shown.stdout) as { metadata: { managedFields: { manager: string; operation: string }[] } }).metadata.managedFields;
  assert.deepEqual(
    entries.map((e) => [e.manager, e.operation]),
    [['shoal-client', 'Update']],
    'the test client created it (its User-Agent names the manager)',
  );
});

test('-l and --field-selector filter; -A lists every namespace with a NAMESPACE column', async () => {
  const [byLabel, byField, all] = await Promise.all([
    get('vm', '-n', 'g', '-l', 'app=web', '-o', 'name'),
    get('vm', '-n', 'g', '--field-selector', 'metadata.name=beta', '-o', 'name'),
    get('vms', '-A', '-l', 'app=web', '--show-labels'),
  ]);
  assert.equal(byLabel.stdout, 'virtualmachine.shoal.dev/alpha\n');
  assert.equal(byField.stdout, 'virtualmachine.shoal.dev/beta\n');
  const [header, ...rows] = lines(all.stdout);
  assert.match(header!, /^NAMESPACE\s+NAME\s+PHASE\s+NODE\s+VCPUS\s+MEMORY\s+AGE\s+LABELS$/);
  assert.deepEqual(rows.map((r) => r.split(/\s+/).slice(0, 2).join('/')).sort(), ['g/alpha', 'h/gamma']);
  assert.ok(rows.every((r) => r.endsWith('app=web')));
});

test('a missing name is an error (exit 1) while the names found still print', async () => {
  const [r, empty] = await Promise.all([get('vm', 'alpha', 'nope', '-n', 'g'), get('vm', '-n', 'default')]);
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /^Error from server \(NotFound\): virtualmachines\.shoal\.dev "nope" not found$/m);
  assert.match(r.stdout, /^alpha\s/m);
  assert.equal(empty.exitCode, 0);
  assert.match(empty.stderr, /No resources found in default namespace/);
});

test('an unknown kind exits 1 with a clear message; bad flags exit 2', async () => {
  const [r, bad] = await Promise.all([get('gadgets'), get('vm', '-o', 'xml')]);
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /doesn't have a resource type "gadgets"/);
  assert.equal(bad.exitCode, 2);
  assert.match(bad.stderr, /unable to match a printer suitable for the output format "xml"/);
});

test('-w prints the list, then a row per change, until interrupted', async (t) => {
  const proc = execa('node', [`${REPO_ROOT}bin/shoalctl.js`, '--server', cluster.url, '-n', 'g', 'get', 'vm', '-w'], { reject: false, buffer: false });
  t.after(() => proc.kill('SIGKILL'));
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await waitFor(() => /^beta\s/m.test(out), { timeoutMs: 20_000, message: `the initial list (got ${JSON.stringify(out)})` });
  await cluster.client.create('vm', vm('delta', 'g', { app: 'web' }));
  await waitFor(() => /^delta\s+Pending\s+<none>\s+1\s+512Mi/m.test(out), { message: 'a row for the new VM' });
  await cluster.client.patch('vm', 'delta', { spec: { nodeName: 'n7' } }, { namespace: 'g', type: 'merge' });
  await waitFor(() => /^delta\s+Pending\s+n7\s/m.test(out), { message: 'a row for the change' });
  proc.kill('SIGINT');
  const done = await proc;
  assert.equal(done.exitCode, 0, 'Ctrl-C ends the watch cleanly');
  assert.equal(out.match(/^NAME/gm)?.length, 1, 'one header');
});

test('describe shows metadata, spec, status and the events about the object', async () => {
  await cluster.client.patch(
    'vm',
    'alpha',
    { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', reason: 'Booted', lastTransitionTime: new Date().toISOString() }] } },
    { namespace: 'g', type: 'merge', status: true },
  );
  const alpha = await cluster.client.get('vm', 'alpha', { namespace: 'g' });
  const now = new Date().toISOString();
  await cluster.client.create('Event', {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Event',
    metadata: { name: 'alpha.1', namespace: 'g' },
    involvedObject: { kind: 'VirtualMachine', name: 'alpha', namespace: 'g', uid: alpha.metadata.uid },
    reason: 'Scheduled',
    message: 'bound to node-3',
    type: 'Normal',
    firstTimestamp: now,
    lastTimestamp: now,
    source: { component: 'scheduler' },
  });
  await cluster.client.create('Event', {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Event',
    metadata: { name: 'beta.1', namespace: 'g' },
    involvedObject: { kind: 'VirtualMachine', name: 'beta', namespace: 'g' },
    reason: 'NotForAlpha',
    message: 'x',
  });
  const [r, missing] = await Promise.all([
    shoalctl(['--server', cluster.url, '-n', 'g', 'describe', 'vm', 'alpha']),
    shoalctl(['--server', cluster.url, '-n', 'g', 'describe', 'vm', 'nope']),
  ]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^Name:\s+alpha$/m);
  assert.match(r.stdout, /^Labels:\s+app=web$/m);
  assert.match(r.stdout, /^Spec:\n(  .*\n)*    vcpus: 2$/m);
  assert.match(r.stdout, /^Status:\s*\n  phase: Running$/m);
  assert.match(r.stdout, /^  Ready\s+True\s+Booted/m);
  assert.match(r.stdout, /^  Normal\s+Scheduled\s+\S+\s+scheduler\s+bound to node-3$/m);
  assert.doesNotMatch(r.stdout, /NotForAlpha/);
  assert.equal(missing.exitCode, 1);
  assert.match(missing.stderr, /NotFound/);
});
