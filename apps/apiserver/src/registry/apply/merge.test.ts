/**
 * The walks over objects that server-side apply is made of, on VirtualMachines and their real
 * schema: the fields a configuration sets, what a write changes, a configuration merged into a
 * live object, fields removed. Map lists (volumes, conditions), set lists (finalizers), maps
 * (labels) and atomic lists (command) each behave as Kubernetes' do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kinds } from '@shoal/api';
import { compareObjects } from './compare.js';
import { FieldSet, pathString } from './field-set.js';
import { mergeConfiguration } from './merge.js';
import { fieldSetOf, removeFields, withNamedFieldsAsMembers } from './object-fields.js';

const schema = kinds().find('vm')!.schema;
const paths = (set: FieldSet) => set.paths().map((p) => pathString(p));

test('the fields a configuration sets: leaves, map keys, list items; objects only through what they hold', () => {
  const config = {
    metadata: { name: 'web', labels: { app: 'web' }, finalizers: ['a/b'] },
    spec: {
      resources: { vcpus: 2 },
      command: ['sh', '-c', 'true'],
      volumes: [{ name: 'data', volumeName: 'pv-1' }],
      nodeSelector: {},
    },
  };
  assert.deepEqual(paths(fieldSetOf(config, schema)), [
    '.metadata.finalizers[="a/b"]',
    '.metadata.labels.app',
    '.metadata.name',
    '.spec.command',
    '.spec.nodeSelector',
    '.spec.resources.vcpus',
    '.spec.volumes[name="data"]',
    '.spec.volumes[name="data"].name',
    '.spec.volumes[name="data"].volumeName',
  ]);
});

test('named fields become members for pruning; map keys and list items do not need to', () => {
  const set = withNamedFieldsAsMembers(FieldSet.of(['f:spec', 'f:resources', 'f:vcpus'], ['f:metadata', 'f:labels', 'f:app']), schema);
  assert.deepEqual(paths(set), ['.metadata', '.metadata.labels', '.metadata.labels.app', '.spec', '.spec.resources', '.spec.resources.vcpus']);
});

test('a comparison names what was added, modified and removed; containers that appear count themselves', () => {
  const before = { metadata: { labels: { a: '1', b: '2' } }, spec: { resources: { vcpus: 1 }, command: ['x'] } };
  const after = {
    metadata: { labels: { a: '1', b: '3', c: '4' } },
    spec: { resources: { vcpus: 1 }, command: ['y'], volumes: [{ name: 'd', volumeName: 'v' }] },
  };
  const c = compareObjects(before, after, schema);
  assert.deepEqual(paths(c.modified), ['.metadata.labels.b', '.spec.command']);
  assert.deepEqual(paths(c.added), [
    '.metadata.labels.c',
    '.spec.volumes',
    '.spec.volumes[name="d"]',
    '.spec.volumes[name="d"].name',
    '.spec.volumes[name="d"].volumeName',
  ]);
  assert.ok(c.removed.empty);
  const back = compareObjects(after, before, schema);
  assert.deepEqual(paths(back.removed), paths(c.added));
  assert.ok(compareObjects(after, structuredClone(after), schema).added.empty);
});

test('a create compares against nothing: every field is added', () => {
  const c = compareObjects(undefined, { spec: { resources: { vcpus: 1 } } }, schema);
  assert.deepEqual(paths(c.added), ['.spec', '.spec.resources', '.spec.resources.vcpus']);
});

test('merge: the configuration wins where it speaks, the live object stays elsewhere; null removes', () => {
  const live = { metadata: { labels: { a: '1', keep: 'x' } }, spec: { resources: { vcpus: 1, memoryMiB: 256 }, command: ['a', 'b'], cmdline: 'quiet' } };
  const config = { metadata: { labels: { a: '2' } }, spec: { resources: { vcpus: 4 }, command: ['c'], cmdline: null } };
  assert.deepEqual(mergeConfiguration(live, config, schema), {
    metadata: { labels: { a: '2', keep: 'x' } },
    spec: { resources: { vcpus: 4, memoryMiB: 256 }, command: ['c'] },
  });
});

test('merge: map list items merge by key; items only live stay after the one they followed', () => {
  const live = {
    spec: {
      volumes: [
        { name: 'a', volumeName: 'va' },
        { name: 'only-live', volumeName: 'vl' },
        { name: 'b', volumeName: 'vb' },
      ],
    },
    status: { conditions: [{ type: 'Ready', status: 'False', reason: 'Booting' }] },
  };
  const config = {
    spec: {
      volumes: [
        { name: 'b', volumeName: 'vb2' },
        { name: 'new', volumeName: 'vn' },
        { name: 'a', volumeName: 'va' },
      ],
    },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
  const merged = mergeConfiguration(live, config, schema) as any;
  assert.deepEqual(
    merged.spec.volumes.map((v: { name: string; volumeName: string }) => `${v.name}=${v.volumeName}`),
    ['b=vb2', 'new=vn', 'a=va', 'only-live=vl'],
  );
  assert.deepEqual(merged.status.conditions, [{ type: 'Ready', status: 'True', reason: 'Booting' }], 'an item merges field by field');
});

test('merge: set list items are unioned', () => {
  const merged = mergeConfiguration({ metadata: { finalizers: ['a', 'b'] } }, { metadata: { finalizers: ['c', 'a'] } }, schema) as any;
  assert.deepEqual(merged.metadata.finalizers, ['c', 'a', 'b']);
});

test('removing fields: a member takes what is below it, items go from their list', () => {
  const obj = {
    metadata: { labels: { a: '1', b: '2' } },
    spec: {
      resources: { vcpus: 1, memoryMiB: 256 },
      volumes: [
        { name: 'a', volumeName: 'va' },
        { name: 'b', volumeName: 'vb' },
      ],
    },
  };
  const gone = FieldSet.of(['f:metadata', 'f:labels', 'f:b'], ['f:spec', 'f:resources'], ['f:spec', 'f:volumes', 'k:{"name":"a"}']);
  assert.deepEqual(removeFields(obj, gone, schema), {
    metadata: { labels: { a: '1' } },
    spec: { volumes: [{ name: 'b', volumeName: 'vb' }] },
  });
  assert.equal(obj.spec.volumes.length, 2, 'the object removed from is not changed');
});

test('a list whose stored items cannot be told apart is handled as one value', () => {
  const twice = { spec: { volumes: [{ name: 'a' }, { name: 'a' }] } };
  assert.deepEqual(paths(fieldSetOf(twice, schema)), ['.spec.volumes']);
  assert.deepEqual(paths(compareObjects(twice, { spec: { volumes: [{ name: 'a' }] } }, schema).modified), ['.spec.volumes']);
});
