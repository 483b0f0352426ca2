/** What a node may change in a VM bound to it, on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_FINALIZER, EVICTION_REQUESTED_ANNOTATION, type KubeObject } from '@shoal/api';
import { nodeVmPatchRefusal } from './node-restriction.js';

const vm = (finalizers?: string[]): KubeObject => ({ metadata: { name: 'v', namespace: 'default', ...(finalizers ? { finalizers } : {}) } });

test('a node may add and remove its own finalizer and unbind after an eviction', () => {
  assert.equal(nodeVmPatchRefusal({ metadata: { resourceVersion: '7', finalizers: ['other', AGENT_FINALIZER] } }, vm(['other'])), undefined);
  assert.equal(nodeVmPatchRefusal({ metadata: { resourceVersion: '7', finalizers: ['other'] } }, vm(['other', AGENT_FINALIZER])), undefined);
  assert.equal(nodeVmPatchRefusal({ metadata: { finalizers: null } }, vm([AGENT_FINALIZER])), undefined);
  assert.equal(
    nodeVmPatchRefusal(
      { metadata: { resourceVersion: '9', annotations: { [EVICTION_REQUESTED_ANNOTATION]: null }, finalizers: null }, spec: { nodeName: null } },
      vm([AGENT_FINALIZER]),
    ),
    undefined,
  );
});

test('a node may not change anything else of a VM bound to it', () => {
  const refused: [unknown, RegExp][] = [
    [{ spec: { command: ['sh', '-c', 'evil'] } }, /not change spec.command/],
    [{ spec: { nodeName: 'elsewhere' } }, /only unbind/],
    [{ spec: { resources: { vcpus: 64 } } }, /not change spec.resources/],
    [{ metadata: { labels: { a: 'b' } } }, /not change metadata.labels/],
    [{ metadata: { annotations: { 'shoal.dev/requested-state': 'Running' } } }, /only remove the shoal.dev\/eviction-requested annotation/],
    [{ metadata: { annotations: { [EVICTION_REQUESTED_ANNOTATION]: '{}' } } }, /only remove/],
    [{ metadata: { finalizers: [] } }, /only its own finalizer shoal.dev\/agent, not other/],
    [{ metadata: { finalizers: ['sneaky'] } }, /not sneaky|not other/],
    [{ status: { phase: 'Running' } }, /not change status/],
    [[{ op: 'replace', path: '/spec/command', value: [] }], /only with a merge patch object/],
    ['nonsense', /only with a merge patch object/],
  ];
  for (const [patch, why] of refused) assert.match(nodeVmPatchRefusal(patch, vm(['other'])) ?? 'allowed', why, JSON.stringify(patch));
});
