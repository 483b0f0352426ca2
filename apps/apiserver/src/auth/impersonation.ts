/**
 * User impersonation, as Kubernetes does it: an authenticated requester sends
 *   Impersonate-User: NAME              (one)
 *   Impersonate-Group: GROUP            (repeatable)
 *   Impersonate-Uid: UID                (one)
 *   Impersonate-Extra-<key>: VALUE      (repeatable; the key percent-encoded)
 * and, if allowed, the request is authorized, admitted and written as that user. Each value
 * needs its own right, the verb `impersonate` on:
 *   - users (resourceNames: NAME), cluster-wide;
 *   - serviceaccounts in namespace NS (resourceNames: SA) instead, when NAME is
 *     system:serviceaccount:NS:SA, so a tenant's admin may hand out its own accounts;
 *   - groups (resourceNames: GROUP), uids (UID) and userextras/<key> (VALUE), cluster-wide.
 * Rules may name these resources in the core group "" (as Kubernetes' own roles do) or in
 * shoal.dev; uids and userextras also in authentication.k8s.io, where Kubernetes puts them.
 *
 * The impersonated user is in the requested groups, and in system:authenticated (for
 * system:anonymous: system:unauthenticated); a service account also in system:serviceaccounts
 * and system:serviceaccounts:NS. Kubernetes adds a service account's groups only when no group
 * is requested; here they are always added, since whoever may impersonate the account would
 * get them by impersonating it without --as-group anyway.
 *
 * Nothing of the requester carries over: not its groups (system:masters included), not its
 * node identity. Everything after authentication judges the impersonated user, which is why
 * the escalation check and the Node mode need nothing of their own for impersonation.
 */
import { ApiError } from '@shoal/api';
import type { ResourceAttributes } from './request-attributes.js';
import { ANONYMOUS_USER, serviceAccountGroups, serviceAccountOf, SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED, type UserInfo } from './user.js';

export const IMPERSONATE_USER_HEADER = 'impersonate-user';
export const IMPERSONATE_GROUP_HEADER = 'impersonate-group';
export const IMPERSONATE_UID_HEADER = 'impersonate-uid';
export const IMPERSONATE_EXTRA_HEADER_PREFIX = 'impersonate-extra-';

/** Who a request asks to act as, from its headers. */
export interface ImpersonationRequest {
  user: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** One right impersonation needs: `attrs` as messages name it, `apiGroups` where a rule may grant it. */
export interface ImpersonationCheck {
  attrs: ResourceAttributes;
  apiGroups: string[];
}

const CORE_GROUP = '';
const OWN_GROUP = 'shoal.dev';
const AUTHENTICATION_GROUP = 'authentication.k8s.io';
const IDENTITY_GROUPS = [CORE_GROUP, OWN_GROUP];
const ATTRIBUTE_GROUPS = [AUTHENTICATION_GROUP, CORE_GROUP, OWN_GROUP];

const badRequest = (message: string) => new ApiError(400, 'BadRequest', message);

function decodeKey(key: string): string {
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

/** Whether any header (Node's rawHeaders: name, value, name, ...) starts with "Impersonate-"; true when there are none to look at. */
export function mentionsImpersonation(rawHeaders: string[] | undefined): boolean {
  if (!rawHeaders) return true;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length >= IMPERSONATE_PREFIX.length && name.slice(0, IMPERSONATE_PREFIX.length).toLowerCase() === IMPERSONATE_PREFIX) return true;
  }
  return false;
}

const IMPERSONATE_PREFIX = 'impersonate-';

/**
 * The impersonation a request asks for, from its headers as Node's `headersDistinct` gives
 * them (lower-case names, one array element per header line); undefined when it asks for none.
 * Throws a 400 ApiError for a request that cannot be honoured as written.
 */
