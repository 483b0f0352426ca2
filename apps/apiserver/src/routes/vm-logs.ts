/**
 * `GET .../virtualmachines/{name}/log`: a VM's serial console, read from the node agent that runs
 * it, as Kubernetes serves pods/log from the kubelet. The apiserver only finds the agent (VM →
 * spec.nodeName → Node.status.agentAddress) and relays its answer byte for byte: status code,
 * content type and body, streamed as it arrives, never buffered whole. The agent's side of the
 * contract: `GET {agentAddress}/logs/{namespace}/{name}?follow=&tailLines=` answers
 * `200 text/plain` (held open and fed with new output when follow=true) or a 404 Status. Over
 * https the apiserver shows its agent-client certificate and verifies the agent's
 * (agent-connection.ts); the user was authorized already (`get virtualmachines/log`), the agent
 * only checks that the caller is the apiserver.
 */
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import { ApiError, badRequest, type KindInfo, type KubeObject, type Node, type VirtualMachine } from '@shoal/api';
import type { Scope } from '../registry/resource-service.js';
import { objectPathParams } from './resources.js';
import { AgentConnections, agentAddressOfNode, connectionError, describe, refusedByAgent, type AgentTlsOptions } from './agent-connection.js';

/** The one call this route needs from the resource service. */
export interface ObjectReader {
  get(scope: Scope): Promise<KubeObject>;
}

export interface VmLogRoutesOptions {
  kinds: KindInfo[];
  objects: ObjectReader;
  /** How long to wait for the agent to accept a connection. */
  connectTimeoutMs?: number;
  /** How long a finished (non-follow) log may take to start answering, and may stall mid-body. */
  readTimeoutMs?: number;
  /** The client certificate shown to https agents and the CA they are verified against. */
  agentTls?: AgentTlsOptions;
}

interface Params {
  namespace: string;
  name: string;
}

interface Query {
  follow?: string;
  tailLines?: number;
}

type Req = FastifyRequest<{ Params: Params; Querystring: Query }>;

/** strconv.ParseBool, which Kubernetes uses for `follow`. */
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['', '0', 'f', 'F', 'false', 'FALSE', 'False']);

/** Response headers of the agent worth passing on; hop-by-hop ones (connection, transfer-encoding) are not. */
const RELAYED_HEADERS = ['content-type', 'cache-control', 'x-content-type-options'];

