/**
 * Static bearer tokens from a CSV file, as Kubernetes' --token-auth-file:
 *   token,user,uid,"group1,group2"
 * One line per token; the groups column is optional and quoted when it lists several groups.
 * Blank lines and lines starting with # are skipped. Read at start-up, and again whenever the
 * file changes (live-config.ts): the new tokens replace the old ones at once, and a file that
 * cannot be parsed leaves the old ones in force.
 */
import { readFileSync } from 'node:fs';
import type { UserInfo } from './user.js';

/** Splits one CSV line: fields separated by commas, optionally in double quotes ("" inside quotes is a quote). */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') ((field += '"'), i++);
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') (fields.push(field), (field = ''));
    else field += c;
  }
  if (quoted) throw new Error('unterminated quote');
  fields.push(field);
  return fields.map((f) => f.trim());
}

export function parseTokenFile(text: string, path = 'token file'): Map<string, UserInfo> {
  const tokens = new Map<string, UserInfo>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    let fields: string[];
    try {
      fields = splitCsvLine(line);
    } catch (err) {
      throw new Error(`${path}:${i + 1}: ${(err as Error).message}`);
    }
    const [token, name, uid, groups] = fields;
    if (fields.length < 3 || !token || !name) throw new Error(`${path}:${i + 1}: want token,user,uid[,"group1,group2"]`);
    if (tokens.has(token)) throw new Error(`${path}:${i + 1}: duplicate token`);
    tokens.set(token, {
      name,
      ...(uid ? { uid } : {}),
      groups: (groups ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean),
    });
  });
  return tokens;
}

export class TokenAuthenticator {
  constructor(private tokens: Map<string, UserInfo>) {}

  static fromFile(path: string): TokenAuthenticator {
    return new TokenAuthenticator(parseTokenFile(readFileSync(path, 'utf8'), path));
  }

  /** Puts a new file's tokens in force: from the next request on, a token it does not list is refused. */
  replace(tokens: Map<string, UserInfo>): void {
    this.tokens = tokens;
  }

  /** The token's user, or undefined when the file does not list it. */
  authenticate(token: string): UserInfo | undefined {
    const user = this.tokens.get(token);
    return user && { ...user, groups: [...user.groups] };
  }
}
