/**
 * `shoalctl get -o jsonpath=...` held to stock kubectl: the same expressions, run by both
 * against one real apiserver over a real etcd, must print the same bytes. Where kubectl's order
 * is Go's random map order (`..`, `*` over a map), the words are compared as sets.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest, PlacementPolicy, VirtualMachine } from '@shoal/api';
import { startCluster, type TestCluster } from '@shoal/testing';
import { kubectlFor, type Kubectl } from '../../test-support/kubectl.js';
import { createNamespace, removeTestHome, shoalctl } from '../../test-support/shoalctl.js';

const NS = 'jp';
let cluster: TestCluster;
let kubectl: Kubectl;
let dir: string;

const vm = (name: string, labels: Record<string, string>, vcpus: number, annotations?: Record<string, string>): Manifest<VirtualMachine> => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace: NS, labels, ...(annotations ? { annotations } : {}) },
  spec: { resources: { vcpus, memoryMiB: 512 } },
});

async function setStatus(name: string, phase: string, ready: string): Promise<void> {
  const conditions = [
    { type: 'Scheduled', status: 'True', reason: 'Bound', lastTransitionTime: '2026-01-02T03:04:05Z' },
    { type: 'Ready', status: ready, reason: ready === 'True' ? 'Booted' : 'NotBooted', lastTransitionTime: '2026-01-02T03:04:06Z' },
  ];
  await cluster.client.patch('vm', name, { status: { phase, conditions } }, { namespace: NS, type: 'merge', status: true });
}

before(async () => {
  [cluster, dir] = await Promise.all([startCluster(), mkdtemp(join(tmpdir(), 'shoalctl-jsonpath-'))]);
  kubectl = await kubectlFor(cluster.url);
  await createNamespace(cluster.client, NS);
  await createNamespace(cluster.client, 'jp-empty');
  await cluster.client.create('vm', vm('alpha', { app: 'web', 'app.kubernetes.io/name': 'shop', tier: 'front' }, 2, { note: '<b>fast</b> & "cheap"' }));
  await cluster.client.create('vm', vm('beta', { app: 'db' }, 4));
  await cluster.client.create('vm', vm('gamma', { app: 'web' }, 1));
  await setStatus('alpha', 'Running', 'True');
  await setStatus('beta', 'Pending', 'False');
  const policy: Manifest<PlacementPolicy> = {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'PlacementPolicy',
    metadata: { name: 'dense' },
    spec: { overcommit: { vcpus: 2.5, memory: 1.25 } },
  };
  await cluster.client.create('PlacementPolicy', policy);
});
after(async () => {
  await cluster?.stop();
  await kubectl?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
  await removeTestHome();
});

/** Between the expressions of one run: a text node, printed as it is by both. */
const SEPARATOR = '\n--8<--\n';

/**
 * Runs `get ARGS -o FORMAT=T1{SEPARATOR}T2...` through both binaries (one process each for many
 * expressions), checks each expression's output matches kubectl's, and answers shoalctl's.
 */
async function same(args: string[], templates: string[], opts: { unordered?: boolean; format?: string } = {}): Promise<string[]> {
  const output = `${opts.format ?? 'jsonpath'}=${templates.join(`{${JSON.stringify(SEPARATOR)}}`)}`;
  const [ours, theirs] = await Promise.all([
    shoalctl(['--server', cluster.url, '-n', NS, 'get', ...args, '-o', output]),
    kubectl.run(['-n', NS, 'get', ...args, '-o', output]),
  ]);
  assert.equal(theirs.exitCode, 0, `kubectl: ${theirs.stderr}`);
  assert.equal(ours.exitCode, 0, `shoalctl: ${ours.stderr}`);
  const [mine, kubectls] = [ours.stdout.split(SEPARATOR), theirs.stdout.split(SEPARATOR)];
  assert.equal(mine.length, templates.length);
  const words = (s: string) => s.split(/\s+/).filter(Boolean).sort();
  templates.forEach((template, i) => {
    if (opts.unordered) assert.deepEqual(words(mine[i]!), words(kubectls[i]!), template);
    else assert.equal(mine[i], kubectls[i], template);
  });
  return mine;
}

test('fields, [*], and several expressions with text between them print as kubectl prints them', async () => {
  const [names] = await same(
    ['vm'],
    [
      '{.items[*].metadata.name}',
      'kind={.kind} version={.apiVersion} rv={.metadata}',
      '{.items[*].metadata.labels.app}',
      '{.items[*].metadata.labels.tier}',
      '{.items[*].status.phase}',
      '{.items[0].missing.field}',
    ],
  );
  assert.equal(names, 'alpha beta gamma', 'the proof is not empty');
  await same(['vm', 'alpha'], ['{.metadata.name} in {.metadata.namespace}: {.spec.resources.vcpus} vCPUs']);
});

test('range ... end, nested, with quoted tabs and newlines', async () => {
  const [table] = await same(
    ['vm'],
    [
      '{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}',
      '{range .items[*]}{.metadata.name}:{range .status.conditions[*]} {.type}={.status}{end}{"\\n"}{end}',
      "{range .items[*]}[{.metadata.name}, {.spec.resources.vcpus}]{'\\n'}{end}",
      '{range .items[?(@.status.phase=="Nowhere")]}{.metadata.name}{end}done',
    ],
  );
  assert.equal(table, 'alpha\tRunning\nbeta\tPending\ngamma\tPending\n');
});

