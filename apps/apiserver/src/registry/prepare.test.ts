/**
 * What the server decides about an object before it is stored, without a store: preparation of
 * creates and updates (server-owned fields, status, generation), schema validation and
 * defaulting, the size limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { ApiError, kinds, normalizeObject, validateObject, type KindInfo, type KubeObject } from '@shoal/api';
import { MAX_OBJECT_BYTES, storedForm } from './object-size.js';
import { prepareCreate } from './prepare-create.js';
import { finishUpdate, prepareUpdate, type UpdateRequest } from './prepare-update.js';
import { validateAndDefault, type FieldValidation } from './schema-validation.js';

/** A create as the resource service takes it when no admission plugin applies. */
function admitCreate(kind: KindInfo, body: unknown, namespace: string | undefined, fieldValidation: FieldValidation) {
  const object = prepareCreate(kind, body, namespace);
  const warnings = validateAndDefault(kind, object, fieldValidation);
  return { object, warnings, stored: storedForm(kind, object) };
}

/** An update as the resource service takes it when no admission plugin applies. */
function admitUpdate(req: UpdateRequest & { fieldValidation: FieldValidation }) {
  const object = prepareUpdate(req);
  const warnings = validateAndDefault(req.kind, object, req.fieldValidation);
  finishUpdate(req.kind, object, req.current);
  return { object, warnings, stored: storedForm(req.kind, object) };
}

