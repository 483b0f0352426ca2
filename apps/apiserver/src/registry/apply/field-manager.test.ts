/**
 * Ownership of fields on plain objects, without a store: what updates record, how applies merge,
 * prune and conflict, and what clients may send as managedFields. The same rules through the real
 * apiserver and etcd are in routes/server-side-apply.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, kinds, type KubeObject, type ManagedFieldsEntry } from '@shoal/api';
import { applyConfiguration, BEFORE_FIRST_APPLY, recordUpdate, type ApplyRequest } from './field-manager.js';
import { FieldSet, pathString } from './field-set.js';
import { capUpdateManagers, decodeManagedFields, keepTimesOfUnchangedWrite, managerId, MAX_UPDATE_MANAGERS, type Managers } from './managed-fields.js';
import { fieldManagerOf, forceOf, managerFromUserAgent } from './manager-options.js';

const vmKind = kinds().find('vm')!;
const T0 = new Date('2026-01-02T03:04:05.678Z');
const T1 = new Date('2026-01-02T03:05:00Z');

function vm(spec: object = {}, extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'web', namespace: 'default', uid: 'u-1', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z', resourceVersion: '7' },
    spec: { resources: { vcpus: 1, memoryMiB: 256 }, runStrategy: 'Always', ...spec },
    ...extra,
  } as KubeObject;
}

/** An apply configuration: what a user writes. */
function config(spec: object, metadata: object = {}): KubeObject {
  return { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web', namespace: 'default', ...metadata }, spec } as KubeObject;
}

/** Each manager's owned paths, as `manager/operation[/subresource]: .a.b, ...`. */
function owners(obj: KubeObject): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of obj.metadata.managedFields ?? []) {
    const who = [e.manager, e.operation, e.subresource].filter(Boolean).join('/');
    out[who] = FieldSet.fromFieldsV1(e.fieldsV1)
      .paths()
      .map((p) => pathString(p));
  }
  return out;
}

const created = (manager = 'shoalctl') => {
  const obj = vm();
  recordUpdate({ kind: vmKind, manager, now: T0 }, undefined, obj);
  return obj;
};

const apply = (req: Partial<ApplyRequest>, live: KubeObject | undefined, cfg: KubeObject) =>
  applyConfiguration({ kind: vmKind, manager: 'kubectl', force: false, now: T1, ...req }, live, cfg);

function applyError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    return err;
  }
  assert.fail('expected an ApiError');
}

test('a create credits every field it set to its writer, as an Update at the time of the write (to the second)', () => {
  const obj = created();
  const [entry] = obj.metadata.managedFields!;
  assert.deepEqual(
    { ...entry, fieldsV1: undefined },
    { manager: 'shoalctl', operation: 'Update', apiVersion: 'shoal.dev/v1alpha1', time: '2026-01-02T03:04:05Z', fieldsType: 'FieldsV1', fieldsV1: undefined },
  );
  assert.deepEqual(owners(obj), { 'shoalctl/Update': ['.spec', '.spec.resources', '.spec.resources.memoryMiB', '.spec.resources.vcpus', '.spec.runStrategy'] });
});

test('an update moves what it changed to its writer, and a removed field belongs to no one', () => {
  const live = created();
  const next = structuredClone(live);
  (next.spec as any).resources.vcpus = 2;
  delete (next.spec as any).runStrategy;
  next.metadata.labels = { team: 'ops' };
  recordUpdate({ kind: vmKind, manager: 'kubectl-edit', now: T1 }, live, next);
  assert.deepEqual(owners(next), {
    'shoalctl/Update': ['.spec', '.spec.resources', '.spec.resources.memoryMiB'],
    'kubectl-edit/Update': ['.metadata.labels', '.metadata.labels.team', '.spec.resources.vcpus'],
  });
  assert.equal(next.metadata.managedFields![0]!.time, '2026-01-02T03:04:05Z', 'the first writer keeps the time of its own last change');
});

test('an update that changes nothing leaves managedFields as they were (so nothing is written)', () => {
  const live = created();
  const next = structuredClone(live);
  recordUpdate({ kind: vmKind, manager: 'someone-else', now: T1 }, live, next);
  assert.deepEqual(next.metadata.managedFields, live.metadata.managedFields);
});

