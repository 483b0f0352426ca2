/** Who a request is from, as the authenticators establish it; names as in Kubernetes. */

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
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
