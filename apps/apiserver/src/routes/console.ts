/**
 * The web console at `/ui/`: the static files `npm run build` bundles from apps/console into
 * apps/console/dist (index.html, app.js, app.css). They are public, like /healthz (auth/plugin.ts
 * lets /ui through without credentials): the page a user signs in on cannot itself need a
 * sign-in, and everything it shows comes from API calls that carry the user's token, which
 * RBAC judges as any other client's.
 *
 * Files are read when asked for, so a build while the server runs is served at once. The
 * directory is flat: a name with a slash, or a type not listed here, is not one of its files
 * (404), which also keeps every path inside it. Before the first build `/ui/` answers 503
 * saying so. Every answer carries a Content-Security-Policy that allows only this origin — no
 * CDN, font or inline script — and asks the browser to revalidate (ETag), so a new build shows
 * on the next load.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '@shoal/api';

/** Where `npm run build` writes the console (apps/console/build.ts). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

export const CONSOLE_PATH = '/ui';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
};

/** Only this origin: scripts, styles, images and API calls (fetch) alike; no frames, no plugins, no forms posted elsewhere. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface ConsoleRoutesOptions {
  /** The built console; DEFAULT_CONSOLE_DIR when absent. */
  dir?: string;
}

export async function consoleRoutes(app: FastifyInstance, opts: ConsoleRoutesOptions): Promise<void> {
  const dir = opts.dir ?? DEFAULT_CONSOLE_DIR;
  const hidden = { schema: { hide: true } };
  app.get(CONSOLE_PATH, hidden, async (_req, reply) => reply.redirect(`${CONSOLE_PATH}/`, 308));
  app.get(`${CONSOLE_PATH}/`, hidden, (req, reply) => serve(dir, 'index.html', req, reply));
  app.get(`${CONSOLE_PATH}/:file`, hidden, (req, reply) => serve(dir, (req.params as { file: string }).file, req, reply));
}

async function serve(dir: string, file: string, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  void reply.header('content-security-policy', CONSOLE_CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
  const type = CONTENT_TYPES[extname(file)];
  if (!FILE_NAME.test(file) || !type) throw notFound(file);
  const path = join(dir, file);
  let info;
  try {
    info = await stat(path);
  } catch {
    info = undefined;
  }
  if (!info?.isFile()) {
    if (await built(dir)) throw notFound(file);
    throw new ApiError(503, 'ServiceUnavailable', `the web console is not built: run "npm run build", which bundles apps/console into ${dir}`);
  }
  const etag = `"${createHash('sha1').update(`${info.size}:${info.mtimeMs}`).digest('base64url').slice(0, 16)}"`;
  void reply.header('etag', etag).header('cache-control', 'no-cache');
  if (req.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.type(type).send(await readFile(path));
}

async function built(dir: string): Promise<boolean> {
  return (await stat(join(dir, 'index.html')).catch(() => undefined))?.isFile() ?? false;
}

const notFound = (file: string) => new ApiError(404, 'NotFound', `the web console has no file "${file}"`);
