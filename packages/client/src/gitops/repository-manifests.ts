/**
 * The manifests under a GitSync's path in a checkout: every *.yaml, *.yml and *.json file,
 * recursively in name order (dot-directories such as .git skipped), several documents per file,
 * `kind: List` flattened. Unlike `shoalctl apply -f`, nothing stops at the first bad file: a sync
 * reports every file that cannot be read, so one commit's status lists all that is wrong with it.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import type { RepositoryManifest, SyncProblem } from './manifest-types.js';

export type { RepositoryManifest, SyncProblem } from './manifest-types.js';

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export async function readRepositoryManifests(root: string, path: string): Promise<{ manifests: RepositoryManifest[]; problems: SyncProblem[] }> {
  const realRoot = await realpath(root);
  const start = resolve(realRoot, path.replace(/^\/+/, ''));
  const real = await realpath(start).catch(() => undefined);
  if (!real) return { manifests: [], problems: [{ field: 'spec.path', message: `the path "${path}" is not in the repository` }] };
  // A symlink in the repository must not lead the sync to read the controller's own files.
  if (real !== realRoot && !real.startsWith(realRoot + sep))
    return { manifests: [], problems: [{ field: 'spec.path', message: `the path "${path}" leads outside the repository` }] };

  const manifests: RepositoryManifest[] = [];
  const problems: SyncProblem[] = [];
  // The YAML parser is loaded here, not with the client: most of its users never read a repository.
  const { parseFile } = await import('./manifest-file.js');
  for (const file of await manifestFiles(real)) {
    const name = relative(realRoot, file);
    const text = await readFile(file, 'utf8');
    const read = parseFile(text, name);
    manifests.push(...read.manifests);
    problems.push(...read.problems);
  }
  return { manifests, problems };
}

async function manifestFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(path, e.name);
    if (e.isDirectory()) files.push(...(await manifestFiles(full)));
    else if (e.isFile() && MANIFEST_EXTENSIONS.has(extname(e.name).toLowerCase())) files.push(full);
  }
  return files;
}
