// How every bin/ command starts: its bundle under dist/, which `npm run build` (and
// deploy/run-tests.sh, before the tests) makes from the TypeScript sources (deploy/build-js.mjs).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Runs dist/<command>.js, or says how to make it. */
export async function runMain(command) {
  const bundle = new URL(`../dist/${command}.js`, import.meta.url);
  if (!existsSync(fileURLToPath(bundle))) {
    process.stderr.write(`${command}: ${fileURLToPath(bundle)} is missing: run \`npm run build\` first\n`);
    process.exit(1);
  }
  return import(bundle.href);
}
