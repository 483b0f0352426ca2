/**
 * Wire compatibility with stock kubectl: the installed /usr/bin/kubectl (the 1.32 dispatcher)
 * against a real apiserver over a real etcd. Nothing here is ours on the client side, so every
 * assertion is about what a user typing kubectl sees: messages, exit codes, tables, objects.
 *
 * The tests run in order against one server; the first few follow one VM (`web`, from
 * fixtures/vm-web.yaml) through its life as a user would: apply, get, re-apply, change. Later
 * tests each use VMs of their own.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type Result } from 'execa';
import { parse as parseYaml } from 'yaml';
import { startCluster, waitFor, type ApiserverProcess, type TestCluster } from '@shoal/testing';

const KUBECTL = '/usr/bin/kubectl';
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const SCHEMAS = fileURLToPath(new URL('../schemas/', import.meta.url));

let cluster: TestCluster;
let server: ApiserverProcess;
let home: string;

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'shoal-kubectl-'));
  // An empty kubeconfig: the developer's own config (and its current context) must not leak in.
  await writeFile(join(home, 'kubeconfig'), '');
  cluster = await startCluster();
  server = cluster.apiserver;
});

after(async () => {
  await cluster?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

function kubectlArgs(args: string[]): string[] {
  // Discovery is cached per test run so an earlier server on the same port cannot answer for this one.
  return ['--server', server.url, '--cache-dir', join(home, 'cache'), ...args];
}

const kubectlEnv = () => ({ KUBECONFIG: join(home, 'kubeconfig'), HOME: home });

/** Runs kubectl to completion; never throws on a non-zero exit (tests assert on it). */
async function kubectl(args: string[], input?: string): Promise<Result> {
  const stdin = input !== undefined ? { input } : { stdin: 'ignore' as const };
  return execa(KUBECTL, kubectlArgs(args), { env: kubectlEnv(), reject: false, timeout: 60_000, ...stdin });
}

/** Runs kubectl and fails the test, with its output, unless it exits 0. */
async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  assert.equal(r.exitCode, 0, `kubectl ${args.join(' ')} exited ${r.exitCode}:\n${r.stdout}\n${r.stderr}`);
  return String(r.stdout);
}

/** kubectl started in the background (get -w, delete that waits), with its output so far. */
function background(args: string[]) {
  const proc = execa(KUBECTL, kubectlArgs(args), { env: kubectlEnv(), reject: false, buffer: false, stdin: 'ignore' });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  let exitCode: number | undefined;
  const done = proc.then((r) => {
    exitCode = r.exitCode ?? -1;
    return r;
  });
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    exitCode: () => exitCode,
    done,
    async stop() {
      proc.kill('SIGTERM');
      await done;
    },
  };
}