test('status writes have managers of their own and track status only', () => {
  const live = created();
  const next = structuredClone(live);
  next.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] };
  recordUpdate({ kind: vmKind, manager: 'shoal-agent', subresource: 'status', now: T1 }, live, next);
  const entry = next.metadata.managedFields!.find((e) => e.manager === 'shoal-agent')!;
  assert.equal(entry.subresource, 'status');
  assert.deepEqual(owners(next)['shoal-agent/Update/status'], [
    '.status',
    '.status.conditions',
    '.status.conditions[type="Ready"]',
    '.status.conditions[type="Ready"].status',
    '.status.conditions[type="Ready"].type',
    '.status.phase',
  ]);
  // The object itself never tracks status, whatever a main-resource write carried.
  const main = structuredClone(next);
  (main.status as any).phase = 'Failed';
  recordUpdate({ kind: vmKind, manager: 'x' }, next, main);
  assert.deepEqual(owners(main), owners(next));
});

test('managedFields sent with a write: [] or [{}] clear them, well-formed entries replace them, malformed ones are refused', () => {
  const live = created();
  for (const reset of [[], [{}]] as ManagedFieldsEntry[][]) {
    const next = structuredClone(live);
    next.metadata.managedFields = reset;
    (next.spec as any).resources.vcpus = 3;
    recordUpdate({ kind: vmKind, manager: 'kubectl-edit' }, live, next);
    assert.equal(next.metadata.managedFields, undefined, `${JSON.stringify(reset)} clears managedFields`);
    // ...and an object without them is not tracked by updates again (only an apply starts over).
    const later = structuredClone(next);
    (later.spec as any).resources.vcpus = 4;
    recordUpdate({ kind: vmKind, manager: 'kubectl-edit' }, next, later);
    assert.equal(later.metadata.managedFields, undefined);
  }

  const handed = structuredClone(live);
  handed.metadata.managedFields = [
    { manager: 'gitops', operation: 'Apply', apiVersion: 'shoal.dev/v1alpha1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:runStrategy': {} } } },
  ];
  recordUpdate({ kind: vmKind, manager: 'kubectl-patch' }, live, handed);
  assert.deepEqual(owners(handed), { 'gitops/Apply': ['.spec.runStrategy'] }, 'a write may hand fields over, as Kubernetes allows');

  const bad = (entries: unknown, field: string, message: RegExp) => {
    const next = structuredClone(live);
    next.metadata.managedFields = entries as ManagedFieldsEntry[];
    const err = applyError(() => recordUpdate({ kind: vmKind, manager: 'x' }, live, next));
    assert.equal(err.code, 422);
    assert.equal(err.details?.causes?.[0]?.field, field);
    assert.match(err.message, message);
  };
  const ok = { manager: 'm', operation: 'Update', apiVersion: 'shoal.dev/v1alpha1', fieldsType: 'FieldsV1', fieldsV1: {} };
  bad([{ ...ok, fieldsV1: { 'x:y': {} } }], 'metadata.managedFields[0].fieldsV1', /each key must be/);
  bad([ok, { ...ok, operation: 'Sideways' }], 'metadata.managedFields[1].operation', /supported values: "Apply", "Update"/);
  bad([ok, ok], 'metadata.managedFields[1]', /Duplicate value/);
  bad([{ ...ok, apiVersion: 'v1' }], 'metadata.managedFields[0].apiVersion', /must be shoal\.dev\/v1alpha1/);
  bad([{ ...ok, subresource: 'scale' }], 'metadata.managedFields[0].subresource', /supported values: "status"/);
});

test('apply creates: the applier owns exactly what its configuration sets', () => {
  const obj = apply({}, undefined, config({ resources: { vcpus: 2 } }, { labels: { app: 'web' } }));
  assert.deepEqual(owners(obj), { 'kubectl/Apply': ['.metadata.labels.app', '.spec.resources.vcpus'] });
  assert.equal(obj.metadata.managedFields![0]!.time, '2026-01-02T03:05:00Z');
  assert.deepEqual(obj.spec, { resources: { vcpus: 2 } });
});

