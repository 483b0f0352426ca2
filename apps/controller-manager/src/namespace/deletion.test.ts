/** A terminating namespace's conditions and polling pace, on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kinds } from '@shoal/api';
import { ContentSummary, deletionConditions, lookAgainAfterMs } from './deletion.js';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:01:00Z';
const vmKind = kinds().find('VirtualMachine')!;
const leaseKind = kinds().find('Lease')!;
const held = (name: string, finalizers: string[]) => ({ metadata: { name, finalizers } });
const brief = (cs: ReturnType<typeof deletionConditions>) => cs.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`);

test("what remains and what holds it, in Kubernetes' words; a new reason keeps the transition time while the status holds", () => {
  const s = new ContentSummary();
  s.remains(vmKind, held('a', ['shoal.dev/agent']));
  s.remains(vmKind, held('b', ['shoal.dev/agent', 'example.com/backup']));
  s.remains(leaseKind, held('l', ['example.com/backup']));
  assert.equal(s.empty, false);
  const first = deletionConditions(undefined, s, T0);
  assert.deepEqual(brief(first), [
    'NamespaceDeletionContentFailure=False ContentDeleted: All content successfully deleted, may be waiting on finalization',
    'NamespaceContentRemaining=True SomeResourcesRemain: Some resources are remaining: leases.shoal.dev has 1 resource instances, virtualmachines.shoal.dev has 2 resource instances',
    'NamespaceFinalizersRemaining=True SomeFinalizersRemain: Some content in the namespace has finalizers remaining: example.com/backup in 2 resource instances, shoal.dev/agent in 2 resource instances',
  ]);
  assert.ok(first.every((c) => c.lastTransitionTime === T0));

  const fewer = new ContentSummary();
  fewer.remains(vmKind, held('a', ['shoal.dev/agent']));
  const next = deletionConditions(first, fewer, T1);
  assert.equal(
    next.find((c) => c.type === 'NamespaceFinalizersRemaining')!.message,
    'Some content in the namespace has finalizers remaining: shoal.dev/agent in 1 resource instances',
  );
  assert.ok(
    next.every((c) => c.lastTransitionTime === T0),
    'same statuses: the transition times stay',
  );
  assert.deepEqual(deletionConditions(next, fewer, T1), next, 'nothing new: the same list (nothing to write)');
});

test('failures are reported once per verb and kind, with the first error', () => {
  const s = new ContentSummary();
  s.failed('delete virtualmachines', new Error('virtualmachines "a" is forbidden'));
  s.failed('delete virtualmachines', new Error('virtualmachines "b" is forbidden'));
  s.failed('list leases', new Error('503'));
  assert.equal(s.empty, false);
  const failure = deletionConditions([], s, T0).find((c) => c.type === 'NamespaceDeletionContentFailure')!;
  assert.deepEqual(
    { status: failure.status, reason: failure.reason, message: failure.message },
    {
      status: 'True',
      reason: 'ContentDeletionFailed',
      message: 'Failed to delete all resource types, 2 remaining: delete virtualmachines: virtualmachines "a" is forbidden, list leases: 503',
    },
  );
  assert.equal(new ContentSummary().empty, true);
});

test('a terminating namespace is looked at every second at first, then less often, at most every 30 s', () => {
  const at = (s: number) => Date.parse(T0) + s * 1000;
  assert.equal(lookAgainAfterMs(T0, at(0)), 1_000);
  assert.equal(lookAgainAfterMs(T0, at(5)), 1_000);
  assert.equal(lookAgainAfterMs(T0, at(60)), 6_000);
  assert.equal(lookAgainAfterMs(T0, at(3600)), 30_000);
  assert.equal(lookAgainAfterMs(T0, at(-30)), 1_000, 'a clock behind the server');
  assert.equal(lookAgainAfterMs(undefined, at(0)), 1_000);
});
