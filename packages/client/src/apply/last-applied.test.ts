import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@shoal/api';
import { LAST_APPLIED_ANNOTATION, readLastApplied, withLastApplied } from './last-applied.js';
import { threeWayMergePatch, type JsonObject } from './three-way-merge.js';

test('the annotation records the manifest without any older copy of itself', () => {
  const manifest: KubeObject = { kind: 'VirtualMachine', metadata: { name: 'a', annotations: { [LAST_APPLIED_ANNOTATION]: '{"old":true}', note: 'x' } } };
  const { annotated, lastApplied } = withLastApplied(manifest);
  assert.deepEqual(lastApplied, { kind: 'VirtualMachine', metadata: { name: 'a', annotations: { note: 'x' } } });
  const meta = annotated.metadata as { annotations: Record<string, string> };
  assert.equal(meta.annotations.note, 'x');
  assert.deepEqual(JSON.parse(meta.annotations[LAST_APPLIED_ANNOTATION]!), lastApplied);
  assert.deepEqual(manifest.metadata.annotations?.[LAST_APPLIED_ANNOTATION], '{"old":true}', 'the input is not modified');
});

test('reapplying the same manifest to what the first apply created changes nothing', () => {
  const manifest: KubeObject = { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'a' }, spec: { resources: { vcpus: 2 } } };
  const { annotated } = withLastApplied(manifest);
  const live = structuredClone(annotated) as JsonObject & { metadata: JsonObject };
  live.metadata.resourceVersion = '5';
  live.metadata.uid = 'u';
  live.status = { phase: 'Pending' };
  const again = withLastApplied(manifest).annotated;
  assert.deepEqual(threeWayMergePatch(readLastApplied(live as unknown as KubeObject), again, live), {});
});

test('an unreadable annotation counts as never applied', () => {
  assert.equal(readLastApplied({ metadata: { annotations: { [LAST_APPLIED_ANNOTATION]: '{not json' } } }), undefined);
  assert.equal(readLastApplied({ metadata: {} }), undefined);
});
