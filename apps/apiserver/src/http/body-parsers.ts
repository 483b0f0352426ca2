/**
 * Request bodies the API accepts: JSON (and the patch media types, which are JSON too) and
 * YAML for convenience. Parsing rejects hostile shapes before anything else sees them.
 */
import type { FastifyInstance } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { badRequest } from '@shoal/api';

/** Deeper than any Shoal object; deeper bodies are refused before validation walks them. */
export const MAX_NESTING = 64;

function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > MAX_NESTING) return max;
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
  return max;
}

function checked(value: unknown): unknown {
  if (depthOf(value) > MAX_NESTING) throw badRequest(`the request body is nested deeper than ${MAX_NESTING} levels`);
  return value;
}

/**
 * The nesting of a JSON text JSON.parse accepted, without walking the parsed value: JSON cannot
 * nest deeper than it has `{` and `[`, and ordinary bodies have far fewer than the limit, so
 * counting them (indexOf runs natively) settles almost every body; only the rest are scanned.
 */
function jsonDepthWithin(text: string, limit: number): boolean {
  let openers = 0;
  for (let i = text.indexOf('{'); i >= 0; i = text.indexOf('{', i + 1)) if (++openers > limit) break;
  for (let i = text.indexOf('['); i >= 0 && openers <= limit; i = text.indexOf('[', i + 1)) openers++;
  if (openers <= limit) return true;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return true;
}

function parseJson(body: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw badRequest(`the request body is not valid JSON: ${(err as Error).message}`);
  }
  if (!jsonDepthWithin(body, MAX_NESTING)) throw badRequest(`the request body is nested deeper than ${MAX_NESTING} levels`);
  return value;
}

export const JSON_TYPES = ['application/json', 'application/merge-patch+json', 'application/json-patch+json', 'application/strategic-merge-patch+json'];

export function registerBodyParsers(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (req, body, done) => {
    // An empty DELETE body is no DeleteOptions, as Kubernetes reads it: clients send one with a
    // JSON Content-Type (client libraries set it on every request). Other verbs need a body.
    if (body === '' && req.method === 'DELETE') return done(null, undefined);
    try {
      done(null, parseJson(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'application/apply-patch+yaml'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, checked(parseYaml(body as string, { maxAliasCount: 100 })));
    } catch (err) {
      done(
        (err as { code?: number }).code === 400 ? (err as Error) : badRequest(`the request body is not valid YAML: ${(err as Error).message.split('\n')[0]}`),
        undefined,
      );
    }
  });
}
