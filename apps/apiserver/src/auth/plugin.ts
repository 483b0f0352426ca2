/**
 * Authentication and authorization of every request, as two root hooks:
 *  - onRequest authenticates: a client certificate (--client-ca-file), else a bearer token
 *    (--token-auth-file). Bad credentials are 401. Without credentials, when an authenticator is
 *    configured, the request is 401 too, except the public paths (health, /version, the web
 *    console's files under /ui), unless
 *    --anonymous-auth lets it through as system:anonymous. With no authenticator configured every
 *    request is system:anonymous, and the default mode AlwaysAllow keeps the server open.
 *    Then, when the request carries Impersonate-* headers, the requester's rights to impersonate
 *    are authorized (impersonation.ts; 403 naming what it may not impersonate) and the request
 *    goes on as the impersonated user: `req.user` is who the request acts as from here on,
 *    `req.authenticatedUser` who sent it (the audit log records both).
 *  - preValidation authorizes (after the body is parsed: the Node mode judges a create by the
 *    object's name, before anything else looks at the body): system:masters may do anything;
 *    the public paths are open to everyone and discovery (/api, /apis, /openapi) to every
 *    authenticated user, as Kubernetes' system:public-info-viewer and system:discovery roles;
 *    everything else goes to the --authorization-mode chain, and a request no mode allows is 403.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, type ClusterRole, type KindInfo, type Role, type VirtualMachine, type Volume, type Migration, type DiskBackup } from '@shoal/api';
import { alwaysAllow, alwaysDeny, AuthorizerChain, type Authorizer, type AuthorizationMode } from './authorizer.js';
import { authenticateClientCertificate } from './client-certificate.js';
import { NodeAuthorizer } from './node-authorizer.js';
import { cachedRbacSource, RbacAuthorizer } from './rbac-authorizer.js';
import { escalationCheck, type RoleLookup } from './escalation.js';
import { firstRefused, impersonatedUser, impersonationChecks, mentionsImpersonation, readImpersonationHeaders } from './impersonation.js';
import { requestAttributes, resourceWithSubresource, type RequestAttributes, type ResourceAttributes } from './request-attributes.js';
import type { TokenAuthenticator } from './token-file.js';
import { anonymousUser, authenticated, SYSTEM_AUTHENTICATED, SYSTEM_MASTERS, type UserInfo } from './user.js';

export interface AuthOptions {
  tokens?: TokenAuthenticator;
  /** Client certificates are verified by the TLS server (its `ca` and `requestCert`); this turns reading them on. */
  clientCertificates?: boolean;
  /** Let requests without credentials through as system:anonymous (to be authorized) instead of answering 401. */
  anonymousAuth?: boolean;
  /** Default: AlwaysAllow without authenticators, Node,RBAC with one. */
  authorizationModes?: AuthorizationMode[];
}

export interface AuthDeps {
  cache: {
    objects(kind: KindInfo): Iterable<{ object: import('@shoal/api').KubeObject }>;
    getObject(kind: KindInfo, namespace: string | undefined, name: string): import('@shoal/api').KubeObject | undefined;
    waitForRevision(rev: number, timeoutMs: number): Promise<boolean>;
  };
  currentRevision(): Promise<number>;
  kindOf(kind: string): KindInfo;
}

/**
 * Health and version: open to anyone, credentials or not (Kubernetes' system:public-info-viewer).
 * So are the web console's static files (routes/console.ts): the sign-in page cannot need a
 * sign-in, and every API call the console makes carries the user's token.
 */
const PUBLIC_PATHS = ['/healthz', '/readyz', '/livez', '/version', '/ui'];
/**
 * Webhooks (routes/gitrepository-webhook.ts): outside user authentication and authorization, as
 * a git host cannot hold a user's token. Each route authenticates its call with a token of its
 * own, and an Authorization header there carries that token, not a user's.
 */
const SELF_AUTHENTICATED_PATHS = ['/hooks'];
/** Discovery: open to every authenticated user (Kubernetes' system:discovery). */
const DISCOVERY_PATHS = ['/api', '/apis', '/openapi'];