test('apply: a different value for a field another manager owns is a conflict, worded as Kubernetes words it', () => {
  const live = created();
  const err = applyError(() => apply({}, live, config({ resources: { vcpus: 2 } })));
  assert.equal(err.code, 409);
  assert.equal(err.reason, 'Conflict');
  assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "shoalctl" using shoal.dev/v1alpha1: .spec.resources.vcpus');
  assert.deepEqual(err.details?.causes, [
    { type: 'FieldManagerConflict', message: 'conflict with "shoalctl" using shoal.dev/v1alpha1', field: '.spec.resources.vcpus' },
  ]);

  const two = applyError(() => apply({}, live, config({ resources: { vcpus: 2, memoryMiB: 512 }, runStrategy: 'Halted' })));
  assert.equal(
    two.message,
    'Apply failed with 3 conflicts: conflicts with "shoalctl" using shoal.dev/v1alpha1:\n- .spec.resources.memoryMiB\n- .spec.resources.vcpus\n- .spec.runStrategy',
  );
  assert.equal(two.details?.causes?.length, 3);
});

test('apply with force takes the fields over; the same value is shared ownership without a conflict', () => {
  const live = created();
  const forced = apply({ force: true }, live, config({ resources: { vcpus: 2 } }));
  assert.equal((forced.spec as any).resources.vcpus, 2);
  assert.deepEqual(owners(forced)['kubectl/Apply'], ['.spec.resources.vcpus']);
  assert.ok(!owners(forced)['shoalctl/Update']!.includes('.spec.resources.vcpus'));

  const shared = apply({}, live, config({ resources: { vcpus: 1 } }));
  assert.deepEqual(owners(shared)['kubectl/Apply'], ['.spec.resources.vcpus']);
  assert.ok(owners(shared)['shoalctl/Update']!.includes('.spec.resources.vcpus'), 'both own it now');
});

test('apply prunes what the applier set before and omits now, unless another manager owns it', () => {
  let live = apply({}, undefined, config({ resources: { vcpus: 1 }, cmdline: 'quiet', command: ['sh'] }, { labels: { a: '1', b: '2' } }));
  // Another applier shares command (same value) and adds a label of its own.
  live = apply({ manager: 'other' }, live, config({ command: ['sh'] }, { labels: { c: '3' } }));
  const next = apply({ now: new Date('2026-01-02T04:00:00Z') }, live, config({ resources: { vcpus: 1 } }, { labels: { a: '1' } }));
  assert.deepEqual(next.spec, { resources: { vcpus: 1 }, command: ['sh'] }, 'cmdline went; command stays: "other" owns it');
  assert.deepEqual(next.metadata.labels, { a: '1', c: '3' });
  assert.deepEqual(owners(next)['kubectl/Apply'], ['.metadata.labels.a', '.spec.resources.vcpus']);
});

test('prune removes whole items of map lists, and an object field once nobody owns anything in it', () => {
  let live = apply(
    {},
    undefined,
    config({
      resources: { vcpus: 1 },
      volumes: [
        { name: 'a', volumeName: 'va' },
        { name: 'b', volumeName: 'vb' },
      ],
      guest: { script: 'x' },
    }),
  );
  live = apply({}, live, config({ resources: { vcpus: 1 }, volumes: [{ name: 'b', volumeName: 'vb' }] }));
  assert.deepEqual(live.spec, { resources: { vcpus: 1 }, volumes: [{ name: 'b', volumeName: 'vb' }] });
});

test('an apply that changes nothing keeps the applier time: nothing to write', () => {
  const first = apply({}, undefined, config({ resources: { vcpus: 2 } }));
  const again = apply({ now: new Date('2026-05-05T00:00:00Z') }, first, config({ resources: { vcpus: 2 } }));
  assert.deepEqual(again, first);
});

test('the first apply to an object nobody tracked credits its fields to before-first-apply, as Kubernetes does', () => {
  const untracked = vm();
  const err = applyError(() => apply({}, untracked, config({ resources: { vcpus: 4 } })));
  assert.match(err.message, /conflict with "before-first-apply" using shoal\.dev\/v1alpha1: \.spec\.resources\.vcpus/);
  const shared = apply({}, untracked, config({ resources: { vcpus: 1 } }));
  assert.ok(owners(shared)[`${BEFORE_FIRST_APPLY}/Update`]!.includes('.spec.resources.vcpus'));
});

