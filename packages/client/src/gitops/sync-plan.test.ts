import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@shoal/api';
import { planSync } from './sync-plan.js';
import type { RepositoryManifest } from './repository-manifests.js';

const m = (file: string, kind: string, name: string, namespace?: string): RepositoryManifest => ({
  file,
  object: { apiVersion: 'shoal.dev/v1alpha1', kind, metadata: { name, ...(namespace ? { namespace } : {}) } } as KubeObject,
});
const target = { namespace: 'apps', name: 'web' };

test('namespaces first, then cluster-scoped policy, namespaced policy, volumes, VMs and the rest; prune is the reverse', () => {
  const { objects, problems } = planSync(
    [
      m('b.yaml', 'Backup', 'nightly'),
      m('vm.yaml', 'VirtualMachine', 'web'),
      m('vol.yaml', 'Volume', 'data'),
      m('quota.yaml', 'ResourceQuota', 'q'),
      m('pc.yaml', 'PriorityClass', 'high'),
      m('ns.yaml', 'Namespace', 'apps'),
    ],
    target,
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(
    objects.map((o) => o.kind.kind),
    ['Namespace', 'PriorityClass', 'ResourceQuota', 'Volume', 'VirtualMachine', 'Backup'],
  );
});

test("a namespaced object goes to targetNamespace, else its own namespace, else the sync's; cluster-scoped ones to none", () => {
  const manifests = [m('a.yaml', 'VirtualMachine', 'a', 'elsewhere'), m('b.yaml', 'VirtualMachine', 'b'), m('c.yaml', 'PriorityClass', 'c', 'ignored')];
  const own = planSync(manifests, target).objects.map((o) => o.object.metadata.namespace);
  assert.deepEqual(own, [undefined, 'elsewhere', 'apps']);
  const forced = planSync(manifests, { ...target, targetNamespace: 'team' }).objects.map((o) => o.object.metadata.namespace);
  assert.deepEqual(forced, [undefined, 'team', 'team']);
});

test('every object is labelled with the sync that applies it, keeping its own labels', () => {
  const manifest = m('a.yaml', 'VirtualMachine', 'a');
  manifest.object.metadata.labels = { app: 'web' };
  const [planned] = planSync([manifest], target).objects;
  assert.deepEqual(planned!.object.metadata.labels, { app: 'web', 'gitops.shoal.dev/name': 'web', 'gitops.shoal.dev/namespace': 'apps' });
  assert.equal(manifest.object.metadata.labels['gitops.shoal.dev/name'], undefined, 'the manifest read is not changed');
});

test('problems name the file, object and field: unknown kind, no name, the same object twice', () => {
  const { objects, problems } = planSync(
    [
      m('a.yaml', 'VirtualMachine', 'dup'),
      m('b.yaml', 'VirtualMachine', 'dup'),
      m('c.yaml', 'Teapot', 'x'),
      { file: 'd.yaml', object: { apiVersion: 'shoal.dev/v1alpha1', kind: 'Volume', metadata: {} } as KubeObject },
    ],
    target,
  );
  assert.equal(objects.length, 1);
  assert.deepEqual(
    problems.map((p) => [p.file, p.kind, p.name, p.field]),
    [
      ['b.yaml', 'VirtualMachine', 'dup', 'metadata.name'],
      ['c.yaml', 'Teapot', 'x', 'kind'],
      ['d.yaml', 'Volume', undefined, 'metadata.name'],
    ],
  );
  assert.match(problems[0]!.message, /also defined in a\.yaml/);
});
