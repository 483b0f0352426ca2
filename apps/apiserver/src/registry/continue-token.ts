/** The opaque `continue` token of a paged list: the revision the list is read at and the last key served. */
import { badRequest } from '@shoal/api';

export interface ContinuePoint {
  revision: number;
  startAfter: string;
}

export function encodeContinue(p: ContinuePoint): string {
  return Buffer.from(JSON.stringify({ v: 1, rv: p.revision, start: p.startAfter })).toString('base64url');
}

export function decodeContinue(token: string, prefix: string): ContinuePoint {
  try {
    const raw = JSON.parse(Buffer.from(token, 'base64url').toString()) as { v?: number; rv?: unknown; start?: unknown };
    if (raw.v === 1 && Number.isSafeInteger(raw.rv) && (raw.rv as number) > 0 && typeof raw.start === 'string' && raw.start.startsWith(prefix))
      return { revision: raw.rv as number, startAfter: raw.start };
  } catch {
    // fall through to the error below
  }
  throw badRequest('invalid continue token: pass the value the previous list returned', [
    { field: 'continue', message: 'not a token this server issued for this list' },
  ]);
}
