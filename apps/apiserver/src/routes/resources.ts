/**
 * The REST routes of every kind in schemas/, declared per kind with full schemas so OpenAPI
 * (and so `kubectl apply`/`explain`) sees each path. Handlers translate HTTP into ResourceService
 * calls; all semantics live there.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, parseFieldSelector, parseLabelSelector, type KindInfo, type KubeObject } from '@shoal/api';
import type { ResourceService, Scope, WriteResult } from '../registry/resource-service.js';
import { parseFieldValidation } from '../registry/schema-validation.js';
import { patchTypeOf } from '../registry/patch.js';
import { parseDeleteOptions } from '../registry/delete-options.js';
import { isDryRun } from '../registry/dry-run.js';
import { fieldManagerOf, forceOf, type OptionsKind } from '../registry/apply/manager-options.js';
import { streamWatch } from '../http/watch-stream.js';
import { queryFlag } from '../http/query-flag.js';
import { sendList } from '../http/list-response.js';
import { toTable, wantsTable, type IncludeObject } from '../http/table.js';
import { DELETE_OPTIONS_SCHEMA_ID } from '../schemas-openapi.js';

export interface ResourceRoutesOptions {
  kinds: KindInfo[];
  service: ResourceService;
}

interface Query {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
  watch?: string;
  allowWatchBookmarks?: string;
  timeoutSeconds?: number;
  fieldValidation?: string;
  fieldManager?: string;
  dryRun?: string | string[];
  includeObject?: string;
  pretty?: string;
  propagationPolicy?: string;
  gracePeriodSeconds?: number;
  force?: string;
}

interface Params {
  namespace?: string;
  name?: string;
}

type Req = FastifyRequest<{ Querystring: Query; Params: Params; Body: unknown }>;

const str = (description: string) => ({ type: 'string', description });
const int = (description: string) => ({ type: 'integer', description });

const listQuery = {
  type: 'object',
  properties: {
    labelSelector: str('Label selector: a=b,c!=d,e in (x,y),f notin (z),g,!h'),
    fieldSelector: str('Field selector on metadata.name, metadata.namespace, spec.nodeName, status.phase'),
    limit: { type: 'integer', minimum: 0, maximum: 100000, description: 'Page size; with `continue` for the next page' },
    continue: str('Token from the previous page'),
    resourceVersion: str('List: minimum freshness ("0" = any); watch: changes after this version'),
    resourceVersionMatch: str('Accepted for compatibility'),
    watch: str('Stream changes as newline-delimited JSON events'),
    allowWatchBookmarks: str('Send BOOKMARK events carrying the current resourceVersion'),
    timeoutSeconds: { type: 'integer', minimum: 0, maximum: 86400, description: 'Close a watch after this long' },
    includeObject: { type: 'string', enum: ['None', 'Metadata', 'Object'], description: 'Table rows carry this much of each object' },
    pretty: str('Ignored'),
    sendInitialEvents: str('Accepted for compatibility'),
  },
};

const writeQuery = {
  type: 'object',
  properties: {
    fieldValidation: { type: 'string', enum: ['Strict', 'Warn', 'Ignore'], description: 'Unknown fields: reject (default), warn, or drop' },
    fieldManager: str(
      'Who is writing, as recorded in metadata.managedFields (at most 128 printable characters). Required for server-side apply; other writes default to the start of the User-Agent.',
    ),
    dryRun: {
      anyOf: [
        { type: 'string', enum: ['All'] },
        { type: 'array', items: { type: 'string', enum: ['All'] } },
      ],
      description: 'Validate and answer without storing',
    },
    pretty: str('Ignored'),
  },
};

const deleteQuery = {
  type: 'object',
  properties: {
    dryRun: writeQuery.properties.dryRun,
    propagationPolicy: { type: 'string', enum: ['Orphan', 'Background', 'Foreground'] },
    gracePeriodSeconds: { type: 'integer', minimum: 0 },
    pretty: str('Ignored'),
  },
};

const statusRef = { $ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status#' };
const deleteOptionsRef = { $ref: `${DELETE_OPTIONS_SCHEMA_ID}#` };

function includeOf(req: Req): IncludeObject | undefined {
  if (!wantsTable(req.headers.accept)) return undefined;
  return (req.query.includeObject as IncludeObject | undefined) ?? 'Metadata';
}

function sendWrite(reply: FastifyReply, code: number, result: WriteResult) {
  for (const w of result.warnings) void reply.header('Warning', `299 - ${JSON.stringify(w)}`);
  if (result.json !== undefined) return reply.code(code).type('application/json; charset=utf-8').send(result.json);
  return reply.code(code).send(result.object);
}

/** The path parameters naming one object ({namespace}, {name}), as OpenAPI and validation see them; subresource routes use it too. */
export function objectPathParams(kind: KindInfo) {
  return {
    type: 'object',
    properties: {
      ...(kind.namespaced ? { namespace: { type: 'string', description: 'Namespace of the object' } } : {}),
      name: { type: 'string', description: `Name of the ${kind.kind}` },
    },
  };
}

