/**
 * Privilege escalation prevention for RBAC (Kubernetes' escalate and bind checks): being
 * allowed to write roles and bindings must not be a way to get more than one already has.
 *  - Creating or replacing a Role/ClusterRole needs every permission it grants (in the role's
 *    namespace; cluster-wide for a ClusterRole), or the `escalate` verb on that resource.
 *  - Creating or replacing a RoleBinding/ClusterRoleBinding needs every permission of the role it
 *    names (where the binding grants it), or the `bind` verb on that role.
 *  - A patch's result is not known before it is applied, so patching roles and bindings needs
 *    `escalate` or `bind` respectively.
 * system:masters skips this, as it skips authorization.
 * Coverage is checked per atom (one verb on one resource of one group, or one verb on one path),
 * so permissions spread over several of one's own rules count.
 */
import type { ClusterRole, PolicyRule, Role, RoleBinding } from '@shoal/api';
import type { RbacAuthorizer } from './rbac-authorizer.js';
import type { RequestAttributes, ResourceAttributes } from './request-attributes.js';
import type { UserInfo } from './user.js';

const ROLE_RESOURCES = new Set(['roles', 'clusterroles']);
const BINDING_RESOURCES = new Set(['rolebindings', 'clusterrolebindings']);

export interface RoleLookup {
  role(namespace: string, name: string): Role | undefined;
  clusterRole(name: string): ClusterRole | undefined;
}

/** The atoms of a rule, each a request the rule allows; '*' stays '*' (only a '*' of one's own covers it). */
function atoms(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const verb of rule.verbs) {
    for (const url of rule.nonResourceURLs ?? []) out.push({ verbs: [verb], nonResourceURLs: [url] });
    for (const group of rule.apiGroups ?? [])
      for (const resource of rule.resources ?? [])
        for (const name of rule.resourceNames?.length ? rule.resourceNames : [undefined])
          out.push({ verbs: [verb], apiGroups: [group], resources: [resource], ...(name !== undefined ? { resourceNames: [name] } : {}) });
  }
  return out;
}

/** Whether one's own rule grants everything an atom grants. */
function covers(own: PolicyRule, atom: PolicyRule): boolean {
  const within = (mine: string[] | undefined, want: string) => !!mine && (mine.includes('*') || mine.includes(want));
  if (!within(own.verbs, atom.verbs[0]!)) return false;
  if (atom.nonResourceURLs) {
    const url = atom.nonResourceURLs[0]!;
    return (own.nonResourceURLs ?? []).some((u) => u === '*' || u === url || (u.endsWith('*') && url.startsWith(u.slice(0, -1))));
  }
  if (!within(own.apiGroups, atom.apiGroups![0]!) || !within(own.resources, atom.resources![0]!)) return false;
  if (!own.resourceNames?.length) return true;
  return !!atom.resourceNames && own.resourceNames.includes(atom.resourceNames[0]!);
}

function coveredBy(ownRules: PolicyRule[], wanted: PolicyRule[]): PolicyRule | undefined {
  for (const rule of wanted) for (const atom of atoms(rule)) if (!ownRules.some((o) => covers(o, atom))) return atom;
  return undefined;
}

const describeAtom = (a: PolicyRule) =>
  a.nonResourceURLs
    ? `${a.verbs[0]} ${a.nonResourceURLs[0]}`
    : `${a.verbs[0]} ${a.resources![0]}${a.resourceNames ? ` "${a.resourceNames[0]}"` : ''} in API group "${a.apiGroups![0]}"`;

/** Undefined when the write may go ahead; otherwise why not. */
export function escalationCheck(rbac: RbacAuthorizer, roles: RoleLookup, user: UserInfo, attrs: RequestAttributes, body: unknown): string | undefined {
  // Reads the cache as it is: the caller lets it catch up first.
  if (!attrs.resourceRequest || attrs.apiGroup !== 'shoal.dev' || attrs.subresource) return undefined;
  const isRole = ROLE_RESOURCES.has(attrs.resource);
  const isBinding = BINDING_RESOURCES.has(attrs.resource);
  if (!(isRole || isBinding) || !['create', 'update', 'patch'].includes(attrs.verb)) return undefined;
  const a = attrs as ResourceAttributes;
  // The request's body, before validation: any of its fields may be missing.
  const obj = (body ?? {}) as Partial<Role> & { roleRef?: Partial<RoleBinding['roleRef']> };

  if (isRole) {
    const name = a.name || obj.metadata?.name || '';
    if (rbac.allows(user, { ...a, verb: 'escalate', name })) return undefined;
    if (a.verb === 'patch') return `patching ${a.resource} needs the "escalate" verb (the result of a patch cannot be checked beforehand)`;
    const missing = coveredBy([...rbac.rulesFor(user, a.namespace)], Array.isArray(obj.rules) ? obj.rules : []);
    return missing && `the role would grant what you may not do yourself (${describeAtom(missing)}), and you may not escalate ${a.resource}`;
  }

  const ref = obj.roleRef;
  const refResource = ref?.kind === 'Role' ? 'roles' : 'clusterroles';
  const bindAttrs = (name: string): ResourceAttributes => ({ ...a, verb: 'bind', resource: refResource, name });
  if (a.verb === 'patch') {
    const bindsAny = ['roles', 'clusterroles'].every((resource) => rbac.allows(user, { ...a, verb: 'bind', resource, name: '' }));
    return bindsAny ? undefined : `patching ${a.resource} needs the "bind" verb on every role (the result of a patch cannot be checked beforehand)`;
  }
  if (!ref?.name) return undefined; // validation refuses it
  if (rbac.allows(user, bindAttrs(ref.name))) return undefined;
  const role = ref.kind === 'Role' ? roles.role(a.namespace, ref.name) : roles.clusterRole(ref.name);
  if (!role) return `${ref.kind} "${ref.name}" does not exist, and you may not bind it`;
  const missing = coveredBy([...rbac.rulesFor(user, a.namespace)], role.rules ?? []);
  return missing && `${ref.kind} "${ref.name}" grants what you may not do yourself (${describeAtom(missing)}), and you may not bind it`;
}
