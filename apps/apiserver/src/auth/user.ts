/** Who a request is from, as the authenticators establish it; names as in Kubernetes. */

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  /** Further attributes (Kubernetes' extra): only impersonation sets them here (Impersonate-Extra-<key>). */
  extra?: Record<string, string[]>;
}

/** Members are allowed everything, by every authorization mode (Kubernetes' privileged group). */
export const SYSTEM_MASTERS = 'system:masters';
export const SYSTEM_AUTHENTICATED = 'system:authenticated';
export const SYSTEM_UNAUTHENTICATED = 'system:unauthenticated';
export const ANONYMOUS_USER = 'system:anonymous';
/** Node agents: user system:node:<node name> in this group. */
export const SYSTEM_NODES = 'system:nodes';
export const NODE_USER_PREFIX = 'system:node:';
/** The user the controller-manager runs as; bound to the ClusterRole of the same name at bootstrap. */
export const CONTROLLER_MANAGER_USER = 'system:shoal-controller-manager';

/**
 * Service accounts are not objects here: a ServiceAccount is only a name that RBAC subjects and
 * impersonation share. Its user is system:serviceaccount:<namespace>:<name> (serviceAccountUser
 * in @shoal/api), in the groups system:serviceaccounts and system:serviceaccounts:<namespace>, as
 * in Kubernetes.
 */
export const SERVICE_ACCOUNT_USER_PREFIX = 'system:serviceaccount:';
export const SYSTEM_SERVICE_ACCOUNTS = 'system:serviceaccounts';
export const serviceAccountGroups = (namespace: string) => [SYSTEM_SERVICE_ACCOUNTS, `${SYSTEM_SERVICE_ACCOUNTS}:${namespace}`];

const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SERVICE_ACCOUNT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A namespace name (DNS label), and a service account name (DNS subdomain), as Kubernetes validates them. */
export const isNamespaceName = (s: string) => s.length <= 63 && NAMESPACE_NAME.test(s);
export const isServiceAccountName = (s: string) => s.length <= 253 && SERVICE_ACCOUNT_NAME.test(s);

/**
 * The namespace and name of a service account's user name, or undefined for any other user
 * (a name with the prefix but not two valid parts is an ordinary user name, as in Kubernetes).
 */
export function serviceAccountOf(userName: string): { namespace: string; name: string } | undefined {
  if (!userName.startsWith(SERVICE_ACCOUNT_USER_PREFIX)) return undefined;
  const parts = userName.slice(SERVICE_ACCOUNT_USER_PREFIX.length).split(':');
  if (parts.length !== 2) return undefined;
  const [namespace, name] = parts as [string, string];
  return isNamespaceName(namespace) && isServiceAccountName(name) ? { namespace, name } : undefined;
}

export const anonymousUser = (): UserInfo => ({ name: ANONYMOUS_USER, groups: [SYSTEM_UNAUTHENTICATED] });

/** Every authenticated user is also in system:authenticated, as in Kubernetes. */
export function authenticated(user: UserInfo): UserInfo {
  return user.groups.includes(SYSTEM_AUTHENTICATED) ? user : { ...user, groups: [...user.groups, SYSTEM_AUTHENTICATED] };
}

/** The node name of a node agent's user, or undefined for anyone else. */
export function nodeNameOf(user: UserInfo): string | undefined {
  if (!user.name.startsWith(NODE_USER_PREFIX) || !user.groups.includes(SYSTEM_NODES)) return undefined;
  const name = user.name.slice(NODE_USER_PREFIX.length);
  return name || undefined;
}
