/**
 * The order of admission, as kube-apiserver's: mutating plugins, then the object's own
 * validation, then validating plugins, on every attempt of a write. First the chain alone, then
 * through the resource service over a real etcd, with plugins written for the test.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, kinds as loadKinds, type KubeObject } from '@shoal/api';
import type { ObjectStore } from '../storage/object-store.js';
import type { WatchCache } from '../storage/watch-cache.js';
import { ResourceService } from '../registry/resource-service.js';
import { startTestStorage, STRICT_WRITE as strict, type TestStorage } from '../test-support/storage.js';
import { AdmissionChain } from './admission-chain.js';
import type { AdmissionAttributes, MutatingAdmission, ValidatingAdmission } from './admission.js';

const kinds = loadKinds();
const vmKind = kinds.find('vm')!;

test('mutating plugins run in order, then validating plugins in order, each in its turn; turns end with the attempt, last taken first', async () => {
  const log: string[] = [];
  const mutating = (name: string): MutatingAdmission => ({
    name,
    admit: () => (log.push(`${name}: admit`), async (fresh) => (log.push(`${name}: mutate fresh=${fresh}`), [])),
  });
  const validating = (name: string, turns: boolean): ValidatingAdmission => ({
    name,
    validate: () => (log.push(`${name}: validate`), async (fresh) => (log.push(`${name}: check fresh=${fresh}`), [])),
    ...(turns ? { turn: async () => (log.push(`${name}: turn`), () => log.push(`${name}: end turn`)) } : {}),
  });
  const skipping: ValidatingAdmission = { name: 'skip', validate: () => undefined, turn: async () => assert.fail('a plugin without a pass takes no turn') };
  const chain = new AdmissionChain([mutating('m1'), mutating('m2')], [validating('v1', true), skipping, validating('v2', true)]);
  const write = chain.begin({ operation: 'create', kind: vmKind, namespace: 'default', object: { metadata: { name: 'x' } } });
  for (const fresh of [false, true]) {
    await write.mutate(fresh);
    log.push('schema validation');
    await write.validate(fresh);
    write.endAttempt();
  }
  assert.deepEqual(log, [
    'm1: admit',
    'm2: admit',
    'm1: mutate fresh=false',
    'm2: mutate fresh=false',
    'schema validation',
    'v1: validate',
    'v2: validate',
    'v1: turn',
    'v1: check fresh=false',
    'v2: turn',
    'v2: check fresh=false',
    'v2: end turn',
    'v1: end turn',
    // The second attempt runs the same passes again, from fresh reads; they are not asked for again.
    'm1: mutate fresh=true',
    'm2: mutate fresh=true',
    'schema validation',
    'v1: turn',
    'v1: check fresh=true',
    'v2: turn',
    'v2: check fresh=true',
    'v2: end turn',
    'v1: end turn',
  ]);
});

let storage: TestStorage;
let cache: WatchCache;
let store: ObjectStore;

before(async () => {
  storage = await startTestStorage('admission-order');
  store = storage.store;
  cache = await storage.startCache(100);
});
after(() => storage?.stop());

const vm = (name: string, spec: object = {}): KubeObject => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name },
  spec: { resources: { vcpus: 1 }, ...spec },
});

test('through the service: what mutating admission sets is validated by the schema; validating admission sees the validated, defaulted object and may refuse it', async () => {
  const seen: unknown[] = [];
  const setVcpus: MutatingAdmission = {
    name: 'set-vcpus',
    admit:
      ({ object }: AdmissionAttributes) =>
      async () => {
        const spec = object.spec as { resources: { vcpus: number }; cmdline?: string };
        if (spec.cmdline === 'too-few') spec.resources.vcpus = 0;
        return [];
      },
  };
  const refuseHalted: ValidatingAdmission = {
    name: 'refuse-halted',
    validate:
      ({ object }: AdmissionAttributes) =>
      async () => {
        const spec = object.spec as { runStrategy: string; resources: { memoryMiB: number } };
        seen.push({ runStrategy: spec.runStrategy, memoryMiB: spec.resources.memoryMiB });
        if (object.metadata.name === 'refused') throw new ApiError(403, 'Forbidden', 'refused by validating admission');
        return [];
      },
  };
  const service = new ResourceService(store, cache, new AdmissionChain([setVcpus], [refuseHalted]));

  const invalid = await service.create(vmKind, 'default', vm('mutated', { cmdline: 'too-few' }), strict).catch((e: unknown) => e);
  assert.ok(invalid instanceof ApiError && invalid.code === 422, String(invalid));
  assert.deepEqual(
    invalid.details?.causes?.map((c) => c.field),
    ['spec.resources.vcpus'],
    'the value mutating admission set failed schema validation',
  );
  assert.deepEqual(seen, [], 'validating admission does not see an object that failed validation');

  const refused = await service.create(vmKind, 'default', vm('refused'), strict).catch((e: unknown) => e);
  assert.ok(refused instanceof ApiError && refused.code === 403, String(refused));
  assert.deepEqual(seen, [{ runStrategy: 'Always', memoryMiB: 256 }], 'validating admission saw the schema defaults filled in');
  assert.equal(await store.get('/registry/shoal.dev/virtualmachines/default/refused'), undefined, 'nothing was written');

  const created = await service.create(vmKind, 'default', vm('admitted'), strict);
  assert.equal(created.object.metadata.generation, 1);
});