const vmKind = kinds().find('vm')!;
const vm = (extra: Partial<KubeObject> = {}): KubeObject =>
  ({ apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web' }, spec: { resources: { vcpus: 2 } }, ...extra }) as KubeObject;

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an ApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

test('create fills server-owned metadata and schema defaults, ignoring what the client claimed', () => {
  const { object } = admitCreate(
    vmKind,
    vm({ metadata: { name: 'web', uid: 'mine', generation: 7, resourceVersion: '5' }, status: { phase: 'Running' } }),
    'default',
    'Strict',
  );
  assert.notEqual(object.metadata.uid, 'mine');
  assert.match(object.metadata.uid!, /^[0-9a-f-]{36}$/);
  assert.equal(object.metadata.generation, 1);
  assert.equal(object.metadata.namespace, 'default');
  assert.equal(object.metadata.resourceVersion, undefined);
  assert.deepEqual(object.status, { phase: 'Pending' }, 'what the client claimed as status is dropped: a new VM is Pending');
  assert.deepEqual((object.spec as any).resources, { vcpus: 2, memoryMiB: 256 });
  assert.equal((object.spec as any).runStrategy, 'Always');
});

test('generateName produces a name with that prefix', () => {
  const { object } = admitCreate(vmKind, vm({ metadata: { generateName: 'batch-' } }), 'default', 'Strict');
  assert.match(object.metadata.name!, /^batch-[a-z0-9]{5}$/);
});

test('invalid values are rejected with every field path', () => {
  const err = apiError(() => admitCreate(vmKind, vm({ spec: { resources: { vcpus: 0, memoryMiB: 'lots' }, runStrategy: 'Sometimes' } }), 'default', 'Strict'));
  assert.equal(err.code, 422);
  assert.equal(err.reason, 'Invalid');
  const fields = err.details!.causes!.map((c) => c.field).sort();
  assert.deepEqual(fields, ['spec.resources.memoryMiB', 'spec.resources.vcpus', 'spec.runStrategy']);
});

test('unknown fields: Strict rejects, Warn warns and drops, Ignore drops', () => {
  const body = () => vm({ spec: { resources: { vcpus: 1 }, gpus: 2 } });
  const strict = apiError(() => admitCreate(vmKind, body(), 'default', 'Strict'));
  assert.equal(strict.code, 400);
  assert.match(strict.message, /unknown field "spec.gpus"/);
  const warned = admitCreate(vmKind, body(), 'default', 'Warn');
  assert.deepEqual(warned.warnings, ['unknown field "spec.gpus"']);
  assert.equal((warned.object.spec as any).gpus, undefined);
  assert.equal((admitCreate(vmKind, body(), 'default', 'Ignore').object.spec as any).gpus, undefined);
});

test('a name is required, and the namespace must match the URL', () => {
  assert.equal(apiError(() => admitCreate(vmKind, vm({ metadata: {} }), 'default', 'Strict')).details!.causes![0]!.field, 'metadata.name');
  assert.equal(apiError(() => admitCreate(vmKind, vm({ metadata: { name: 'a', namespace: 'other' } }), 'default', 'Strict')).code, 400);
  assert.equal(apiError(() => admitCreate(vmKind, vm({ metadata: { name: '../etc' } }), 'default', 'Strict')).code, 422);
});

test('update bumps generation on spec changes only, and keeps status and identity', () => {
  const current = admitCreate(vmKind, vm(), 'default', 'Strict').object;
  current.metadata.resourceVersion = '10';
  current.status = { phase: 'Running' };
  const relabelled = admitUpdate({
    kind: vmKind,
    namespace: 'default',
    name: 'web',
    current,
    fieldValidation: 'Strict',
    body: { ...structuredClone(current), metadata: { ...current.metadata, labels: { a: 'b' } } },
  });
  assert.equal(relabelled.object.metadata.generation, 1);
  // The same spec with its keys in another order is the same desired state.
  const spec = current.spec as Record<string, unknown>;
  const reordered = admitUpdate({
    kind: vmKind,
    namespace: 'default',
    name: 'web',
    current,
    fieldValidation: 'Strict',
    body: { ...structuredClone(current), spec: Object.fromEntries(Object.entries(structuredClone(spec)).reverse()) },
  });
  assert.notDeepEqual(Object.keys(reordered.object.spec as object), Object.keys(spec), 'the body did reorder the spec');
  assert.equal(reordered.object.metadata.generation, 1);
  const resized = admitUpdate({
    kind: vmKind,
    namespace: 'default',
    name: 'web',
    current,
    fieldValidation: 'Strict',
    body: {
      ...structuredClone(current),
      metadata: { ...current.metadata, uid: undefined, creationTimestamp: 'x' },
      spec: { resources: { vcpus: 4 } },
      status: { phase: 'Failed' },
    },
  });
  assert.equal(resized.object.metadata.generation, 2);
  assert.deepEqual(resized.object.status, { phase: 'Running' }, 'status is not changed through the main resource');
  assert.equal(resized.object.metadata.uid, current.metadata.uid);
  assert.equal(resized.object.metadata.creationTimestamp, current.metadata.creationTimestamp);
});

test('the status subresource changes status only', () => {
  const current = admitCreate(vmKind, vm(), 'default', 'Strict').object;
  current.status = { phase: 'Pending' };
  const before = structuredClone(current);
  const { object } = admitUpdate({
    kind: vmKind,
    namespace: 'default',
    name: 'web',
    current,
    subresource: 'status',
    fieldValidation: 'Strict',
    body: { ...structuredClone(current), spec: { resources: { vcpus: 8 } }, status: { phase: 'Running', restarts: 1 } },
  });
  assert.deepEqual(object.status, { phase: 'Running', restarts: 1 });
  assert.equal((object.spec as any).resources.vcpus, 2);
  assert.equal(object.metadata.generation, 1);
  object.metadata.labels = { changed: 'after' };
  (object.spec as any).resources.vcpus = 16;
  assert.deepEqual(current, before, 'the stored object is not shared with the update, nor changed by it');
});

test('no finalizer may be added to an object being deleted', () => {
  const current = admitCreate(vmKind, vm({ metadata: { name: 'web', finalizers: ['a/b'] } }), 'default', 'Strict').object;
  current.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
  const err = apiError(() =>
    admitUpdate({
      kind: vmKind,
      namespace: 'default',
      name: 'web',
      current,
      fieldValidation: 'Strict',
      body: { ...structuredClone(current), metadata: { ...current.metadata, finalizers: ['a/b', 'c/d'] } },
    }),
  );
  assert.equal(err.code, 422);
  assert.equal(err.details!.causes![0]!.field, 'metadata.finalizers');
});

test('objects larger than etcd takes are refused with 413, measured on the stored form', () => {
  const err = apiError(() =>
    admitCreate(
      vmKind,
      vm({
        metadata: {
          name: 'big',
          annotations: {
            a: 'x'.repeat(200_000),
            b: 'x'.repeat(200_000),
            c: 'x'.repeat(200_000),
            d: 'x'.repeat(200_000),
            e: 'x'.repeat(200_000),
            f: 'x'.repeat(200_000),
            g: 'x'.repeat(200_000),
            h: 'x'.repeat(200_000),
          },
        },
      }),
      'default',
      'Strict',
    ),
  );
  assert.equal(err.code, 413);
  const { stored } = admitCreate(vmKind, vm({ metadata: { name: 'fits', annotations: { a: 'x'.repeat(200_000) } } }), 'default', 'Strict');
  assert.ok(stored.bytes > 200_000 && stored.bytes < MAX_OBJECT_BYTES);
});

/** Objects of every kind, shaped by its schema: each field present, absent, null or "" at random, unknown fields here and there. */
function sampleOf(schema: any, rand: () => number, depth = 0): unknown {
  if (schema.default !== undefined && depth > 0 && rand() < 0.2) return rand() < 0.5 ? null : '';
  if (schema.enum) return schema.enum[Math.floor(rand() * schema.enum.length)];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, sub] of Object.entries<any>(schema.properties ?? {}))
        if ((schema.required ?? []).includes(k) || (rand() < 0.6 && depth < 8)) out[k] = sampleOf(sub, rand, depth + 1);
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object' && rand() < 0.5)
        out[`k${Math.floor(rand() * 9)}`] = sampleOf(schema.additionalProperties, rand, depth + 1);
      if (rand() < 0.15) out[`unknownField${depth}`] = { nested: rand() < 0.5 ? 1 : 'x' };
      return out;
    }
    case 'array':
      return Array.from({ length: Math.floor(rand() * 3) }, () => sampleOf(schema.items ?? {}, rand, depth + 1));
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 0, Math.min(schema.maximum ?? 1, 1));
    case 'boolean':
      return rand() < 0.5;
    case 'string':
      // A field with a pattern (an address, a CIDR) says what fits it.
      return schema.examples?.[0] ?? 'a';
    default:
      return rand() < 0.5 ? 'a' : 1;
  }
}

test('the normalizer (defaults, dropping undeclared fields) matches one compiled from the full schema, for every kind', () => {
  const full = new Ajv({ allErrors: true, strict: false, useDefaults: 'empty', removeAdditional: true });
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const kind of kinds().all) {
    const reference = full.compile(structuredClone(kind.schema));
    let compared = 0;
    // Until 50 samples were valid: how many random ones are depends on the kind's schema (and on
    // where the one random stream for all kinds stands), so a fixed number of tries is fragile.
    for (let i = 0; i < 4000 && (i < 400 || compared < 50); i++) {
      const obj = sampleOf(kind.schema, rand) as KubeObject;
      if (validateObject(kind, obj).invalid.length) continue;
      const expected = structuredClone(obj);
      reference(expected);
      assert.deepEqual(normalizeObject(kind, structuredClone(obj)), expected, `${kind.kind}: ${JSON.stringify(obj)}`);
      compared++;
    }
    assert.ok(compared >= 50, `${kind.kind}: only ${compared} valid samples`);
  }
});
