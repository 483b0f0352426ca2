/**
 * Authorization modes (--authorization-mode, tried in order as in Kubernetes): each answers
 * allow, deny or no opinion; the first allow or deny decides, and a request no mode allows is
 * denied. A mode may give a reason with its answer; a denial's message carries it.
 */
import type { RequestAttributes } from './request-attributes.js';
import type { UserInfo } from './user.js';

export type Decision = { decision: 'allow' | 'deny' | 'no-opinion'; reason?: string };

export interface Authorizer {
  readonly name: string;
  /** `body` is the parsed request body, for modes that judge a create by the object's name (Node). */
  authorize(user: UserInfo, attrs: RequestAttributes, body?: unknown): Decision | Promise<Decision>;
}

export const AUTHORIZATION_MODES = ['AlwaysAllow', 'AlwaysDeny', 'Node', 'RBAC'] as const;
export type AuthorizationMode = (typeof AUTHORIZATION_MODES)[number];

export const alwaysAllow: Authorizer = { name: 'AlwaysAllow', authorize: () => ({ decision: 'allow' }) };
export const alwaysDeny: Authorizer = {
  name: 'AlwaysDeny',
  authorize: () => ({ decision: 'deny', reason: 'every request is denied (--authorization-mode AlwaysDeny)' }),
};

export function parseAuthorizationModes(value: string): AuthorizationMode[] {
  const modes = value
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  if (!modes.length) throw new Error('--authorization-mode: name at least one mode');
  for (const m of modes)
    if (!(AUTHORIZATION_MODES as readonly string[]).includes(m))
      throw new Error(`--authorization-mode: unknown mode "${m}" (known: ${AUTHORIZATION_MODES.join(', ')})`);
  if (new Set(modes).size !== modes.length) throw new Error('--authorization-mode: a mode is named twice');
  return modes as AuthorizationMode[];
}

/** Runs the modes in order. */
export class AuthorizerChain {
  constructor(readonly authorizers: Authorizer[]) {}

  async authorize(user: UserInfo, attrs: RequestAttributes, body?: unknown): Promise<Decision> {
    const reasons: string[] = [];
    for (const a of this.authorizers) {
      const d = await a.authorize(user, attrs, body);
      if (d.decision !== 'no-opinion') return d;
      if (d.reason) reasons.push(d.reason);
    }
    return { decision: 'no-opinion', ...(reasons.length ? { reason: reasons.join('; ') } : {}) };
  }
}
