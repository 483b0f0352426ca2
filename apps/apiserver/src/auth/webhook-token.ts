/**
 * Whether a webhook call carries a GitRepository's webhook token, in either of the two ways git
 * hosts send one:
 *
 *   Authorization: Bearer <token>                 GitLab-style hooks, curl, CI jobs
 *   X-Hub-Signature-256: sha256=<hex HMAC-SHA256>  GitHub (Gitea, Forgejo): the raw body signed
 *                                                  with the token as the key; the token itself
 *                                                  never travels
 *
 * Both compare in constant time (timingSafeEqual over digests of equal length), so how long a
 * refusal takes says nothing of how much of a guess was right.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface WebhookCredentials {
  authorization?: string;
  signature256?: string;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest();

/** Equal, in time that depends on neither value: both are hashed first, so even their lengths stay hidden. */
function sameSecret(given: string | Buffer, expected: string | Buffer): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

export function webhookTokenMatches(given: WebhookCredentials, body: Buffer, token: string): boolean {
  if (!token) return false;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(given.authorization ?? '');
  if (bearer && sameSecret(bearer[1]!, token)) return true;
  const signature = /^sha256=([0-9a-f]{64})$/i.exec(given.signature256?.trim() ?? '');
  if (signature) {
    const expected = createHmac('sha256', token).update(body).digest();
    if (sameSecret(Buffer.from(signature[1]!.toLowerCase(), 'hex'), expected)) return true;
  }
  return false;
}