export async function resourceRoutes(app: FastifyInstance, opts: ResourceRoutesOptions): Promise<void> {
  const { service } = opts;
  for (const kind of opts.kinds) {
    const base = `/apis/${kind.group}/${kind.version}`;
    const collection = kind.namespaced ? `${base}/namespaces/:namespace/${kind.plural}` : `${base}/${kind.plural}`;
    const item = `${collection}/:name`;
    const gvk = { group: kind.group, version: kind.version, kind: kind.kind };
    const objectRef = { $ref: `dev.shoal.${kind.version}.${kind.kind}#` };
    const listRef = { $ref: `dev.shoal.${kind.version}.${kind.listKind}#` };
    const params = objectPathParams(kind);
    const collectionParams = kind.namespaced ? { type: 'object', properties: { namespace: params.properties.namespace } } : undefined;
    const meta = (verb: string, action: string, extra: object = {}) => ({
      tags: [kind.plural],
      'x-kubernetes-group-version-kind': gvk,
      'x-kubernetes-action': action,
      operationId: `${verb}${kind.namespaced && verb !== 'listAll' ? 'Namespaced' : ''}${kind.kind}`,
      ...extra,
    });
    const scope = (req: Req, subresource?: 'status'): Scope => ({ kind, namespace: req.params.namespace, name: req.params.name!, subresource });
    const writeOpts = (req: Req, options: OptionsKind, apply = false) => ({
      fieldValidation: parseFieldValidation(req.query.fieldValidation),
      dryRun: isDryRun(req.query.dryRun),
      fieldManager: fieldManagerOf(options, req.query.fieldManager, req.headers['user-agent'], apply),
    });

    const listOrWatch = async (req: Req, reply: FastifyReply, namespace: string | undefined) => {
      const labels = parseLabelSelector(req.query.labelSelector);
      const fields = parseFieldSelector(req.query.fieldSelector);
      if (queryFlag(req.query.watch)) {
        return streamWatch(req, reply, {
          request: { kind, filter: { namespace, labels, fields }, resourceVersion: req.query.resourceVersion ?? '' },
          table: includeOf(req),
          bookmarks: queryFlag(req.query.allowWatchBookmarks),
          timeoutSeconds: req.query.timeoutSeconds,
          service,
        });
      }
      const list = await service.listStored(kind, {
        namespace,
        labels,
        fields,
        limit: req.query.limit,
        continueToken: req.query.continue,
        resourceVersion: req.query.resourceVersion,
      });
      const include = includeOf(req);
      if (include)
        return toTable(
          kind,
          list.items.map((s) => s.object),
          list.metadata,
          include,
        );
      return sendList(reply, kind, list);
    };

    app.get(collection, {
      schema: {
        ...meta('list', 'list', { summary: `List or watch ${kind.plural}` }),
        ...(collectionParams ? { params: collectionParams } : {}),
        querystring: listQuery,
        response: { 200: listRef, default: statusRef },
      },
      config: { resource: kind.plural, verb: 'list' },
      handler: (req: Req, reply) => listOrWatch(req, reply, req.params.namespace),
    });
    if (kind.namespaced) {
      app.get(`${base}/${kind.plural}`, {
        schema: {
          ...meta('listAll', 'list', { summary: `List or watch ${kind.plural} in all namespaces` }),
          querystring: listQuery,
          response: { 200: listRef, default: statusRef },
        },
        config: { resource: kind.plural, verb: 'list' },
        handler: (req: Req, reply) => listOrWatch(req, reply, undefined),
      });
    }
    app.post(collection, {
      schema: {
        ...meta('create', 'post', { summary: `Create a ${kind.kind}` }),
        ...(collectionParams ? { params: collectionParams } : {}),
        querystring: writeQuery,
        body: objectRef,
        response: { 201: objectRef, default: statusRef },
      },
      config: { resource: kind.plural, verb: 'create' },
      handler: async (req: Req, reply) => sendWrite(reply, 201, await service.create(kind, req.params.namespace, req.body, writeOpts(req, 'CreateOptions'))),
    });
    app.delete(collection, {
      schema: {
        ...meta('deleteCollection', 'deletecollection', { summary: `Delete the ${kind.plural} a selector matches` }),
        ...(collectionParams ? { params: collectionParams } : {}),
        querystring: { ...listQuery, properties: { ...listQuery.properties, ...deleteQuery.properties } },
        response: { 200: listRef, default: statusRef },
      },
      config: { resource: kind.plural, verb: 'deletecollection' },
      handler: async (req: Req) => {
        const list = await service.list(kind, {
          namespace: req.params.namespace,
          labels: parseLabelSelector(req.query.labelSelector),
          fields: parseFieldSelector(req.query.fieldSelector),
        });
        const items: KubeObject[] = [];
        for (const o of list.items) {
          try {
            items.push(await service.delete({ kind, namespace: o.metadata.namespace, name: o.metadata.name! }, { dryRun: isDryRun(req.query.dryRun) }));
          } catch (err) {
            if (!(err instanceof ApiError && err.code === 404)) throw err;
          }
        }
        return { ...list, items };
      },
    });

    for (const subresource of kind.hasStatus ? [undefined, 'status' as const] : [undefined]) {
      const path = subresource ? `${item}/status` : item;
      const what = subresource ? `status of a ${kind.kind}` : `a ${kind.kind}`;
      const suffix = subresource ? 'Status' : '';
      app.get(path, {
        schema: { ...meta(`read${suffix}`, 'get', { summary: `Read ${what}` }), params, response: { 200: objectRef, default: statusRef } },
        config: { resource: kind.plural, verb: 'get' },
        handler: async (req: Req) => {
          const obj = await service.get(scope(req));
          const include = includeOf(req);
          return include ? toTable(kind, [obj], { resourceVersion: obj.metadata.resourceVersion }, include) : obj;
        },
      });
      app.put(path, {
        schema: {
          ...meta(`replace${suffix}`, 'put', { summary: `Replace ${what}` }),
          params,
          querystring: writeQuery,
          body: objectRef,
          response: { 200: objectRef, default: statusRef },
        },
        config: { resource: kind.plural, verb: 'update' },
        handler: async (req: Req, reply) => sendWrite(reply, 200, await service.update(scope(req, subresource), req.body, writeOpts(req, 'UpdateOptions'))),
      });
      app.patch(path, {
        schema: {
          ...meta(`patch${suffix}`, 'patch', { summary: `Partially update ${what}` }),
          params,
          querystring: {
            ...writeQuery,
            properties: {
              ...writeQuery.properties,
              force: { type: 'string', description: 'Server-side apply only: take over the fields other managers own instead of failing with a conflict' },
            },
          },
          body: {
            type: 'object',
            description:
              'JSON merge patch (RFC 7386), JSON patch (RFC 6902), or for server-side apply (application/apply-patch+yaml) the object as its applier wants it (YAML or JSON)',
          },
          consumes: ['application/merge-patch+json', 'application/json-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'],
          response: { 200: objectRef, 201: objectRef, default: statusRef },
        },
        config: { resource: kind.plural, verb: 'patch' },
        handler: async (req: Req, reply) => {
          const type = patchTypeOf(req.headers['content-type']);
          const apply = type === 'apply';
          const force = forceOf(req.query.force, apply);
          const opts = writeOpts(req, 'PatchOptions', apply);
          if (!apply) return sendWrite(reply, 200, await service.patch(scope(req, subresource), type, req.body, opts));
          const applied = await service.apply(scope(req, subresource), req.body, { ...opts, fieldManager: opts.fieldManager, force });
          return sendWrite(reply, applied.created ? 201 : 200, applied);
        },
      });
    }
    app.delete(item, {
      schema: {
        ...meta('delete', 'delete', { summary: `Delete a ${kind.kind}` }),
        params,
        querystring: deleteQuery,
        body: deleteOptionsRef,
        response: { 200: objectRef, default: statusRef },
      },
      config: { resource: kind.plural, verb: 'delete' },
      handler: async (req: Req) => {
        const body = parseDeleteOptions(req.body);
        return service.delete(scope(req), { ...body, dryRun: isDryRun(req.query.dryRun) || body.dryRun });
      },
    });
  }
}
