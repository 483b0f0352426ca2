/** One manifest file of a repository: its YAML (or JSON) documents as objects, and what is wrong with the rest. */
import type { KubeObject } from '@shoal/api';
import { parseAllDocuments } from 'yaml';
import type { RepositoryManifest, SyncProblem } from './manifest-types.js';

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
