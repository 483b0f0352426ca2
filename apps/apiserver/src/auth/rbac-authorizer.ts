/**
 * RBAC (Kubernetes' rbac authorizer over Shoal's own kinds): a request is allowed when a
 * ClusterRoleBinding, or a RoleBinding in the request's namespace, binds the user or one of
 * its groups to a role with a rule that matches. Nothing matches → no opinion, which the chain
 * turns into a denial. Roles and bindings are read from the watch cache; before denying, the
 * authorizer lets the cache catch up with etcd once, so a binding just written is honoured.
 */
import type { KindInfo, KubeObject } from '@shoal/api';
import type { Authorizer, Decision } from './authorizer.js';
import { resourceWithSubresource, type RequestAttributes, type ResourceAttributes } from './request-attributes.js';
import type { UserInfo } from './user.js';

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Subject {
  kind: 'User' | 'Group';
  name: string;
}

export interface RoleObject extends KubeObject {
  rules?: PolicyRule[];
}

export interface BindingObject extends KubeObject {
  subjects?: Subject[];
  roleRef: { kind: 'Role' | 'ClusterRole'; name: string; apiGroup?: string };
}

/** Where the authorizer reads roles and bindings from. */
export interface RbacSource {
  roles(): Iterable<RoleObject>;
  clusterRoles(): Iterable<RoleObject>;
  roleBindings(): Iterable<BindingObject>;
  clusterRoleBindings(): Iterable<BindingObject>;
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
    roles: () => objectsOf<RoleObject>(kinds.role),
    clusterRoles: () => objectsOf<RoleObject>(kinds.clusterRole),
    roleBindings: () => objectsOf<BindingObject>(kinds.roleBinding),
    clusterRoleBindings: () => objectsOf<BindingObject>(kinds.clusterRoleBinding),
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

function bindsUser(binding: BindingObject, user: UserInfo): boolean {
  return (binding.subjects ?? []).some((s) => (s.kind === 'User' ? s.name === user.name : s.kind === 'Group' && user.groups.includes(s.name)));
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
    const clusterRoles = new Map<string, RoleObject>();
    for (const r of this.source.clusterRoles()) clusterRoles.set(r.metadata.name!, r);
    for (const b of this.source.clusterRoleBindings()) {
      if (b.roleRef?.kind !== 'ClusterRole' || !bindsUser(b, user)) continue;
      yield* clusterRoles.get(b.roleRef.name)?.rules ?? [];
    }
    if (!namespace) return;
    let roles: Map<string, RoleObject> | undefined;
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