export async function vmLogRoutes(app: FastifyInstance, opts: VmLogRoutesOptions): Promise<void> {
  const vmKind = opts.kinds.find((k) => k.kind === 'VirtualMachine');
  const nodeKind = opts.kinds.find((k) => k.kind === 'Node');
  if (!vmKind || !nodeKind) throw new Error('vm-logs: the VirtualMachine and Node kinds must be loaded');
  const readTimeoutMs = opts.readTimeoutMs ?? 30_000;
  // Connections to agents are separate from everything else the server does; closed with the app.
  const agents = new AgentConnections(opts.agentTls, opts.connectTimeoutMs ?? 5_000);
  app.addHook('onClose', async () => {
    await agents.close();
  });

  const gvk = { group: vmKind.group, version: vmKind.version, kind: vmKind.kind };
  app.get(`/apis/${vmKind.group}/${vmKind.version}/namespaces/:namespace/${vmKind.plural}/:name/log`, {
    schema: {
      tags: [vmKind.plural],
      operationId: `readNamespaced${vmKind.kind}Log`,
      summary: `Read the serial console of a ${vmKind.kind}`,
      'x-kubernetes-group-version-kind': gvk,
      'x-kubernetes-action': 'get',
      produces: ['text/plain'],
      params: objectPathParams(vmKind),
      querystring: {
        type: 'object',
        properties: {
          follow: { type: 'string', description: 'Keep the stream open and send new console output as it is written' },
          tailLines: { type: 'integer', minimum: 0, description: 'Start this many lines before the end of the console log' },
          pretty: { type: 'string', description: 'Ignored' },
        },
      },
      response: {
        200: { type: 'string', description: 'The console output, as text/plain' },
        default: { $ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status#' },
      },
    },
    config: { resource: `${vmKind.plural}/log`, verb: 'get', longRunning: true },
    handler: async (req: Req, reply: FastifyReply) => {
      const { namespace, name } = req.params;
      const follow = parseFollow(req.query.follow);
      const vm = await opts.objects.get({ kind: vmKind, namespace, name });
      const nodeName = (vm as VirtualMachine).spec.nodeName;
      if (!nodeName) throw badRequest(`${vmKind.singular} ${name} is not scheduled to a node yet`);
      const agentAddress = await agentAddressOf(opts.objects, nodeKind, nodeName, name);

      const url = new URL(`${agentAddress.replace(/\/+$/, '')}/logs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`);
      url.searchParams.set('follow', String(follow));
      if (req.query.tailLines !== undefined) url.searchParams.set('tailLines', String(req.query.tailLines));

      // The client going away (Ctrl-C on `logs -f`) must end the agent's stream too.
      const upstreamAbort = new AbortController();
      reply.raw.on('close', () => upstreamAbort.abort());

      let upstream: Dispatcher.ResponseData;
      try {
        upstream = await agents.request(url, {
          method: 'GET',
          headers: { accept: 'text/plain, application/json' },
          signal: upstreamAbort.signal,
          // A followed console may be quiet for hours; a finished one should answer promptly.
          headersTimeout: follow ? 0 : readTimeoutMs,
          bodyTimeout: follow ? 0 : readTimeoutMs,
        });
      } catch (err) {
        if (upstreamAbort.signal.aborted) {
          // Nobody is listening any more; there is no one to answer.
          reply.hijack();
          reply.raw.destroy();
          return;
        }
        throw connectionError(err, nodeName, agentAddress, opts.agentTls);
      }
      // The agent did not admit the apiserver: the user's request was fine, so not their 401/403.
      if (upstream.statusCode === 401 || upstream.statusCode === 403) {
        throw refusedByAgent(upstream.statusCode, await boundedText(upstream.body, 4096), nodeName, agentAddress, opts.agentTls);
      }

      reply.hijack();
      const res = reply.raw;
      const headers: Record<string, string> = {};
      for (const h of RELAYED_HEADERS) {
        const v = upstream.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      headers['content-type'] ??= 'text/plain; charset=utf-8';
      res.writeHead(upstream.statusCode, headers);
      // The stream is open from the client's point of view even before the console says anything.
      res.flushHeaders();
      try {
        await pipeline(upstream.body, res);
      } catch (err) {
        // The client left (its close aborted the agent request) or the agent broke off mid-stream:
        // the response is already under way, so all that can be done is to cut it off, which
        // tells the client the log is incomplete.
        if (!upstreamAbort.signal.aborted)
          req.log.warn({ err: describe(err), node: nodeName, vm: `${namespace}/${name}` }, 'console log stream from the agent broke off');
        res.destroy();
      }
    },
  });
}

function parseFollow(value: string | undefined): boolean {
  if (value === undefined || FALSE.has(value)) return false;
  if (TRUE.has(value)) return true;
  throw badRequest(`invalid follow "${value}": give true or false`, [{ field: 'follow', message: 'must be true or false' }]);
}

async function agentAddressOf(objects: ObjectReader, nodeKind: KindInfo, nodeName: string, vmName: string): Promise<string> {
  let node: KubeObject;
  try {
    node = await objects.get({ kind: nodeKind, name: nodeName });
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) {
      throw new ApiError(503, 'ServiceUnavailable', `virtualmachine ${vmName} is bound to node ${nodeName}, which does not exist`);
    }
    throw err;
  }
  return agentAddressOfNode(node as Node);
}

/** At most `limit` bytes of a body, the rest discarded: an agent's refusal is short, whatever it sends. */
async function boundedText(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= limit) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