test('an apply through /status owns status only, as its own manager; conditions are merged by type', () => {
  let live = created();
  live.status = { phase: 'Running', conditions: [{ type: 'Scheduled', status: 'True' }] };
  const cfg = { ...config({}), status: { conditions: [{ type: 'Ready', status: 'True' }] } } as KubeObject;
  delete cfg.spec;
  live = apply({ manager: 'agent', subresource: 'status' }, live, cfg);
  assert.deepEqual((live.status as any).conditions, [
    { type: 'Scheduled', status: 'True' },
    { type: 'Ready', status: 'True' },
  ]);
  assert.deepEqual(owners(live)['agent/Apply/status'], [
    '.status.conditions[type="Ready"]',
    '.status.conditions[type="Ready"].status',
    '.status.conditions[type="Ready"].type',
  ]);
  assert.equal(live.metadata.managedFields!.find((e) => e.manager === 'agent')!.subresource, 'status');
});

test('Update managers are capped: the oldest fold into ancient-changes', () => {
  const managers: Managers = new Map();
  for (let i = 0; i < MAX_UPDATE_MANAGERS + 3; i++) {
    const m = {
      manager: `m${i}`,
      operation: 'Update' as const,
      subresource: '',
      apiVersion: 'shoal.dev/v1alpha1',
      time: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
      fields: FieldSet.of([`f:f${i}`]),
    };
    managers.set(managerId(m), m);
  }
  const capped = capUpdateManagers(managers);
  assert.equal(capped.size, MAX_UPDATE_MANAGERS);
  const ancient = [...capped.values()].find((m) => m.manager === 'ancient-changes')!;
  assert.deepEqual(ancient.fields.paths(), [['f:f0'], ['f:f1'], ['f:f2'], ['f:f3']]);
  assert.ok(![...capped.values()].some((m) => m.manager === 'm3'));
  assert.ok([...capped.values()].some((m) => m.manager === 'm4'));
});

test('stored managedFields decode back to the managers that wrote them', () => {
  const obj = created();
  const managers = decodeManagedFields(vmKind, 'web', obj.metadata.managedFields);
  assert.deepEqual(
    [...managers.values()].map((m) => [m.manager, m.operation, m.subresource]),
    [['shoalctl', 'Update', '']],
  );
});

test('fieldManager and force: named managers checked, others from the User-Agent, force for apply only', () => {
  assert.equal(managerFromUserAgent('kubectl/v1.32.0 (linux/amd64) kubernetes/abc'), 'kubectl');
  assert.equal(managerFromUserAgent('shoal-controller-manager/0.1.0 (scheduler)'), 'shoal-controller-manager');
  assert.equal(managerFromUserAgent(undefined), 'unknown');
  assert.equal(fieldManagerOf('UpdateOptions', undefined, 'shoalctl/0.1.0'), 'shoalctl');
  assert.equal(fieldManagerOf('PatchOptions', 'gitops', 'x', true), 'gitops');
  const required = applyError(() => fieldManagerOf('PatchOptions', undefined, 'kubectl/1.32', true));
  assert.equal(required.code, 422);
  assert.equal(required.message, 'PatchOptions is invalid: fieldManager: Required value: is required for apply patch');
  assert.match(
    applyError(() => fieldManagerOf('CreateOptions', 'x'.repeat(129), undefined)).message,
    /fieldManager: Too long: may not be more than 128 characters/,
  );
  assert.match(applyError(() => fieldManagerOf('CreateOptions', 'a\u0007b', undefined)).message, /invalid character U\+0007 \(at position 1\)/);
  assert.equal(forceOf('true', true), true);
  assert.equal(forceOf(undefined, true), false);
  assert.match(applyError(() => forceOf('true', false)).message, /force: Forbidden: may not be specified for non-apply patch/);
  assert.equal(applyError(() => forceOf('maybe', true)).code, 400);
});

test('pruning the last label the applier set removes the label, never the metadata around it', () => {
  const live = apply({}, undefined, config({ resources: { vcpus: 1 } }, { labels: { app: 'web' } }));
  live.metadata.uid = 'u-1';
  const next = apply({}, live, config({ resources: { vcpus: 1 } }));
  assert.equal(next.metadata.labels, undefined);
  assert.deepEqual([next.metadata.name, next.metadata.namespace, next.metadata.uid], ['web', 'default', 'u-1']);
});

