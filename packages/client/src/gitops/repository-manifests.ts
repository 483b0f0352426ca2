/**
 * The manifests under a GitSync's path in a checkout: every *.yaml, *.yml and *.json file,
 * recursively in name order (dot-directories such as .git skipped), several documents per file,
 * `kind: List` flattened. Unlike `shoalctl apply -f`, nothing stops at the first bad file: a sync
 * reports every file that cannot be read, so one commit's status lists all that is wrong with it.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import type { KubeObject } from '@shoal/api';
import { parseAllDocuments } from 'yaml';

/** One object of the repository, and where it was read: the file's path from the repository root. */
export interface RepositoryManifest {
  file: string;
  object: KubeObject;
}

/** Why part of a commit cannot be applied: as much of file, object and field as is known. */
export interface SyncProblem {
  file?: string;
  kind?: string;
  name?: string;
  field?: string;
  message: string;
}

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

/** The objects of one file, and a problem per document that is not one. */
export function parseFile(text: string, file: string): { manifests: RepositoryManifest[]; problems: SyncProblem[] } {
  const manifests: RepositoryManifest[] = [];
  const problems: SyncProblem[] = [];
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    const where = `document ${i + 1}`;
    if (doc.errors.length > 0) {
      problems.push({ file, message: `${where}: ${doc.errors[0]!.message.split('\n')[0]}` });
      continue;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    for (const item of flatten(value)) {
      if (typeof item === 'string') problems.push({ file, message: `${where}: ${item}` });
      else manifests.push({ file, object: item });
    }
  }
  return { manifests, problems };
}

function flatten(value: unknown): (KubeObject | string)[] {
  if (typeof value !== 'object' || Array.isArray(value) || value === null) return ['a manifest must be a mapping with apiVersion, kind and metadata'];
  const obj = value as KubeObject & { items?: unknown };
  if (typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj.items)) return obj.items.flatMap(flatten);
  if (typeof obj.metadata !== 'object' || obj.metadata === null) return [`${typeof obj.kind === 'string' ? obj.kind : 'the object'} has no metadata`];
  return [obj];
}
