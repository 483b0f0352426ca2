/**
 * Acting as another user (Kubernetes' user impersonation): the headers a client sends so that the
 * apiserver authorizes and writes its requests as `user`, once it has checked that the client's
 * own identity may impersonate that user, those groups, that uid and those extras. A service
 * account is the user system:serviceaccount:<namespace>:<name> (serviceAccountUser in @shoal/api).
 */

export interface Impersonation {
  /** Impersonate-User. */
  user: string;
  /** Impersonate-Group, one header each. */
  groups?: string[];
  /** Impersonate-Uid. */
  uid?: string;
  /** Impersonate-Extra-<key>, one header per value. */
  extra?: Record<string, string[]>;
}

/**
 * An extra's key as part of a header name: what a header name may not hold is percent-encoded
 * (as client-go does; the apiserver decodes it).
 */
function headerKey(key: string): string {
  return encodeURIComponent(key).replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The request headers of an impersonation (lower-case names; a list where a header repeats). */
export function impersonationHeaders(who: Impersonation): Record<string, string | string[]> {
  if (!who.user) throw new TypeError('impersonation needs a user');
  const headers: Record<string, string | string[]> = { 'impersonate-user': who.user };
  if (who.groups?.length) headers['impersonate-group'] = [...who.groups];
  if (who.uid !== undefined) headers['impersonate-uid'] = who.uid;
  for (const [key, values] of Object.entries(who.extra ?? {})) if (values.length) headers[`impersonate-extra-${headerKey(key)}`] = [...values];
  return headers;
}
