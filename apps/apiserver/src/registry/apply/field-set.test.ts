/** Field sets: fieldsV1 as Kubernetes writes it, set algebra, and paths as conflicts print them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FieldSet, FieldsV1Error, keyElement, pathString, valueElement } from './field-set.js';

const LABELS_AND_VOLUME = {
  'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
  'f:spec': { 'f:volumes': { 'k:{"name":"data"}': { '.': {}, 'f:name': {}, 'f:volumeName': {} } } },
};

test('fieldsV1 reads into a set and writes back the same, "." marking nodes owned themselves', () => {
  const set = FieldSet.fromFieldsV1(LABELS_AND_VOLUME);
  assert.ok(set.has(['f:metadata', 'f:labels']), 'labels itself is owned ("." under it)');
  assert.ok(set.has(['f:metadata', 'f:labels', 'f:app']));
  assert.ok(!set.has(['f:metadata']), 'metadata only holds owned fields');
  assert.ok(set.has(['f:spec', 'f:volumes', 'k:{"name":"data"}', 'f:volumeName']));
  assert.deepEqual(set.toFieldsV1(), LABELS_AND_VOLUME);
});

test('fieldsV1 is written in one order whatever order the paths came in, so equal sets are equal bytes', () => {
  const a = FieldSet.of(['f:spec', 'f:b'], ['f:spec', 'f:a'], ['f:metadata', 'f:labels', 'f:x'], ['f:spec', 'i:10'], ['f:spec', 'i:9']);
  const b = FieldSet.of(['f:spec', 'i:9'], ['f:metadata', 'f:labels', 'f:x'], ['f:spec', 'i:10'], ['f:spec', 'f:a'], ['f:spec', 'f:b']);
  assert.equal(JSON.stringify(a.toFieldsV1()), JSON.stringify(b.toFieldsV1()));
  assert.deepEqual(Object.keys(a.toFieldsV1()['f:spec'] as object), ['f:a', 'f:b', 'i:9', 'i:10']);
  assert.ok(a.equals(b));
});

test('map list keys are canonical: key fields sorted, so the same item is the same element', () => {
  assert.equal(keyElement({ protocol: 'TCP', port: 80 }), 'k:{"port":80,"protocol":"TCP"}');
  const set = FieldSet.fromFieldsV1({ 'f:ports': { 'k:{"protocol":"TCP","port":80}': {} } });
  assert.ok(set.has(['f:ports', keyElement({ port: 80, protocol: 'TCP' })]));
  assert.equal(valueElement('shoal.dev/agent'), 'v:"shoal.dev/agent"');
});

test('union, difference, intersection and recursive difference', () => {
  const a = FieldSet.of(['f:spec', 'f:a'], ['f:spec', 'f:b'], ['f:status']);
  const b = FieldSet.of(['f:spec', 'f:b'], ['f:spec', 'f:c']);
  assert.deepEqual(
    a
      .union(b)
      .paths()
      .map((p) => pathString(p)),
    ['.spec.a', '.spec.b', '.spec.c', '.status'],
  );
  assert.deepEqual(
    a
      .difference(b)
      .paths()
      .map((p) => pathString(p)),
    ['.spec.a', '.status'],
  );
  assert.deepEqual(
    a
      .intersection(b)
      .paths()
      .map((p) => pathString(p)),
    ['.spec.b'],
  );
  assert.ok(a.difference(a).empty);
  // A union that adds nothing is the set itself (its fieldsV1 is then known); one that adds leaves both as they were.
  assert.equal(a.union(FieldSet.of(['f:spec', 'f:a'])), a);
  assert.equal(a.union(FieldSet.of(['f:status'])), a);
  const grown = a.union(FieldSet.of(['f:spec', 'f:a', 'f:deeper']));
  assert.notEqual(grown, a);
  assert.ok(grown.has(['f:spec', 'f:a', 'f:deeper']) && grown.has(['f:spec', 'f:a']));
  assert.ok(!a.has(['f:spec', 'f:a', 'f:deeper']), 'the union did not write into the set it grew from');
  const owned = FieldSet.of(['f:spec', 'f:a', 'f:deeper']).union(FieldSet.of(['f:spec', 'f:a']));
  assert.ok(owned.has(['f:spec', 'f:a']) && owned.has(['f:spec', 'f:a', 'f:deeper']), 'a member added above a path already there');
  // A member takes the paths below it along only in a recursive difference.
  const withStatus = FieldSet.of(['f:status', 'f:phase'], ['f:spec', 'f:a']);
  assert.ok(withStatus.difference(FieldSet.of(['f:status'])).has(['f:status', 'f:phase']));
  assert.deepEqual(withStatus.recursiveDifference(FieldSet.of(['f:status'])).paths(), [['f:spec', 'f:a']]);
  assert.deepEqual(withStatus.under(['f:status']).paths(), [['f:status', 'f:phase']]);
  assert.ok(withStatus.under(['f:metadata']).empty);
});

test('paths print as Kubernetes prints them in conflicts', () => {
  assert.equal(pathString(['f:spec', 'f:resources', 'f:vcpus']), '.spec.resources.vcpus');
  assert.equal(pathString(['f:spec', 'f:volumes', 'k:{"name":"data"}', 'f:volumeName']), '.spec.volumes[name="data"].volumeName');
  assert.equal(pathString(['f:metadata', 'f:finalizers', 'v:"shoal.dev/agent"']), '.metadata.finalizers[="shoal.dev/agent"]');
  assert.equal(pathString(['f:spec', 'f:command', 'i:2']), '.spec.command[2]');
  assert.equal(pathString(['f:metadata', 'f:labels', 'f:app.kubernetes.io/name']), '.metadata.labels.app.kubernetes.io/name');
});

test('malformed fieldsV1 is refused with where it went wrong', () => {
  const refused = (json: unknown) => {
    try {
      FieldSet.fromFieldsV1(json);
    } catch (err) {
      assert.ok(err instanceof FieldsV1Error);
      return `${err.where}: ${err.message}`;
    }
    assert.fail(`accepted ${JSON.stringify(json)}`);
  };
  assert.match(refused([]), /fieldsV1: must be an object/);
  assert.match(refused({ 'x:spec': {} }), /each key must be "\.", or start with f:, k:, v: or i:/);
  assert.match(refused({ 'f:spec': { 'k:[1]': {} } }), /^fieldsV1\["f:spec"\]: .*k:.*must be an object of its key fields' values/);
  assert.match(refused({ 'f:spec': { 'i:-1': {} } }), /non-negative integer/);
  assert.match(refused({ 'f:spec': { 'v:{': {} } }), /must be JSON/);
  assert.match(refused({ 'f:spec': 'yes' }), /must be an object/);
  assert.match(refused({ 'f:spec': { '.': { x: 1 } } }), /must be \{\}/);
});