const under = (path: string, roots: string[]) => roots.some((r) => path === r || path.startsWith(`${r}/`));

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who the request acts as: the authenticated user (system:anonymous when it carried no
     * credentials), or the user it impersonates. Authorization, admission and the rest read this.
     */
    user: UserInfo | null;
    /** Who sent the request, as authentication established it; differs from `user` when it impersonates. */
    authenticatedUser: UserInfo | null;
  }
}

const users = {
  get: (req: FastifyRequest) => req.user ?? undefined,
  set: (req: FastifyRequest, user: UserInfo) => void (req.user = user),
};

/** The user a request acts as (system:anonymous when it carried no credentials; the impersonated user when it impersonates). */
export function requestUser(req: FastifyRequest): UserInfo | undefined {
  return req.user ?? undefined;
}

export function effectiveModes(opts: AuthOptions): AuthorizationMode[] {
  if (opts.authorizationModes?.length) return opts.authorizationModes;
  return opts.tokens || opts.clientCertificates ? ['Node', 'RBAC'] : ['AlwaysAllow'];
}

export function forbiddenMessage(user: UserInfo, a: RequestAttributes, reason?: string): string {
  const why = reason ? `: ${reason}` : '';
  if (!a.resourceRequest) return `forbidden: User "${user.name}" cannot ${a.verb} path "${a.path}"${why}`;
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const named = a.name && a.verb !== 'list' && a.verb !== 'watch' ? ` "${a.name}"` : '';
  const where = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `${qualified}${named} is forbidden: User "${user.name}" cannot ${a.verb} resource "${resourceWithSubresource(a)}" in API group "${a.apiGroup}" ${where}${why}`;
}

/**
 * Header values one per header line, as Node keeps them apart (a group name may hold a comma).
 * Requests made with app.inject() have no headersDistinct; their headers are split as given.
 */
function distinctHeaders(req: FastifyRequest): Record<string, string[] | undefined> {
  if (req.raw.headersDistinct) return req.raw.headersDistinct;
  return Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, v === undefined ? undefined : Array.isArray(v) ? v : [String(v)]]));
}

const unauthorized = () => new ApiError(401, 'Unauthorized', 'Unauthorized');