test('filters: equality, comparison of numbers, existence, and inside a path', async () => {
  const [running] = await same(
    ['vm'],
    [
      '{.items[?(@.status.phase=="Running")].metadata.name}',
      '{.items[?(@.status.phase!="Running")].metadata.name}',
      '{.items[?(@.spec.resources.vcpus>1)].metadata.name}',
      '{.items[?(@.spec.resources.vcpus<=2)].metadata.name}',
      '{.items[?(@.metadata.labels.tier)].metadata.name}',
      '{.items[*].status.conditions[?(@.type=="Ready")].status}',
      "{.items[0].status.conditions[?(@.reason=='Booted')].type}",
    ],
  );
  assert.equal(running, 'alpha');
});

test('indexes, slices, unions and keys', async () => {
  await same(
    ['vm'],
    [
      '{.items[0].metadata.name}',
      '{.items[-1].metadata.name}',
      '{.items[0:2].metadata.name}',
      '{.items[1:].metadata.name}',
      '{.items[-2:].metadata.name}',
      '{.items[::2].metadata.name}',
      '{.items[0,2].metadata.name}',
      "{.items[*]['metadata']['name']}",
      '{.items[0].metadata.labels.app\\.kubernetes\\.io/name}',
    ],
  );
});

test('maps and lists print as JSON with sorted keys and Go escapes; numbers as Go prints them', async () => {
  const [resources] = await same(
    ['vm', 'alpha'],
    ['{.spec.resources}', '{.metadata.labels}', '{.metadata.annotations}', '{.metadata.annotations.note}', '{.status.conditions}', '{.metadata}'],
  );
  assert.equal(resources, '{"memoryMiB":512,"vcpus":2}');
  await same(['vm'], ['{.items[*].spec}']);
  await same(['placementpolicy', 'dense'], ['{.spec.overcommit.vcpus} {.spec.overcommit.memory} {.spec}']);
});

test('recursive descent finds names at any depth', async () => {
  await same(['vm'], ['{..metadata.name}']);
  await same(['vm', 'alpha'], ['{..type}', '{.metadata.labels.*}'], { unordered: true });
});

test('-o jsonpath-as-json and -o jsonpath-file', async () => {
  await same(['vm'], ['{.items[*].metadata.name}{.items[0].spec.resources}'], { format: 'jsonpath-as-json' });
  const file = join(dir, 'names.tmpl');
  await writeFile(file, '{range .items[*]}{.metadata.name}{"\\n"}{end}');
  const [r] = await same(['vm'], [file], { format: 'jsonpath-file' });
  assert.equal(r, 'alpha\nbeta\ngamma\n');
});

test('an empty list prints nothing and says nothing', async () => {
  const [ours, theirs] = await Promise.all([
    shoalctl(['--server', cluster.url, '-n', 'jp-empty', 'get', 'vm', '-o', 'jsonpath={.items[*].metadata.name}']),
    kubectl.run(['-n', 'jp-empty', 'get', 'vm', '-o', 'jsonpath={.items[*].metadata.name}']),
  ]);
  assert.deepEqual(ours, theirs);
});

test('a bad expression is a usage error before any request (exit 2); one that fails on the data exits 1, printing nothing', async () => {
  const run = (...args: string[]) => shoalctl(['--server', cluster.url, '-n', NS, 'get', 'vm', ...args]);
  const [unterminated, stray, noTemplate, noFile, format, outOfBounds, notArray] = await Promise.all([
    run('-o', 'jsonpath={.items[0}'),
    run('-o', 'jsonpath={.items[*].metadata.name'),
    run('-o', 'jsonpath'),
    run('-o', `jsonpath-file=${join(dir, 'nope')}`),
    run('-o', 'xml'),
    run('-o', 'jsonpath={.items[7].metadata.name}'),
    run('alpha', '-o', 'jsonpath={.metadata.name[0]}'),
  ]);
  assert.equal(unterminated.exitCode, 2);
  assert.match(unterminated.stderr, /^error: error parsing jsonpath \{\.items\[0\}, unterminated array$/m);
  assert.equal(stray.exitCode, 2);
  assert.match(stray.stderr, /unclosed action/);
  assert.equal(noTemplate.exitCode, 2);
  assert.match(noTemplate.stderr, /template format specified but no template given/);
  assert.equal(noFile.exitCode, 2);
  assert.match(noFile.stderr, /nope, no such file/);
  assert.equal(format.exitCode, 2);
  assert.match(
    format.stderr,
    /unable to match a printer suitable for the output format "xml", allowed formats are: table,wide,yaml,json,name,jsonpath,jsonpath-file,jsonpath-as-json/,
  );
  assert.equal(outOfBounds.exitCode, 1);
  assert.equal(outOfBounds.stdout, '');
  assert.equal(outOfBounds.stderr, 'error: error executing jsonpath "{.items[7].metadata.name}": array index out of bounds: index 7, length 3\n');
  assert.equal(notArray.exitCode, 1);
  assert.match(notArray.stderr, /string is not array or slice/);
  const theirs = await kubectl.run(['-n', NS, 'get', 'vm', '-o', 'jsonpath={.items[7].metadata.name}']);
  assert.match(theirs.stderr, /array index out of bounds: index 7, length 3/, 'kubectl fails on the same data for the same reason');
});
