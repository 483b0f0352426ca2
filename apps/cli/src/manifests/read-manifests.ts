/**
 * The objects behind `-f`: files, directories (recursed, in name order, .yaml/.yml/.json) and
 * `-` for stdin; multi-document YAML; JSON (a YAML subset); `kind: List` flattened to its items.
 * Each object remembers where it came from, for error messages.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { KubeObject } from '@shoal/api';
import { parseAllDocuments } from 'yaml';

export interface Manifest {
  source: string;
  object: KubeObject;
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export async function readManifests(paths: string[], readStdin: () => Promise<string> = readAllStdin): Promise<Manifest[]> {
  const out: Manifest[] = [];
  let stdinRead = false;
  for (const path of paths) {
    if (path === '-') {
      if (stdinRead) continue;
      stdinRead = true;
      out.push(...parseManifests(await readStdin(), 'STDIN'));
      continue;
    }
    for (const file of await manifestFiles(path)) out.push(...parseManifests(await readFile(file, 'utf8'), file));
  }
  return out;
}

async function manifestFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new Error(`the path "${path}" does not exist`);
  if (!info.isDirectory()) return [path];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  const files: string[] = [];
  for (const e of entries) {
    const full = join(path, e.name);
    if (e.isDirectory()) files.push(...(await manifestFiles(full)));
    else if (MANIFEST_EXTENSIONS.has(extname(e.name).toLowerCase())) files.push(full);
  }
  return files;
}

export function parseManifests(text: string, source: string): Manifest[] {
  const out: Manifest[] = [];
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length > 0) throw new Error(`error parsing ${source} (document ${i + 1}): ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    out.push(...flatten(value, `${source}`));
  }
  return out;
}

function flatten(value: unknown, source: string): Manifest[] {
  if (typeof value !== 'object' || Array.isArray(value) || value === null)
    throw new Error(`error parsing ${source}: a manifest must be a mapping with apiVersion, kind and metadata`);
  const obj = value as KubeObject & { items?: unknown };
  if (typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj.items)) return obj.items.flatMap((item) => flatten(item, source));
  if (typeof obj.metadata !== 'object' || obj.metadata === null) throw new Error(`error validating ${source}: ${obj.kind ?? 'object'} has no metadata`);
  return [{ source, object: obj }];
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
