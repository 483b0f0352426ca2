/**
 * Reads schemas/ — the single source of truth for every kind — and composes each kind's
 * full object schema (apiVersion, kind, metadata + the kind's own fields), with the shared
 * pieces under schemas/meta/ inlined so one self-contained document serves ajv and OpenAPI.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { API_VERSION } from './objects.js';

export const SCHEMAS_DIR = fileURLToPath(new URL('../../../schemas/', import.meta.url));

export type JsonSchema = Record<string, unknown>;

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  priority?: number;
  /** Appended to a non-empty cell, e.g. `Mi`. */
  suffix?: string;
  /** Replaces a cell's value by a label, e.g. True → Ready. */
  map?: Record<string, string>;
  /** Prints how many entries a map or list holds instead of its contents (a Secret's data). */
  count?: boolean;
}

export interface ResourceNames {
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  categories?: string[];
  columns: PrinterColumn[];
}

export interface KindSchemaFile {
  kind: string;
  description: string;
  'x-shoal-resource': ResourceNames;
  properties: Record<string, JsonSchema>;
  required?: string[];
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** Replaces every `{"$ref": "meta/x.json"}` by the referenced document, recursively. */
export function inlineRefs(node: unknown, dir = SCHEMAS_DIR, seen: string[] = []): unknown {
  if (Array.isArray(node)) return node.map((n) => inlineRefs(n, dir, seen));
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  if (typeof obj.$ref === 'string') {
    const ref = obj.$ref;
    if (seen.includes(ref)) throw new Error(`schemas: circular $ref ${[...seen, ref].join(' -> ')}`);
    const { $ref: _, ...rest } = obj;
    return { ...(inlineRefs(readJson(join(dir, ref)), dir, [...seen, ref]) as object), ...rest };
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, inlineRefs(v, dir, seen)]));
}

/** The full object schema of a kind, as ajv validates it and OpenAPI publishes it. */
export function objectSchema(file: KindSchemaFile, dir = SCHEMAS_DIR): JsonSchema {
  return {
    type: 'object',
    description: file.description,
    additionalProperties: false,
    required: ['metadata', ...(file.required ?? [])],
    properties: {
      apiVersion: { type: 'string', enum: [API_VERSION], description: 'Always shoal.dev/v1alpha1.' },
      kind: { type: 'string', enum: [file.kind] },
      metadata: inlineRefs({ $ref: 'meta/object-meta.json' }, dir),
      ...(inlineRefs(file.properties, dir) as Record<string, JsonSchema>),
    },
  };
}

export function readKindFiles(dir = SCHEMAS_DIR): KindSchemaFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readJson(join(dir, f)) as KindSchemaFile);
}

/**
 * Bodies that are not objects of a kind (schemas/options/): what some requests carry
 * (DeleteOptions, Binding), what the metrics API answers (VirtualMachineMetrics, NodeMetrics)
 * and what agents answer it (VmUsageSummary). Each file's `title` names it, here and as its type
 * in the generated model.
 */
export type OptionsTitle = 'DeleteOptions' | 'Binding' | 'BindingList' | 'BindingResults' | 'VirtualMachineMetrics' | 'NodeMetrics' | 'VmUsageSummary';

/** The options schemas as written, by title ($refs to shared pieces left in place). */
export function readOptionsFiles(dir = SCHEMAS_DIR): JsonSchema[] {
  const options = join(dir, 'options');
  return readdirSync(options)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readJson(join(options, f)) as JsonSchema);
}

const optionsSchemas = new Map<string, JsonSchema>();

/** One options schema, self-contained (shared pieces inlined), as ajv validates it and OpenAPI publishes it. */
export function optionsSchema(title: OptionsTitle): JsonSchema {
  let schema = optionsSchemas.get(title);
  if (!schema) {
    const file = readOptionsFiles().find((s) => s.title === title);
    if (!file) throw new Error(`schemas/options: no schema titled ${title}`);
    schema = inlineRefs(file) as JsonSchema;
    optionsSchemas.set(title, schema);
  }
  return schema;
}
