/**
 * RBAC (Kubernetes' rbac authorizer over Shoal's own kinds): a request is allowed when a
 * ClusterRoleBinding, or a RoleBinding in the request's namespace, binds the user (by name, or
 * as a ServiceAccount) or one of its groups to a role with a rule that matches. Nothing
 * matches → no opinion, which the chain turns into a denial. Roles and bindings are read from
 * the watch cache; before denying, the authorizer lets the cache catch up with etcd once, so a
 * binding just written is honoured.
 */
import {
  serviceAccountUser,
  type ClusterRole,
  type ClusterRoleBinding,
  type KindInfo,
  type KubeObject,
  type PolicyRule,
  type Role,
  type RoleBinding,
} from '@shoal/api';
import type { Authorizer, Decision } from './authorizer.js';
import { resourceWithSubresource, type RequestAttributes, type ResourceAttributes } from './request-attributes.js';
import type { UserInfo } from './user.js';

/** Where the authorizer reads roles and bindings from. */
export interface RbacSource {
  roles(): Iterable<Role>;
  clusterRoles(): Iterable<ClusterRole>;
  roleBindings(): Iterable<RoleBinding>;
  clusterRoleBindings(): Iterable<ClusterRoleBinding>;
  /** Waits until what the source holds includes every write made so far; false if it could not. */
  catchUp(): Promise<boolean>;
}

export interface RbacKinds {
  role: KindInfo;
  clusterRole: KindInfo;
  roleBinding: KindInfo;
  clusterRoleBinding: KindInfo;
}

/** The watch cache as an RbacSource. */
export function cachedRbacSource(
  cache: { objects(kind: KindInfo): Iterable<{ object: KubeObject }>; waitForRevision(rev: number, timeoutMs: number): Promise<boolean> },
  currentRevision: () => Promise<number>,
  kinds: RbacKinds,
): RbacSource {
  function* objectsOf<T>(kind: KindInfo): Iterable<T> {
    for (const { object } of cache.objects(kind)) yield object as T;
  }
  return {
    roles: () => objectsOf<Role>(kinds.role),
    clusterRoles: () => objectsOf<ClusterRole>(kinds.clusterRole),
    roleBindings: () => objectsOf<RoleBinding>(kinds.roleBinding),
    clusterRoleBindings: () => objectsOf<ClusterRoleBinding>(kinds.clusterRoleBinding),
    catchUp: async () => cache.waitForRevision(await currentRevision(), 3_000),
  };
}

const has = (list: string[] | undefined, value: string) => !!list && (list.includes('*') || list.includes(value));

function resourceMatches(rule: PolicyRule, a: ResourceAttributes): boolean {
  const want = resourceWithSubresource(a);
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === want) return true;
    if (a.subresource && (r === `*/${a.subresource}` || r === `${a.resource}/*`)) return true;
  }
  return false;
}

export function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.resourceRequest) {
    return (rule.nonResourceURLs ?? []).some((u) => u === '*' || u === a.path || (u.endsWith('*') && a.path.startsWith(u.slice(0, -1))));
  }
  if (!has(rule.apiGroups, a.apiGroup) || !resourceMatches(rule, a)) return false;
  if (rule.resourceNames?.length) return a.name !== '' && rule.resourceNames.includes(a.name);
  return true;
}

/**
 * Whether one of the binding's subjects is the user: a User by name, a Group the user is in, or
 * a ServiceAccount whose user (system:serviceaccount:<namespace>:<name>) it is. A ServiceAccount
 * subject of a RoleBinding without a namespace is in the binding's namespace, as in Kubernetes;
 * in a ClusterRoleBinding validation requires one.
 */
function bindsUser(binding: RoleBinding | ClusterRoleBinding, user: UserInfo): boolean {
  return (binding.subjects ?? []).some((s) => {
    switch (s.kind) {
      case 'User':
        return s.name === user.name;
      case 'Group':
        return user.groups.includes(s.name);
      case 'ServiceAccount': {
        const namespace = s.namespace || binding.metadata.namespace;
        return !!namespace && serviceAccountUser(namespace, s.name) === user.name;
      }
      default:
        return false;
    }
  });
}

export class RbacAuthorizer implements Authorizer {
  readonly name = 'RBAC';

  constructor(private readonly source: RbacSource) {}

  async authorize(user: UserInfo, attrs: RequestAttributes): Promise<Decision> {
    if (this.allows(user, attrs)) return { decision: 'allow' };
    // A binding or role written a moment ago may not be in the cache yet: catch up once before denying.
    if ((await this.source.catchUp()) && this.allows(user, attrs)) return { decision: 'allow' };
    return { decision: 'no-opinion' };
  }

  /** Every rule that applies to the user for a request in `namespace` ('' = cluster scope). */
  *rulesFor(user: UserInfo, namespace: string): Iterable<PolicyRule> {
    const clusterRoles = new Map<string, ClusterRole>();
    for (const r of this.source.clusterRoles()) clusterRoles.set(r.metadata.name!, r);
    for (const b of this.source.clusterRoleBindings()) {
      if (b.roleRef?.kind !== 'ClusterRole' || !bindsUser(b, user)) continue;
      yield* clusterRoles.get(b.roleRef.name)?.rules ?? [];
    }
    if (!namespace) return;
    let roles: Map<string, Role> | undefined;
    for (const b of this.source.roleBindings()) {
      if (b.metadata.namespace !== namespace || !bindsUser(b, user)) continue;
      if (b.roleRef?.kind === 'ClusterRole') yield* clusterRoles.get(b.roleRef.name)?.rules ?? [];
      else if (b.roleRef?.kind === 'Role') {
        roles ??= new Map([...this.source.roles()].filter((r) => r.metadata.namespace === namespace).map((r) => [r.metadata.name!, r]));
        yield* roles.get(b.roleRef.name)?.rules ?? [];
      }
    }
  }

  allows(user: UserInfo, attrs: RequestAttributes): boolean {
    const namespace = attrs.resourceRequest ? attrs.namespace : '';
    for (const rule of this.rulesFor(user, namespace)) {
      // Non-resource URLs are granted by ClusterRoleBindings only, as in Kubernetes.
      if (!attrs.resourceRequest && rule.nonResourceURLs === undefined) continue;
      if (ruleAllows(rule, attrs)) return true;
    }
    return false;
  }
}
