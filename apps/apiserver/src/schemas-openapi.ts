/** The schemas the routes reference, registered once so OpenAPI lists them as components. */
import type { FastifyInstance } from 'fastify';
import { optionsSchema, type KindInfo } from '@shoal/api';

/** The bodies that are not objects of a kind, from schemas/options/, under the names Kubernetes gives them. */
export const DELETE_OPTIONS_SCHEMA_ID = 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions';
export const BINDING_SCHEMA_ID = 'dev.shoal.v1alpha1.Binding';
export const BINDING_LIST_SCHEMA_ID = 'dev.shoal.v1alpha1.BindingList';
export const BINDING_RESULTS_SCHEMA_ID = 'dev.shoal.v1alpha1.BindingResults';

export const STATUS_SCHEMA = {
  $id: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status',
  type: 'object',
  description: 'Status is the answer to every failed request.',
  properties: {
    kind: { type: 'string' },
    apiVersion: { type: 'string' },
    status: { type: 'string' },
    message: { type: 'string' },
    reason: { type: 'string' },
    code: { type: 'integer' },
    details: { type: 'object' },
  },
};

export function registerKindSchemas(app: FastifyInstance, kinds: KindInfo[]): void {
  app.addSchema(STATUS_SCHEMA);
  app.addSchema({ $id: DELETE_OPTIONS_SCHEMA_ID, ...optionsSchema('DeleteOptions') });
  app.addSchema({ $id: BINDING_SCHEMA_ID, ...optionsSchema('Binding') });
  app.addSchema({ $id: BINDING_LIST_SCHEMA_ID, ...optionsSchema('BindingList') });
  app.addSchema({ $id: BINDING_RESULTS_SCHEMA_ID, ...optionsSchema('BindingResults') });
  for (const k of kinds) {
    const gvk = [{ group: k.group, version: k.version, kind: k.kind }];
    app.addSchema({ $id: `dev.shoal.${k.version}.${k.kind}`, ...k.schema, 'x-kubernetes-group-version-kind': gvk });
    app.addSchema({
      $id: `dev.shoal.${k.version}.${k.listKind}`,
      type: 'object',
      description: `A list of ${k.kind} objects.`,
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: {
          type: 'object',
          properties: { resourceVersion: { type: 'string' }, continue: { type: 'string' }, remainingItemCount: { type: 'integer' } },
        },
        items: { type: 'array', items: { $ref: `dev.shoal.${k.version}.${k.kind}#` } },
      },
      'x-kubernetes-group-version-kind': [{ group: k.group, version: k.version, kind: k.listKind }],
    });
  }
}