export function registerAuth(app: FastifyInstance, opts: AuthOptions, deps: AuthDeps): { modes: AuthorizationMode[] } {
  const modes = effectiveModes(opts);
  const authenticating = Boolean(opts.tokens || opts.clientCertificates);
  const catchUp = async () => deps.cache.waitForRevision(await deps.currentRevision(), 3_000);
  let rbac: RbacAuthorizer | undefined;
  const roles: RoleLookup = {
    role: (ns, name) => deps.cache.getObject(deps.kindOf('Role'), ns, name) as Role | undefined,
    clusterRole: (name) => deps.cache.getObject(deps.kindOf('ClusterRole'), undefined, name) as ClusterRole | undefined,
  };
  const authorizers: Authorizer[] = modes.map((mode) => {
    switch (mode) {
      case 'AlwaysAllow':
        return alwaysAllow;
      case 'AlwaysDeny':
        return alwaysDeny;
      case 'Node': {
        const [vm, volume, migration, diskBackup] = (['VirtualMachine', 'Volume', 'Migration', 'DiskBackup'] as const).map((k) => deps.kindOf(k));
        return new NodeAuthorizer({
          virtualMachine: (ns, name) => deps.cache.getObject(vm!, ns, name) as VirtualMachine | undefined,
          virtualMachines: () => [...deps.cache.objects(vm!)].map((o) => o.object as VirtualMachine),
          volume: (ns, name) => deps.cache.getObject(volume!, ns, name) as Volume | undefined,
          migration: (ns, name) => deps.cache.getObject(migration!, ns, name) as Migration | undefined,
          diskBackup: (ns, name) => deps.cache.getObject(diskBackup!, ns, name) as DiskBackup | undefined,
          catchUp,
        });
      }
      case 'RBAC':
        return (rbac = new RbacAuthorizer(
          cachedRbacSource(deps.cache, deps.currentRevision, {
            role: deps.kindOf('Role'),
            clusterRole: deps.kindOf('ClusterRole'),
            roleBinding: deps.kindOf('RoleBinding'),
            clusterRoleBinding: deps.kindOf('ClusterRoleBinding'),
          }),
        ));
    }
  });
  const chain = new AuthorizerChain(authorizers);
  const allowAll = modes.length === 1 && modes[0] === 'AlwaysAllow';

  /** Whether `user` may do what `attrs` says, by the same rules as a request: for impersonation's own checks. */
  const mayDo = async (user: UserInfo, attrs: ResourceAttributes) =>
    allowAll || user.groups.includes(SYSTEM_MASTERS) || (await chain.authorize(user, attrs)).decision === 'allow';

  const authenticate = (req: FastifyRequest): UserInfo => {
    if (opts.clientCertificates) {
      const outcome = authenticateClientCertificate(req.raw.socket);
      if (outcome && 'error' in outcome) {
        req.log.info({ reason: outcome.error }, 'authentication failed');
        throw unauthorized();
      }
      if (outcome) return authenticated(outcome.user);
    }
    const header = req.headers.authorization;
    if (opts.tokens && header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      const user = m ? opts.tokens.authenticate(m[1]!) : undefined;
      if (!user) throw unauthorized();
      return authenticated(user);
    }
    if (authenticating && !opts.anonymousAuth && !under(pathOf(req.url), PUBLIC_PATHS)) throw unauthorized();
    return anonymousUser();
  };

  app.decorateRequest('user', null);
  app.decorateRequest('authenticatedUser', null);
  app.addHook('onRequest', async (req) => {
    if (under(pathOf(req.url), SELF_AUTHENTICATED_PATHS)) return void users.set(req, anonymousUser());
    const requester = authenticate(req);
    req.authenticatedUser = requester;
    users.set(req, requester);
    // Node builds headersDistinct (an object of every header) when first read: only for the rare request that impersonates.
    const asked = mentionsImpersonation(req.raw.rawHeaders) ? readImpersonationHeaders(distinctHeaders(req)) : undefined;
    if (!asked) return;
    const refused = await firstRefused(impersonationChecks(asked), (attrs) => mayDo(requester, attrs));
    if (refused) {
      const a = refused.attrs;
      req.log.info({ user: requester.name, groups: requester.groups, impersonate: asked.user, resource: a.resource, name: a.name }, 'impersonation forbidden');
      throw new ApiError(403, 'Forbidden', forbiddenMessage(requester, a), { name: a.name, group: a.apiGroup, kind: a.resource });
    }
    users.set(req, impersonatedUser(asked));
  });

  app.addHook('preValidation', async (req) => {
    if (allowAll) return;
    const user = users.get(req) ?? anonymousUser();
    if (user.groups.includes(SYSTEM_MASTERS)) return;
    const path = pathOf(req.url);
    if (under(path, PUBLIC_PATHS) || under(path, SELF_AUTHENTICATED_PATHS)) return;
    const attrs = requestAttributes(req.method, req.url);
    if (!attrs.resourceRequest && under(path, DISCOVERY_PATHS) && user.groups.includes(SYSTEM_AUTHENTICATED) && attrs.verb === 'get') return;
    const decision = await chain.authorize(user, attrs, req.body);
    const reason = decision.reason;
    if (decision.decision === 'allow') {
      if (!rbac) return;
      // Allowed to write roles or bindings: not to grant more than one has (escalation.ts).
      if (escalationCheck(rbac, roles, user, attrs, req.body) === undefined) return;
      await catchUp();
      const escalation = escalationCheck(rbac, roles, user, attrs, req.body);
      if (escalation === undefined) return;
      const a = attrs as ResourceAttributes;
      const name = a.name || ((req.body as { metadata?: { name?: string } } | undefined)?.metadata?.name ?? '');
      throw new ApiError(
        403,
        'Forbidden',
        `${a.resource}.${a.apiGroup}${name ? ` "${name}"` : ''} is forbidden: User "${user.name}" is attempting to grant RBAC permissions not currently held: ${escalation}`,
        {
          ...(name ? { name } : {}),
          group: a.apiGroup,
          kind: a.resource,
        },
      );
    }
    const message = forbiddenMessage(user, attrs, reason);
    req.log.info({ user: user.name, groups: user.groups, verb: attrs.verb, path }, 'forbidden');
    throw new ApiError(
      403,
      'Forbidden',
      message,
      attrs.resourceRequest ? { ...(attrs.name ? { name: attrs.name } : {}), group: attrs.apiGroup, kind: attrs.resource } : undefined,
    );
  });
  return { modes };
}
