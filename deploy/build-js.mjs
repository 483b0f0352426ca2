#!/usr/bin/env node
/**
 * Bundles each command under bin/ into JavaScript under dist/, which the bin/ scripts run: one
 * parse of one file (plus shared chunks) instead of resolving, reading and transpiling ~700
 * TypeScript modules and their dependencies through tsx at every start. `shoalctl get vms`
 * spends most of its life starting; so does every test that starts a process.
 *
 * esbuild only strips types (type checking is tsc's job: `npm run build` runs both). Commands'
 * handlers are loaded on demand (`import()`), so they become chunks of their own that a run of
 * another command never reads.
 *
 * Sources that find files beside themselves through import.meta.url (the schemas directory, the
 * VM supervisor script, the repository root) are given their own source file's URL, made
 * relative to dist/, so every such path resolves as it does from src/. Libraries that hand out
 * objects which must be the very same copies another library loads (etcd3's gRPC), or that load
 * files of their own by path (pino's transports), stay outside the bundle, loaded from
 * node_modules as usual.
 *
 *   node deploy/build-js.mjs     # a few seconds; deploy/run-tests.sh runs it before the tests
 */
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lazyUnicodeTables } from './lazy-unicode-tables.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist');

/** bin/<name>.js runs dist/<name>.js, built from this source. */
export const ENTRY_POINTS = {
  shoalctl: 'apps/cli/src/main.ts',
  shoal: 'apps/cli/src/shoal-main.ts',
  'shoal-apiserver': 'apps/apiserver/src/main.ts',
  'shoal-controller-manager': 'apps/controller-manager/src/main.ts',
  'shoal-agent': 'apps/agent/src/main.ts',
};

const EXTERNAL = [
  // etcd-client.ts takes @grpc/grpc-js and cockatiel from etcd3's own resolution: one copy each.
  'etcd3',
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  'cockatiel',
  'protobufjs',
  // pino starts transports in worker threads from files it resolves at run time.
  'pino',
  'pino-pretty',
  'thread-stream',
  // Optional native modules of chokidar's and undici's dependencies.
  'fsevents',
];

/** Rewrites import.meta.url in our own sources to that source's URL, relative to the bundle. */
const sourceLocation = {
  name: 'source-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async ({ path }) => {
      if (path.includes('/node_modules/')) return undefined;
      const text = await readFile(path, 'utf8');
      if (!text.includes('import.meta.url')) return { contents: text, loader: 'ts' };
      const fromDist = relative(outdir, path).split('\\').join('/');
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromDist)}, import.meta.url).href`), loader: 'ts' };
    });
  },
};

const started = Date.now();
await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: Object.entries(ENTRY_POINTS).map(([out, src]) => ({ out, in: src })),
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: '[name]-[hash]',
  external: EXTERNAL,
  sourcemap: 'linked',
  // Bundled CommonJS libraries call require() for Node's own modules; ESM output has none.
  banner: { js: "import { createRequire as __shoalCreateRequire } from 'node:module'; const require = __shoalCreateRequire(import.meta.url);" },
  plugins: [sourceLocation, lazyUnicodeTables],
  metafile: true,
  logLevel: 'warning',
});
if (process.env.BUILD_JS_METAFILE) await (await import('node:fs/promises')).writeFile(process.env.BUILD_JS_METAFILE, JSON.stringify(result.metafile));
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
console.log(`build-js: ${Object.keys(ENTRY_POINTS).length} commands in ${outputs.length} files under dist/ in ${Date.now() - started} ms`);