function vmManifest(
  name: string,
  o: { namespace?: string; labels?: Record<string, string>; finalizers?: string[]; vcpus?: number; extraSpec?: string } = {},
): string {
  const lines = ['apiVersion: shoal.dev/v1alpha1', 'kind: VirtualMachine', 'metadata:', `  name: ${name}`];
  if (o.namespace) lines.push(`  namespace: ${o.namespace}`);
  if (o.labels) lines.push('  labels:', ...Object.entries(o.labels).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`));
  if (o.finalizers) lines.push(`  finalizers: [${o.finalizers.map((f) => JSON.stringify(f)).join(', ')}]`);
  lines.push('spec:', '  resources:', `    vcpus: ${o.vcpus ?? 1}`, '    memoryMiB: 256');
  if (o.extraSpec) lines.push(o.extraSpec);
  return `${lines.join('\n')}\n`;
}

/** kubectl's aligned table output as rows of header → cell (cells sliced at the header's column starts). */
function parseTable(text: string): { header: string[]; rows: Record<string, string>[] } {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.length > 0, 'expected a table, got no output');
  const headerLine = lines[0]!;
  const starts: number[] = [];
  for (let i = 0; i < headerLine.length; i++) if (headerLine[i] !== ' ' && (i === 0 || headerLine[i - 1] === ' ')) starts.push(i);
  const header = starts.map((s, i) => headerLine.slice(s, starts[i + 1]).trim());
  const rows = lines.slice(1).map((line) => Object.fromEntries(header.map((h, i) => [h, line.slice(starts[i], starts[i + 1]).trim()])));
  return { header, rows };
}

async function getVmJson(name: string, namespace = 'default'): Promise<any> {
  return JSON.parse(await ok(['-n', namespace, 'get', 'vm', name, '-o', 'json']));
}

async function assertVmAbsent(name: string, namespace = 'default'): Promise<void> {
  const r = await kubectl(['-n', namespace, 'get', 'vm', name]);
  assert.notEqual(r.exitCode, 0, `expected ${namespace}/${name} to be gone, but kubectl get printed:\n${r.stdout}`);
  assert.match(String(r.stderr), new RegExp(`NotFound.*"${name}" not found`));
}

test('apply -f creates a VirtualMachine and says "created"', async () => {
  const out = await ok(['apply', '-f', join(FIXTURES, 'vm-web.yaml')]);
  assert.equal(out.trim(), 'virtualmachine.shoal.dev/web created');
});

test('get vm prints a table with NAME PHASE NODE VCPUS MEMORY AGE and the VM row', async () => {
  const table = parseTable(await ok(['get', 'vm']));
  assert.deepEqual(table.header, ['NAME', 'PHASE', 'NODE', 'VCPUS', 'MEMORY', 'AGE']);
  const row = table.rows.find((r) => r.NAME === 'web');
  assert.ok(row, `no row for web in ${JSON.stringify(table.rows)}`);
  assert.equal(row.VCPUS, '2');
  assert.equal(row.MEMORY, '512Mi');
  assert.equal(row.NODE, '', 'an unscheduled VM has no node');
  assert.match(row.AGE!, /^\d+(s|m\d*s?|h|d)/, 'AGE is a human duration like 5s');

  // The short name, the plural and -o name all resolve through discovery.
  assert.equal((await ok(['get', 'virtualmachines', 'web', '-o', 'name'])).trim(), 'virtualmachine.shoal.dev/web');
  assert.equal((await ok(['get', 'vms', 'web', '--no-headers'])).trim().split(/\s+/)[0], 'web');
});

test('get vm NAME -o yaml shows the object with server defaults filled in', async () => {
  const vm = parseYaml(await ok(['get', 'vm', 'web', '-o', 'yaml']));
  assert.equal(vm.apiVersion, 'shoal.dev/v1alpha1');
  assert.equal(vm.kind, 'VirtualMachine');
  assert.equal(vm.metadata.name, 'web');
  assert.equal(vm.metadata.namespace, 'default');
  assert.equal(vm.metadata.generation, 1);
  assert.match(vm.metadata.uid, /^[0-9a-f-]{36}$/);
  assert.match(vm.metadata.resourceVersion, /^\d+$/);
  assert.ok(!Number.isNaN(Date.parse(vm.metadata.creationTimestamp)));
  assert.ok(vm.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], 'client-side apply records what was applied');
  // What the user wrote...
  assert.deepEqual(vm.spec.resources, { vcpus: 2, memoryMiB: 512 });
  // ...and what the server defaulted.
  assert.equal(vm.spec.runStrategy, 'Always');
  assert.equal(vm.spec.image, 'default');
});

test('a second apply of the same manifest says "unchanged" and writes nothing', async () => {
  const before = await getVmJson('web');
  const out = await ok(['apply', '-f', join(FIXTURES, 'vm-web.yaml')]);
  assert.equal(out.trim(), 'virtualmachine.shoal.dev/web unchanged');
  const after = await getVmJson('web');
  assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
  assert.equal(after.metadata.generation, before.metadata.generation);
});

test('apply with a changed field says "configured" and bumps generation to 2', async () => {
  const manifest = (await readFile(join(FIXTURES, 'vm-web.yaml'), 'utf8')).replace('vcpus: 2', 'vcpus: 4');
  const out = await ok(['apply', '-f', '-'], manifest);
  assert.equal(out.trim(), 'virtualmachine.shoal.dev/web configured');
  const vm = await getVmJson('web');
  assert.equal(vm.spec.resources.vcpus, 4);
  assert.equal(vm.spec.resources.memoryMiB, 512);
  assert.equal(vm.metadata.generation, 2);
  const row = parseTable(await ok(['get', 'vm', 'web'])).rows[0]!;
  assert.equal(row.VCPUS, '4');
});

test('apply of a manifest with an unknown field fails with "unknown field" and creates nothing', async () => {
  const manifest = vmManifest('typo', { extraSpec: '  runStratgy: Halted' });
  const r = await kubectl(['apply', '-f', '-'], manifest);
  assert.notEqual(r.exitCode, 0, `apply should fail:\n${r.stdout}`);
  assert.match(String(r.stderr), /unknown field/);
  assert.match(String(r.stderr), /spec\.runStratgy/, 'the message names the offending field');
  await assertVmAbsent('typo');

  // Also nested, as when a user indents a field one level too deep.
  const nested = await kubectl(['apply', '-f', '-'], vmManifest('typo2').replace('memoryMiB: 256', 'memoryMiB: 256\n    disk: 10'));
  assert.notEqual(nested.exitCode, 0);
  assert.match(String(nested.stderr), /unknown field "spec\.resources\.disk"/);
  await assertVmAbsent('typo2');
});

test('apply of an invalid value (vcpus: 0) fails naming spec.resources.vcpus and creates nothing', async () => {
  const r = await kubectl(['apply', '-f', '-'], vmManifest('zero-cpu', { vcpus: 0 }));
  assert.notEqual(r.exitCode, 0, `apply should fail:\n${r.stdout}`);
  assert.match(String(r.stderr), /spec\.resources\.vcpus/);
  assert.match(String(r.stderr), /is invalid/);
  await assertVmAbsent('zero-cpu');

  // An invalid change to an existing VM is refused too, and the VM keeps its old spec.
  const before = await getVmJson('web');
  const bad = await kubectl(['apply', '-f', '-'], (await readFile(join(FIXTURES, 'vm-web.yaml'), 'utf8')).replace('vcpus: 2', 'vcpus: 0'));
  assert.notEqual(bad.exitCode, 0);
  assert.match(String(bad.stderr), /spec\.resources\.vcpus/);
  const after = await getVmJson('web');
  assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
  assert.equal(after.spec.resources.vcpus, before.spec.resources.vcpus);
});

test('diff and apply --dry-run=server show a change without making it', async () => {
  const before = await getVmJson('web');
  const changed = (await readFile(join(FIXTURES, 'vm-web.yaml'), 'utf8')).replace('memoryMiB: 512', 'memoryMiB: 2048');
  const diff = await kubectl(['diff', '-f', '-'], changed);
  assert.equal(diff.exitCode, 1, `kubectl diff exits 1 when there are differences:\n${diff.stderr}`);
  assert.match(String(diff.stdout), /^-\s+memoryMiB: 512$/m);
  assert.match(String(diff.stdout), /^\+\s+memoryMiB: 2048$/m);
  const dry = await ok(['apply', '-f', '-', '--dry-run=server'], changed);
  assert.equal(dry.trim(), 'virtualmachine.shoal.dev/web configured (server dry run)');
  const after = await getVmJson('web');
  assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, 'a dry run stores nothing');
  assert.equal(after.spec.resources.memoryMiB, 512);

  const same = await kubectl(['diff', '-f', '-'], await readFile(join(FIXTURES, 'vm-web.yaml'), 'utf8').then((m) => m.replace('vcpus: 2', 'vcpus: 4')));
  assert.equal(same.exitCode, 0, `no differences, exit 0:\n${same.stdout}${same.stderr}`);
  assert.equal(String(same.stdout), '');
});

test('apply --server-side: creates, updates, conflicts with another field manager, --force-conflicts wins; --show-managed-fields shows the managers', async () => {
  const applied = await ok(['apply', '--server-side', '-f', '-'], vmManifest('ssa-web', { vcpus: 1, labels: { app: 'ssa' } }));
  assert.equal(applied.trim(), 'virtualmachine.shoal.dev/ssa-web serverside-applied');
  let vm = await getVmJson('ssa-web');
  assert.equal(vm.spec.resources.vcpus, 1);
  assert.equal(vm.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], undefined, 'server-side apply keeps no annotation');

  assert.equal(
    (await ok(['apply', '--server-side', '-f', '-'], vmManifest('ssa-web', { vcpus: 2 }))).trim(),
    'virtualmachine.shoal.dev/ssa-web serverside-applied',
  );
  vm = await getVmJson('ssa-web');
  assert.equal(vm.spec.resources.vcpus, 2);
  assert.equal(vm.metadata.generation, 2);
  assert.equal(vm.metadata.labels, undefined, 'the label kubectl no longer applies is pruned');

  // Another manager may not change what kubectl owns...
  const conflict = await kubectl(['apply', '--server-side', '--field-manager=other', '-f', '-'], vmManifest('ssa-web', { vcpus: 3 }));
  assert.notEqual(conflict.exitCode, 0, `the conflicting apply should fail:\n${conflict.stdout}`);
  assert.match(String(conflict.stderr), /Apply failed with 1 conflict: conflict with "kubectl": \.spec\.resources\.vcpus/);
  assert.match(String(conflict.stderr), /--force-conflicts/, "kubectl's own advice follows");
  assert.equal((await getVmJson('ssa-web')).spec.resources.vcpus, 2);
  // ...unless it forces: then it owns the field.
  const forced = await ok(['apply', '--server-side', '--field-manager=other', '--force-conflicts', '-f', '-'], vmManifest('ssa-web', { vcpus: 3 }));
  assert.equal(forced.trim(), 'virtualmachine.shoal.dev/ssa-web serverside-applied');

  const shown = parseYaml(await ok(['get', 'vm', 'ssa-web', '-o', 'yaml', '--show-managed-fields']));
  assert.equal(shown.spec.resources.vcpus, 3);
  const managers = shown.metadata.managedFields.map((e: { manager: string; operation: string }) => `${e.manager} ${e.operation}`).sort();
  assert.deepEqual(managers, ['kubectl Apply', 'other Apply']);
  const other = shown.metadata.managedFields.find((e: { manager: string }) => e.manager === 'other');
  assert.deepEqual(other.fieldsV1, { 'f:spec': { 'f:resources': { 'f:memoryMiB': {}, 'f:vcpus': {} } } });
  const mine = shown.metadata.managedFields.find((e: { manager: string }) => e.manager === 'kubectl');
  assert.deepEqual(mine.fieldsV1, { 'f:spec': { 'f:resources': { 'f:memoryMiB': {} } } }, 'memoryMiB has the same value in both: shared');
  assert.equal(parseYaml(await ok(['get', 'vm', 'ssa-web', '-o', 'yaml'])).metadata.managedFields, undefined, 'kubectl hides them unless asked');

  const dry = await ok(['apply', '--server-side', '--dry-run=server', '-f', '-'], vmManifest('ssa-web', { vcpus: 3, labels: { dry: 'run' } }));
  assert.equal(dry.trim(), 'virtualmachine.shoal.dev/ssa-web serverside-applied (server dry run)');
  assert.equal((await getVmJson('ssa-web')).metadata.labels, undefined, 'a dry run stores nothing');
});

test('edit with $KUBE_EDITOR changes the VM', async () => {
  await ok(['apply', '-f', '-'], vmManifest('edited'));
  const r = await execa(KUBECTL, kubectlArgs(['edit', 'vm', 'edited']), {
    env: { ...kubectlEnv(), KUBE_EDITOR: "sed -i 's/memoryMiB: 256/memoryMiB: 1024/'" },
    reject: false,
    stdin: 'ignore',
    timeout: 60_000,
  });
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.equal(String(r.stdout).trim(), 'virtualmachine.shoal.dev/edited edited');
  const vm = await getVmJson('edited');
  assert.equal(vm.spec.resources.memoryMiB, 1024);
  assert.equal(vm.metadata.generation, 2);
});

test('get vms -A lists VMs of every namespace with a NAMESPACE column', async () => {
  await ok(['apply', '-f', '-'], 'apiVersion: shoal.dev/v1alpha1\nkind: Namespace\nmetadata:\n  name: across\n');
  await ok(['apply', '-f', '-'], vmManifest('elsewhere', { namespace: 'across' }));
  const table = parseTable(await ok(['get', 'vms', '-A']));
  assert.deepEqual(table.header, ['NAMESPACE', 'NAME', 'PHASE', 'NODE', 'VCPUS', 'MEMORY', 'AGE']);
  const pairs = table.rows.map((r) => `${r.NAMESPACE}/${r.NAME}`);
  assert.ok(pairs.includes('default/web'), pairs.join(' '));
  assert.ok(pairs.includes('across/elsewhere'), pairs.join(' '));
  // Without -A only the current namespace shows.
  const names = parseTable(await ok(['get', 'vms'])).rows.map((r) => r.NAME);
  assert.ok(!names.includes('elsewhere'), names.join(' '));
  const only = parseTable(await ok(['-n', 'across', 'get', 'vms'])).rows.map((r) => r.NAME);
  assert.deepEqual(only, ['elsewhere']);
});

test('get vm -l selects by label', async () => {
  await ok(
    ['apply', '-f', '-'],
    vmManifest('sel-x1', { labels: { app: 'x' } }) +
      '---\n' +
      vmManifest('sel-x2', { labels: { app: 'x', tier: 'db' } }) +
      '---\n' +
      vmManifest('sel-y', { labels: { app: 'y' } }),
  );
  const names = (args: string[]) =>
    ok(['get', 'vm', ...args]).then((out) =>
      parseTable(out)
        .rows.map((r) => r.NAME)
        .sort(),
    );
  assert.deepEqual(await names(['-l', 'app=x']), ['sel-x1', 'sel-x2']);
  assert.deepEqual(await names(['-l', 'app=x,tier=db']), ['sel-x2']);
  assert.deepEqual(await names(['-l', 'app in (x,y),tier!=db']), ['sel-x1', 'sel-y']);
  const none = await kubectl(['get', 'vm', '-l', 'app=nothing-has-this']);
  assert.equal(none.exitCode, 0);
  assert.equal(String(none.stdout), '');
  assert.match(String(none.stderr), /No resources found in default namespace/);
});

test('label adds, overwrites and removes labels', async () => {
  await ok(['apply', '-f', '-'], vmManifest('labelled', { labels: { app: 'l' } }));
  assert.equal((await ok(['label', 'vm', 'labelled', 'tier=front'])).trim(), 'virtualmachine.shoal.dev/labelled labeled');
  assert.deepEqual((await getVmJson('labelled')).metadata.labels, { app: 'l', tier: 'front' });
  const shown = parseTable(await ok(['get', 'vm', 'labelled', '--show-labels'])).rows[0]!;
  assert.equal(shown.LABELS, 'app=l,tier=front');

  // Changing a value needs --overwrite, as in Kubernetes.
  const clash = await kubectl(['label', 'vm', 'labelled', 'tier=back']);
  assert.notEqual(clash.exitCode, 0);
  assert.match(String(clash.stderr), /already has a value \(front\)/);
  await ok(['label', 'vm', 'labelled', 'tier=back', '--overwrite']);
  assert.equal((await getVmJson('labelled')).metadata.labels.tier, 'back');

  await ok(['label', 'vm', 'labelled', 'tier-']);
  assert.deepEqual((await getVmJson('labelled')).metadata.labels, { app: 'l' });
  assert.deepEqual(
    parseTable(await ok(['get', 'vm', '-l', 'tier'])).rows.filter((r) => r.NAME === 'labelled'),
    [],
  );
});

test('get -w streams additions, changes and deletions made by other kubectl commands', async () => {
  const watch = background(['get', 'vm', '-w', '--output-watch-events', '-l', 'suite=watch']);
  try {
    // The initial list is empty (nothing matches yet); everything after comes from the watch.
    await ok(['apply', '-f', '-'], vmManifest('watched', { labels: { suite: 'watch' } }));
    const tokens = () =>
      watch
        .stdout()
        .split('\n')
        .map((l) => l.trim().split(/\s+/));
    const seen = (what: string, probe: (t: string[]) => boolean) =>
      waitFor(() => tokens().some(probe), { timeoutMs: 15_000, message: what }).catch((err: Error) => {
        throw new Error(`${err.message}; the watch printed:\n${watch.stdout()}${watch.stderr()}`);
      });
    await seen('ADDED watched', (t) => t[0] === 'ADDED' && t[1] === 'watched' && t.includes('1') && t.includes('256Mi'));

    await ok(['patch', 'vm', 'watched', '--type=merge', '-p', '{"spec":{"resources":{"vcpus":6}}}']);
    await seen('MODIFIED watched with 6 vCPUs', (t) => t[0] === 'MODIFIED' && t[1] === 'watched' && t.includes('6'));

    // A VM that does not match the selector never shows up: its changes come before the
    // deletion below, and events arrive in order, so by then they would have been printed.
    await ok(['apply', '-f', '-'], vmManifest('unwatched', { labels: { suite: 'other' } }));
    await ok(['label', 'vm', 'unwatched', 'touched=yes']);

    await ok(['delete', 'vm', 'watched']);
    await seen('DELETED watched', (t) => t[0] === 'DELETED' && t[1] === 'watched');
    assert.ok(!watch.stdout().includes('unwatched'), watch.stdout());
    assert.equal(watch.exitCode(), undefined, `the watch ended early:\n${watch.stderr()}`);
    const header = tokens()[0]!;
    assert.deepEqual(header, ['EVENT', 'NAME', 'PHASE', 'NODE', 'VCPUS', 'MEMORY', 'AGE']);
  } finally {
    await watch.stop();
  }
});

test('delete vm NAME returns and the VM is gone', async () => {
  await ok(['apply', '-f', '-'], vmManifest('doomed'));
  const out = await ok(['delete', 'vm', 'doomed']);
  assert.equal(out.trim(), 'virtualmachine.shoal.dev "doomed" deleted');
  await assertVmAbsent('doomed');
  const again = await kubectl(['delete', 'vm', 'doomed']);
  assert.notEqual(again.exitCode, 0);
  assert.match(String(again.stderr), /NotFound.*"doomed" not found/);
  assert.equal((await kubectl(['delete', 'vm', 'doomed', '--ignore-not-found'])).exitCode, 0);
});

test('delete --wait=false of a VM with a finalizer leaves it terminating until the finalizer is removed', async () => {
  await ok(['apply', '-f', '-'], vmManifest('held', { finalizers: ['shoal.dev/e2e-hold'] }));
  const out = await ok(['delete', 'vm', 'held', '--wait=false']);
  assert.equal(out.trim(), 'virtualmachine.shoal.dev "held" deleted');

  const vm = await getVmJson('held');
  assert.ok(vm.metadata.deletionTimestamp, 'the VM is marked for deletion');
  assert.deepEqual(vm.metadata.finalizers, ['shoal.dev/e2e-hold']);
  assert.ok(
    parseTable(await ok(['get', 'vm'])).rows.some((r) => r.NAME === 'held'),
    'a terminating VM is still listed',
  );

  const patched = await ok(['patch', 'vm', 'held', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  assert.match(patched, /virtualmachine\.shoal\.dev\/held patched/);
  await waitFor(async () => (await kubectl(['get', 'vm', 'held'])).exitCode !== 0, { timeoutMs: 10_000, message: 'held to disappear' });
  await assertVmAbsent('held');
});

test('a waiting kubectl delete completes when another command removes the finalizer', async () => {
  await ok(['apply', '-f', '-'], vmManifest('held2', { finalizers: ['shoal.dev/e2e-hold'] }));
  const del = background(['delete', 'vm', 'held2', '--timeout=60s']);
  try {
    await waitFor(async () => (await getVmJson('held2')).metadata.deletionTimestamp, { timeoutMs: 15_000, message: 'held2 to be marked for deletion' });
    await waitFor(() => del.stdout().includes('"held2" deleted'), { timeoutMs: 15_000, message: 'kubectl delete to report the request' });
    // The finalizer holds the VM, so kubectl keeps waiting (it would only give up at --timeout).
    assert.equal(del.exitCode(), undefined, `kubectl delete returned while the finalizer was still there:\n${del.stdout()}${del.stderr()}`);

    await ok(['patch', 'vm', 'held2', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await waitFor(() => del.exitCode() !== undefined, { timeoutMs: 20_000, message: 'the waiting kubectl delete to return' });
    assert.equal(del.exitCode(), 0, `kubectl delete failed:\n${del.stderr()}`);
    await assertVmAbsent('held2');
  } finally {
    await del.stop();
  }
});

test('explain vm.spec.resources prints the fields and their descriptions from the schema', async () => {
  const schema = JSON.parse(await readFile(join(SCHEMAS, 'virtualmachine.json'), 'utf8'));
  const flat = (s: string) => s.replace(/\s+/g, ' ');

  const out = await ok(['explain', 'vm.spec.resources']);
  assert.match(out, /KIND:\s+VirtualMachine/);
  assert.match(out, /VERSION:\s+v1alpha1/);
  assert.match(out, /FIELD: resources <Object>/);
  const resources = schema.properties.spec.properties.resources.properties as Record<string, { type: string; description?: string }>;
  for (const [field, def] of Object.entries(resources)) {
    assert.match(out, new RegExp(`^\\s+${field}\\s+<${def.type}>`, 'm'), `explain lists ${field}`);
    if (def.description) assert.ok(flat(out).includes(flat(def.description)), `explain shows the description of ${field}`);
  }

  // One level up, the descriptions users rely on are printed as written in schemas/.
  const spec = await ok(['explain', 'vm.spec']);
  const specProps = schema.properties.spec.properties as Record<string, { description?: string }>;
  const described = Object.entries(specProps).filter(([, d]) => d.description);
  assert.ok(described.length > 0);
  for (const [field, def] of described) {
    assert.match(spec, new RegExp(`^\\s+${field}\\s+<`, 'm'), `explain vm.spec lists ${field}`);
    assert.ok(flat(spec).includes(flat(def.description!)), `explain vm.spec shows the description of ${field}`);
  }
  assert.ok(flat(await ok(['explain', 'vm'])).includes(flat(schema.description)));
});

test('api-resources --api-group=shoal.dev lists virtualmachines with short name vm', async () => {
  const table = parseTable(await ok(['api-resources', '--api-group=shoal.dev']));
  assert.deepEqual(table.header, ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND']);
  const vm = table.rows.find((r) => r.NAME === 'virtualmachines');
  assert.ok(vm, JSON.stringify(table.rows));
  assert.ok(vm.SHORTNAMES!.split(',').includes('vm'), vm.SHORTNAMES);
  assert.equal(vm.APIVERSION, 'shoal.dev/v1alpha1');
  assert.equal(vm.NAMESPACED, 'true');
  assert.equal(vm.KIND, 'VirtualMachine');
  const nodes = table.rows.find((r) => r.NAME === 'nodes');
  assert.equal(nodes?.NAMESPACED, 'false');
});

test('get nodes works for a cluster-scoped kind, including its status subresource', async () => {
  assert.equal((await ok(['apply', '-f', join(FIXTURES, 'node-host-1.yaml')])).trim(), 'node.shoal.dev/host-1 created');
  let table = parseTable(await ok(['get', 'nodes']));
  assert.deepEqual(table.header, ['NAME', 'STATUS', 'VCPUS', 'MEMORY', 'AGE']);
  let row = table.rows.find((r) => r.NAME === 'host-1');
  assert.ok(row, JSON.stringify(table.rows));
  assert.equal(row.STATUS, 'Unknown', 'a node that never reported is Unknown');

  // What an agent does when it reports in, done with kubectl's --subresource=status.
  const status = { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'AgentReady' }], allocatable: { vcpus: 8, memoryMiB: 16384 } } };
  await ok(['patch', 'node', 'host-1', '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
  table = parseTable(await ok(['get', 'no']));
  row = table.rows.find((r) => r.NAME === 'host-1')!;
  assert.equal(row.STATUS, 'Ready');
  assert.equal(row.VCPUS, '8');
  assert.equal(row.MEMORY, '16384Mi');
  // -n is meaningless for a cluster-scoped kind and does not hide it.
  assert.ok(parseTable(await ok(['-n', 'across', 'get', 'nodes'])).rows.some((r) => r.NAME === 'host-1'));
  assert.equal((await ok(['get', 'node', 'host-1', '-o', 'jsonpath={.metadata.labels.topology\\.shoal\\.dev/zone}'])).trim(), 'zone-a');
});

test('namespaces: get ns lists them, a VM can be created in a new one, and a missing namespace is NotFound', async () => {
  const initial = parseTable(await ok(['get', 'ns']));
  assert.deepEqual(initial.header, ['NAME', 'STATUS', 'AGE']);
  assert.equal(initial.rows.find((r) => r.NAME === 'default')?.STATUS, 'Active');

  const created = await ok(['create', '-f', '-'], 'apiVersion: shoal.dev/v1alpha1\nkind: Namespace\nmetadata:\n  name: team-a\n');
  assert.equal(created.trim(), 'namespace.shoal.dev/team-a created');
  assert.equal(parseTable(await ok(['get', 'namespaces'])).rows.find((r) => r.NAME === 'team-a')?.STATUS, 'Active');
  assert.equal((await ok(['-n', 'team-a', 'apply', '-f', '-'], vmManifest('tenant-vm'))).trim(), 'virtualmachine.shoal.dev/tenant-vm created');
  assert.equal((await getVmJson('tenant-vm', 'team-a')).metadata.namespace, 'team-a');

  const missing = await kubectl(['-n', 'no-such-ns', 'apply', '-f', '-'], vmManifest('lost'));
  assert.notEqual(missing.exitCode, 0);
  assert.match(String(missing.stderr), /NotFound/);
  assert.match(String(missing.stderr), /namespaces "no-such-ns" not found/);
  const viaCreate = await kubectl(['create', '-f', '-'], vmManifest('lost', { namespace: 'no-such-ns' }));
  assert.notEqual(viaCreate.exitCode, 0);
  assert.match(String(viaCreate.stderr), /NotFound.*namespaces "no-such-ns" not found/);
  assert.equal((await ok(['get', 'vms', '-A', '--field-selector', 'metadata.name=lost'], undefined)).trim(), '');
});

test('get pc prints PriorityClasses with VALUE, PREEMPTIONPOLICY and GLOBALDEFAULT; a VM applied after gets its priority', async () => {
  const manifest = (name: string, value: number, extra = '') =>
    `apiVersion: shoal.dev/v1alpha1\nkind: PriorityClass\nmetadata:\n  name: ${name}\nspec:\n  value: ${value}\n${extra}`;
  assert.equal((await ok(['apply', '-f', '-'], manifest('critical', 1000, '  preemptionPolicy: Never\n'))).trim(), 'priorityclass.shoal.dev/critical created');
  await ok(['apply', '-f', '-'], manifest('everyday', 100, '  globalDefault: true\n'));
  const table = parseTable(await ok(['get', 'pc']));
  assert.deepEqual(table.header, ['NAME', 'VALUE', 'PREEMPTIONPOLICY', 'GLOBALDEFAULT', 'AGE']);
  const rows = Object.fromEntries(table.rows.map((r) => [r.NAME, r]));
  assert.deepEqual([rows.critical?.VALUE, rows.critical?.PREEMPTIONPOLICY, rows.critical?.GLOBALDEFAULT], ['1000', 'Never', 'false']);
  assert.deepEqual([rows.everyday?.VALUE, rows.everyday?.PREEMPTIONPOLICY, rows.everyday?.GLOBALDEFAULT], ['100', 'PreemptLowerPriority', 'true']);

  // A second default is refused with the field named, as apply shows it.
  const second = await kubectl(['apply', '-f', '-'], manifest('another', 5, '  globalDefault: true\n'));
  assert.notEqual(second.exitCode, 0);
  assert.match(String(second.stderr), /spec\.globalDefault/);

  await ok(['apply', '-f', '-'], vmManifest('prioritised', { extraSpec: '  priorityClassName: critical' }) + '---\n' + vmManifest('defaulted'));
  assert.equal((await getVmJson('prioritised')).spec.priority, 1000);
  const defaulted = await getVmJson('defaulted');
  assert.deepEqual([defaulted.spec.priorityClassName, defaulted.spec.priority], ['everyday', 100]);
  // Re-applying the manifests, which never mention priority, changes nothing.
  const again = await ok(['apply', '-f', '-'], vmManifest('prioritised', { extraSpec: '  priorityClassName: critical' }) + '---\n' + vmManifest('defaulted'));
  assert.match(again, /virtualmachine\.shoal\.dev\/defaulted unchanged/);
  const unknown = await kubectl(['apply', '-f', '-'], vmManifest('unclassed', { extraSpec: '  priorityClassName: nope' }));
  assert.notEqual(unknown.exitCode, 0);
  assert.match(String(unknown.stderr), /spec\.priorityClassName/);
  assert.match(String(unknown.stderr), /no PriorityClass named nope/);
  await ok(['delete', 'pc', 'everyday']);
});

test('explain placementpolicy.spec and get pp show the schema descriptions and the policy columns', async () => {
  const schema = JSON.parse(await readFile(join(SCHEMAS, 'placementpolicy.json'), 'utf8'));
  const flat = (s: string) => s.replace(/\s+/g, ' ');
  const out = await ok(['explain', 'placementpolicy.spec']);
  assert.match(out, /KIND:\s+PlacementPolicy/);
  for (const [field, def] of Object.entries(schema.properties.spec.properties as Record<string, { description: string }>)) {
    assert.match(out, new RegExp(`^\\s+${field}\\s+<`, 'm'), `explain lists ${field}`);
    assert.ok(flat(out).includes(flat(def.description)), `explain shows the description of ${field}`);
  }
  // How a node picks its policy is part of the kind's own description.
  assert.match(flat(await ok(['explain', 'pp'])), /most nodeSelector keys, ties broken by name/);

  await ok(['apply', '-f', '-'], 'apiVersion: shoal.dev/v1alpha1\nkind: PlacementPolicy\nmetadata:\n  name: packed\nspec:\n  overcommit:\n    vcpus: 4\n');
  const lines = (await ok(['get', 'pp'])).trim().split('\n');
  assert.match(lines[0]!, /^NAME\s+SCORING\s+VCPU OVERCOMMIT\s+MEMORY OVERCOMMIT\s+AGE$/);
  assert.match(
    lines.find((l) => l.startsWith('packed '))!,
    /^packed\s+BinPack\s+4\s+1\s+\S+$/,
  );
});
