/**
 * Which requests are audited and what their entry says. Every mutating request (POST, PUT,
 * PATCH, DELETE) on an API resource path, subresources such as /status and /binding included,
 * whatever its outcome (refusals by authentication, authorization, rate limits and admission
 * too); dry runs are audited and marked. Reads are not. The entry is appended after the
 * response has been sent (onResponse), with the response code, the Status reason of a failure
 * and the object's uid and resourceVersion from the response body when it has them. A request
 * that impersonated someone names both: `user` and `groups` its sender, `impersonatedUser` who
 * it acted as (as Kubernetes' audit events). Each audited response carries its requestID as the
 * `Audit-ID` header, as Kubernetes does.
 *
 * A request that writes many objects (a bulk bind) says which, and how each fared, through
 * auditItems(): each gets an entry of its own after the request's, with the request's requestID
 * and user, as if it had been asked for alone — the log answers "who bound this VM" for a VM
 * bound in bulk as for one bound alone.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requestAttributes } from '../auth/request-attributes.js';
import { isDryRun } from '../registry/dry-run.js';
import type { AuditEvent, AuditLog } from './audit-log.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const MAX_USER_AGENT = 1024;

/** One object a request wrote (or failed to): its own audit entry beside the request's. */
export type AuditedItem = Pick<AuditEvent, 'apiGroup' | 'apiVersion' | 'resource' | 'subresource' | 'namespace' | 'name' | 'code' | 'reason'>;

const itemsOf = new WeakMap<FastifyRequest, AuditedItem[]>();

/** Records the objects `req` wrote, each with its own outcome, for the audit log (if there is one). */
export function auditItems(req: FastifyRequest, items: AuditedItem[]): void {
  itemsOf.set(req, items);
}

/** What onSend learnt about a request, for onResponse. */
interface Pending {
  requestID: string;
  reason?: string;
  uid?: string;
  resourceVersion?: string;
  name?: string;
}

type RequestUser = { name?: string; username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };

/**
 * Who sent the request and, when it impersonated someone, who it acted as, as authentication
 * leaves them on the request (auth/plugin.ts: `req.authenticatedUser` the sender, `req.user`
 * the user it acts as); without a user, Kubernetes' anonymous user.
 */
export function auditUser(req: FastifyRequest): Pick<AuditEvent, 'user' | 'groups' | 'impersonatedUser'> {
  const r = req as FastifyRequest & { user?: RequestUser | null; authenticatedUser?: RequestUser | null };
  const acting = r.user ?? undefined;
  const sender = r.authenticatedUser ?? acting;
  const name = sender?.name ?? sender?.username;
  if (!name) return { user: 'system:anonymous', groups: ['system:unauthenticated'] };
  const out: Pick<AuditEvent, 'user' | 'groups' | 'impersonatedUser'> = { user: name, groups: sender?.groups ?? [] };
  const actingName = acting?.name ?? acting?.username;
  if (acting && acting !== sender && actingName)
    out.impersonatedUser = {
      username: actingName,
      ...(acting.uid !== undefined ? { uid: acting.uid } : {}),
      groups: acting.groups ?? [],
      ...(acting.extra ? { extra: acting.extra } : {}),
    };
  return out;
}

/**
 * The object part of an entry, from the request attributes authorization works with
 * (auth/request-attributes.ts: one parser of API paths for both), or undefined for a request
 * that is not about a resource.
 */
function auditedObject(
  req: FastifyRequest,
): Pick<AuditEvent, 'verb' | 'apiGroup' | 'apiVersion' | 'resource' | 'subresource' | 'namespace' | 'name'> | undefined {
  const a = requestAttributes(req.method, req.url);
  if (!a.resourceRequest || !a.resource) return undefined;
  return {
    verb: a.verb,
    apiGroup: a.apiGroup,
    apiVersion: a.apiVersion,
    resource: a.resource,
    ...(a.subresource ? { subresource: a.subresource } : {}),
    ...(a.namespace ? { namespace: a.namespace } : {}),
    ...(a.name ? { name: a.name } : {}),
  };
}

/** A dry run by the query, or by the DeleteOptions of a delete (read as sent: the request may have been refused). */
function dryRunOf(req: FastifyRequest): boolean {
  const q = (req.query ?? {}) as { dryRun?: string | string[] };
  if (isDryRun(q.dryRun)) return true;
  const body = req.body as { dryRun?: unknown } | undefined;
  return req.method === 'DELETE' && Array.isArray(body?.dryRun) && isDryRun(body.dryRun);
}

/** The uid, resourceVersion and name of a returned object, or the reason of a returned Status. */
function readPayload(payload: unknown, pending: Pending): void {
  let text: string | undefined;
  if (typeof payload === 'string') text = payload;
  else if (Buffer.isBuffer(payload)) text = payload.toString('utf8');
  if (!text || text[0] !== '{') return;
  let body: { kind?: string; reason?: string; metadata?: { uid?: unknown; resourceVersion?: unknown; name?: unknown } };
  try {
    body = JSON.parse(text);
  } catch {
    return;
  }
  if (body.kind === 'Status') {
    if (typeof body.reason === 'string' && body.reason) pending.reason = body.reason;
    return;
  }
  if (body.kind?.endsWith('List')) return;
  const m = body.metadata;
  if (typeof m?.uid === 'string') pending.uid = m.uid;
  if (typeof m?.resourceVersion === 'string' && m.resourceVersion) pending.resourceVersion = m.resourceVersion;
  if (typeof m?.name === 'string') pending.name = m.name;
}

/** Audits every mutating resource request of the app into `log`; call on the root instance before the routes. */
export function auditRequests(app: FastifyInstance, log: AuditLog): void {
  const pending = new WeakMap<FastifyRequest, Pending>();
  const audited = (req: FastifyRequest) => MUTATING.has(req.method) && (req.url.startsWith('/apis/') || req.url.startsWith('/api/'));

  app.addHook('onSend', (req: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => {
    if (audited(req)) {
      const p: Pending = { requestID: randomUUID() };
      readPayload(payload, p);
      pending.set(req, p);
      void reply.header('Audit-ID', p.requestID);
    }
    done(null, payload);
  });

  app.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (audited(req)) {
      const object = auditedObject(req);
      if (object) {
        const p = pending.get(req) ?? { requestID: randomUUID() };
        const ua = req.headers['user-agent'];
        const event: AuditEvent = {
          time: new Date().toISOString(),
          requestID: p.requestID,
          ...auditUser(req),
          ...object,
          // A create names its object in the body, not the path.
          ...(object.name === undefined && req.method === 'POST' && p.name ? { name: p.name } : {}),
          dryRun: dryRunOf(req),
          code: reply.statusCode,
          ...(p.reason ? { reason: p.reason } : {}),
          ...(p.uid ? { uid: p.uid } : {}),
          ...(p.resourceVersion ? { resourceVersion: p.resourceVersion } : {}),
          sourceIP: req.ip,
          ...(typeof ua === 'string' ? { userAgent: ua.slice(0, MAX_USER_AGENT) } : {}),
        };
        try {
          log.append(event);
          // The request's uid, resourceVersion and reason are its own, not its items'.
          const { uid: _uid, resourceVersion: _rv, reason: _reason, ...shared } = event;
          for (const item of itemsOf.get(req) ?? []) log.append({ ...shared, verb: 'create', ...item });
        } catch (err) {
          req.log.error({ err: (err as Error).message }, 'audit entry lost');
        }
      }
    }
    done();
  });
}
