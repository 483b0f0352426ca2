/**
 * Builds the web console (`npm run build` runs it after tsc): esbuild bundles src/main.tsx —
 * Preact and every module it imports — into dist/app.js and its CSS into dist/app.css, beside
 * src/index.html. shoal-apiserver serves dist/ at /ui/ (apps/apiserver/src/routes/console.ts).
 * Everything the page needs is in those files: it loads nothing from the network but the API.
 *
 *   node --import tsx apps/console/build.ts [OUT_DIR]
 *
 * The files are written to a fresh directory then swapped in, so a running apiserver never
 * serves one new file beside an old one.
 */
import { chmod, copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const CONSOLE_ROOT = dirname(fileURLToPath(import.meta.url));
export const CONSOLE_DIST = join(CONSOLE_ROOT, 'dist');

export async function buildConsole(outDir: string = CONSOLE_DIST): Promise<void> {
  const staging = await mkdtemp(join(dirname(outDir), '.console-build-'));
  try {
    // mkdtemp makes it private; the files are public, and the apiserver may run as another user.
    await chmod(staging, 0o755);
    await build({
      entryPoints: { app: join(CONSOLE_ROOT, 'src/main.tsx') },
      outdir: staging,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      jsx: 'automatic',
      jsxImportSource: 'preact',
      minify: true,
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'warning',
    });
    await copyFile(join(CONSOLE_ROOT, 'src/index.html'), join(staging, 'index.html'));
    const old = `${outDir}.old`;
    await rm(old, { recursive: true, force: true });
    await rename(outDir, old).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await rename(staging, outDir);
    await rm(old, { recursive: true, force: true });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildConsole(process.argv[2]);
}
