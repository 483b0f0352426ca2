/**
 * `POST .../namespaces/{ns}/virtualmachines/{name}/binding`: assigns a VM to a node, as
 * Kubernetes' pods/binding (registry/strategies/virtualmachine.ts says what a bind changes). Answers 201 and a
 * Success Status, as Kubernetes does; the bound VM reaches watchers as one MODIFIED event.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { KindInfo, Status } from '@shoal/api';
import type { ResourceService } from '../registry/resource-service.js';
import { parseBinding } from '../registry/binding.js';
import { isDryRun } from '../registry/dry-run.js';
import { BINDING_SCHEMA_ID } from '../schemas-openapi.js';
import { objectPathParams } from './resources.js';

export interface VmBindingRoutesOptions {
  kinds: KindInfo[];
  service: Pick<ResourceService, 'bind'>;
}

type Req = FastifyRequest<{ Params: { namespace: string; name: string }; Querystring: { dryRun?: string | string[] }; Body: unknown }>;

/** What a successful bind answers, as Kubernetes does for pods/binding: 201 and a Status, not the object. */
const BINDING_SUCCEEDED: Omit<Status, 'message'> = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };

export async function vmBindingRoutes(app: FastifyInstance, opts: VmBindingRoutesOptions): Promise<void> {
  const vmKind = opts.kinds.find((k) => k.kind === 'VirtualMachine');
  if (!vmKind) throw new Error('vm-binding: the VirtualMachine kind must be loaded');
  app.post(`/apis/${vmKind.group}/${vmKind.version}/namespaces/:namespace/${vmKind.plural}/:name/binding`, {
    schema: {
      tags: [vmKind.plural],
      operationId: `createNamespaced${vmKind.kind}Binding`,
      summary: `Bind a ${vmKind.kind} to a node`,
      'x-kubernetes-group-version-kind': { group: vmKind.group, version: vmKind.version, kind: 'Binding' },
      'x-kubernetes-action': 'post',
      params: objectPathParams(vmKind),
      querystring: {
        type: 'object',
        properties: {
          dryRun: {
            anyOf: [
              { type: 'string', enum: ['All'] },
              { type: 'array', items: { type: 'string', enum: ['All'] } },
            ],
            description: 'Check and answer without binding',
          },
          fieldManager: { type: 'string', description: 'Name of the writer (recorded for compatibility)' },
          pretty: { type: 'string', description: 'Ignored' },
        },
      },
      body: { $ref: `${BINDING_SCHEMA_ID}#` },
      response: { 201: { $ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status#' }, default: { $ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status#' } },
    },
    config: { resource: `${vmKind.plural}/binding`, verb: 'create' },
    handler: async (req: Req, reply) => {
      const { namespace, name } = req.params;
      const binding = parseBinding(vmKind, namespace, name, req.body);
      await opts.service.bind({ kind: vmKind, namespace, name }, binding, { dryRun: isDryRun(req.query.dryRun) });
      return reply.code(201).send(BINDING_SUCCEEDED);
    },
  });
}