export function readImpersonationHeaders(headers: Record<string, string[] | undefined>): ImpersonationRequest | undefined {
  const users = (headers[IMPERSONATE_USER_HEADER] ?? []).filter((v) => v !== '');
  const uids = headers[IMPERSONATE_UID_HEADER] ?? [];
  const groups = headers[IMPERSONATE_GROUP_HEADER] ?? [];
  const extra: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(headers)) {
    if (!name.startsWith(IMPERSONATE_EXTRA_HEADER_PREFIX) || !values) continue;
    const key = decodeKey(name.slice(IMPERSONATE_EXTRA_HEADER_PREFIX.length)).toLowerCase();
    if (!key) throw badRequest('an Impersonate-Extra- header names no key');
    (extra[key] ??= []).push(...values);
  }
  const asked = [
    ...(groups.length ? ['Impersonate-Group'] : []),
    ...(uids.length ? ['Impersonate-Uid'] : []),
    ...(Object.keys(extra).length ? ['Impersonate-Extra-'] : []),
  ];
  if (!users.length) {
    if (asked.length) throw badRequest(`requested ${asked.join(', ')} without impersonating a user (Impersonate-User)`);
    return undefined;
  }
  if (users.length > 1) throw badRequest('Impersonate-User may be given once');
  if (uids.length > 1) throw badRequest('Impersonate-Uid may be given once');
  if (uids[0] === '') throw badRequest('Impersonate-Uid is empty');
  if (groups.some((g) => g === '')) throw badRequest('an Impersonate-Group header is empty');
  return { user: users[0]!, ...(uids.length ? { uid: uids[0]! } : {}), groups: [...new Set(groups)], extra };
}

function check(verbOn: { resource: string; subresource?: string; namespace?: string; name: string }, apiGroups: string[]): ImpersonationCheck {
  return {
    apiGroups,
    attrs: {
      resourceRequest: true,
      verb: 'impersonate',
      apiGroup: apiGroups[0]!,
      apiVersion: 'v1',
      resource: verbOn.resource,
      subresource: verbOn.subresource ?? '',
      namespace: verbOn.namespace ?? '',
      name: verbOn.name,
      fieldSelector: '',
      path: '',
    },
  };
}

/** Every right the request needs, in the order Kubernetes checks them: the user, its groups, its extras, its uid. */
export function impersonationChecks(r: ImpersonationRequest): ImpersonationCheck[] {
  const sa = serviceAccountOf(r.user);
  const checks = [
    sa
      ? check({ resource: 'serviceaccounts', namespace: sa.namespace, name: sa.name }, IDENTITY_GROUPS)
      : check({ resource: 'users', name: r.user }, IDENTITY_GROUPS),
    ...r.groups.map((g) => check({ resource: 'groups', name: g }, IDENTITY_GROUPS)),
  ];
  for (const [key, values] of Object.entries(r.extra))
    for (const value of values) checks.push(check({ resource: 'userextras', subresource: key, name: value }, ATTRIBUTE_GROUPS));
  if (r.uid !== undefined) checks.push(check({ resource: 'uids', name: r.uid }, ATTRIBUTE_GROUPS));
  return checks;
}

/** The first check `allowed` refuses (trying each API group a rule may grant it in), or undefined when all pass. */
export async function firstRefused(
  checks: ImpersonationCheck[],
  allowed: (attrs: ResourceAttributes) => boolean | Promise<boolean>,
): Promise<ImpersonationCheck | undefined> {
  for (const c of checks) {
    let ok = false;
    for (const apiGroup of c.apiGroups) if ((ok = await allowed({ ...c.attrs, apiGroup }))) break;
    if (!ok) return c;
  }
  return undefined;
}

/** The user a request acts as once its impersonation is allowed. */
export function impersonatedUser(r: ImpersonationRequest): UserInfo {
  const sa = serviceAccountOf(r.user);
  const implied = r.user === ANONYMOUS_USER ? [SYSTEM_UNAUTHENTICATED] : [...(sa ? serviceAccountGroups(sa.namespace) : []), SYSTEM_AUTHENTICATED];
  return {
    name: r.user,
    ...(r.uid !== undefined ? { uid: r.uid } : {}),
    groups: [...new Set([...r.groups, ...implied])],
    ...(Object.keys(r.extra).length ? { extra: r.extra } : {}),
  };
}
