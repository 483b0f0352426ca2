/**
 * `POST .../namespaces/{ns}/virtualmachines/{name}/binding`: assigns a VM to a node, as
 * Kubernetes' pods/binding (registry/strategies/virtualmachine.ts says what a bind changes). Answers 201 and a
 * Success Status, as Kubernetes does; the bound VM reaches watchers as one MODIFIED event.
 *
 * `POST /apis/shoal.dev/v1alpha1/bindings`: many such binds in one request (a BindingList, across
 * namespaces; RBAC: create `bindings` at the cluster scope). Each item succeeds or fails on its
 * own, exactly as its single bind would; the answer is 200 and a BindingResults with one Status
 * per item. What makes it pay is underneath: the binds that can be written share etcd
 * transactions (ResourceService.bindMany), so a scheduler placing thousands of VMs a second
 * costs the apiserver and etcd a fraction of a request and of a raft entry per VM.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { API_VERSION, type KindInfo, type Status } from '@shoal/api';
import type { ResourceService } from '../registry/resource-service.js';
import { parseBinding, parseBindingList } from '../registry/binding.js';
import { isDryRun } from '../registry/dry-run.js';
import { auditItems } from '../audit/audit-requests.js';
import { BINDING_LIST_SCHEMA_ID, BINDING_RESULTS_SCHEMA_ID, BINDING_SCHEMA_ID } from '../schemas-openapi.js';
import { objectPathParams } from './resources.js';

export interface VmBindingRoutesOptions {
  kinds: KindInfo[];
  service: Pick<ResourceService, 'bind' | 'bindMany'>;
}

type BulkReq = FastifyRequest<{ Querystring: { dryRun?: string | string[] }; Body: unknown }>;
type Req = FastifyRequest<{ Params: { namespace: string; name: string }; Querystring: { dryRun?: string | string[] }; Body: unknown }>;

/** What a successful bind answers, as Kubernetes does for pods/binding: 201 and a Status, not the object. */
const BINDING_SUCCEEDED: Omit<Status, 'message'> = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };

const BINDING_QUERY = {
  dryRun: {
    anyOf: [
      { type: 'string', enum: ['All'] },
      { type: 'array', items: { type: 'string', enum: ['All'] } },
    ],
    description: 'Check and answer without binding',
  },
  fieldManager: { type: 'string', description: 'Name of the writer (recorded for compatibility)' },
  pretty: { type: 'string', description: 'Ignored' },
};

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
      querystring: { type: 'object', properties: BINDING_QUERY },
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

  app.post(`/apis/${vmKind.group}/${vmKind.version}/bindings`, {
    schema: {
      tags: [vmKind.plural],
      operationId: `create${vmKind.kind}Bindings`,
      summary: `Bind many ${vmKind.kind}s to nodes at once`,
      'x-kubernetes-group-version-kind': { group: vmKind.group, version: vmKind.version, kind: 'BindingList' },
      'x-kubernetes-action': 'post',
      querystring: { type: 'object', properties: BINDING_QUERY },
      body: { $ref: `${BINDING_LIST_SCHEMA_ID}#` },
      response: { 200: { $ref: `${BINDING_RESULTS_SCHEMA_ID}#` }, default: { $ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status#' } },
    },
    config: { resource: 'bindings', verb: 'create' },
    handler: async (req: BulkReq, reply) => {
      const bindings = parseBindingList(vmKind, req.body);
      const outcomes = await opts.service.bindMany(vmKind, bindings, { dryRun: isDryRun(req.query.dryRun) });
      const results = outcomes.map((err) => (err ? err.toStatus() : BINDING_SUCCEEDED));
      auditItems(
        req,
        bindings.map(({ namespace, name }, i) => ({
          apiGroup: vmKind.group,
          apiVersion: vmKind.version,
          resource: vmKind.plural,
          subresource: 'binding',
          namespace,
          name,
          code: results[i]!.code!,
          ...(outcomes[i] ? { reason: outcomes[i]!.reason } : {}),
        })),
      );
      return reply.code(200).send({ apiVersion: API_VERSION, kind: 'BindingResults', results });
    },
  });
}