test("kubectl's server-side apply keeps an existing last-applied annotation in step; other managers and objects without it are left alone", () => {
  const annotation = 'kubectl.kubernetes.io/last-applied-configuration';
  const live = created();
  live.metadata.annotations = { [annotation]: '{"old":true}', keep: 'me' };
  const cfg = config({ resources: { vcpus: 1 }, runStrategy: 'Always' });
  const next = apply({}, live, cfg);
  assert.equal(
    next.metadata.annotations![annotation],
    '{"apiVersion":"shoal.dev/v1alpha1","kind":"VirtualMachine","metadata":{"name":"web","namespace":"default"},"spec":{"resources":{"vcpus":1},"runStrategy":"Always"}}\n',
  );
  assert.equal(next.metadata.annotations!.keep, 'me');
  assert.equal(apply({ manager: 'gitops' }, live, cfg).metadata.annotations![annotation], '{"old":true}');
  assert.equal(apply({}, created(), cfg).metadata.annotations, undefined);
});

test("a write that ends with the same object but for its managers' times keeps the old times: nothing to store", () => {
  const entry = {
    manager: 'gitops',
    operation: 'Apply' as const,
    apiVersion: 'shoal.dev/v1alpha1',
    fieldsType: 'FieldsV1' as const,
    fieldsV1: { 'f:data': {} },
  };
  const current = {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Secret',
    metadata: { name: 's', managedFields: [{ ...entry, time: '2026-12-04T10:00:00Z' }] },
    data: { n: 'MA==' },
  };
  const same = structuredClone(current);
  same.metadata.managedFields[0]!.time = '2026-12-04T10:00:07Z';
  keepTimesOfUnchangedWrite(current, same);
  assert.equal(same.metadata.managedFields[0]!.time, '2026-12-04T10:00:00Z');

  const changed = structuredClone(same);
  changed.data.n = 'MQ==';
  changed.metadata.managedFields[0]!.time = '2026-12-04T10:00:09Z';
  keepTimesOfUnchangedWrite(current, changed);
  assert.equal(changed.metadata.managedFields[0]!.time, '2026-12-04T10:00:09Z', 'a real change takes the new time');
});

test('a write from the very object a previous write stored records what a write from its decoded copy records', () => {
  // The same history twice: once handing each write the object the last one made (as the watch
  // cache does, whose managers are then known without decoding), once a JSON copy of it (as read
  // from etcd, decoded from its entries).
  const history = (fresh: (o: KubeObject) => KubeObject) => {
    let live = created();
    const steps: { req: Parameters<typeof recordUpdate>[0]; change: (o: KubeObject) => void }[] = [
      { req: { kind: vmKind, manager: 'scheduler', subresource: 'status', now: T1 }, change: (o) => (o.status = { phase: 'Scheduled' }) },
      { req: { kind: vmKind, manager: 'shoal-agent', subresource: 'status', now: T1 }, change: (o) => (o.status = { phase: 'Running' }) },
      { req: { kind: vmKind, manager: 'kubectl', now: T1 }, change: (o) => ((o.spec as { runStrategy: string }).runStrategy = 'Halted') },
      { req: { kind: vmKind, manager: 'shoal-agent', subresource: 'status', now: T1 }, change: (o) => (o.status = { phase: 'Stopped' }) },
    ];
    const recorded: unknown[] = [];
    for (const { req, change } of steps) {
      const next = structuredClone(live);
      change(next);
      recordUpdate(req, fresh(live), next);
      recorded.push(JSON.parse(JSON.stringify(next.metadata.managedFields)));
      live = next;
    }
    return recorded;
  };
  const fromSameObject = history((o) => o);
  const fromCopies = history((o) => JSON.parse(JSON.stringify(o)) as KubeObject);
  assert.deepEqual(fromSameObject, fromCopies);
  assert.deepEqual(Object.keys(owners({ metadata: { managedFields: fromSameObject.at(-1) } } as KubeObject)).sort(), [
    'kubectl/Update',
    'scheduler/Update/status',
    'shoal-agent/Update/status',
    'shoalctl/Update',
  ]);
});
