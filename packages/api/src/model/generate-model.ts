/**
 * Writes the TypeScript model of every kind from schemas/ (the one source of truth) into
 * model/generated.ts, with json-schema-to-typescript:
 *
 *   npm run generate          # after changing anything under schemas/
 *
 * The types describe objects as the API serves them, after admission: a field the schema gives
 * a default is always present, so readers never repeat the default (`spec.runStrategy`, not
 * `spec.runStrategy ?? 'Always'`). Schemas and shared pieces with a `title` become named types
 * (`Taint`, `RunStrategy`); each kind's spec and status are named `<Kind>Spec`, `<Kind>Status`.
 * The bodies under schemas/options/ that are not kinds (DeleteOptions, Binding) become types by
 * their titles too, outside the list of kinds.
 * generate-model.test.ts fails when generated.ts is not what the schemas produce now.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compile, type JSONSchema } from 'json-schema-to-typescript';
import { API_VERSION } from '../objects.js';
import { readKindFiles, readOptionsFiles, SCHEMAS_DIR, type JsonSchema, type KindSchemaFile } from '../schemas.js';

export const GENERATED_MODEL = fileURLToPath(new URL('./generated.ts', import.meta.url));

const BANNER = `/**
 * The API's object model, generated from schemas/ by packages/api/src/model/generate-model.ts.
 * Do not edit: change the schema and run \`npm run generate\`.
 */`;

/**
 * Shared pieces that are written as another named type: the RBAC kinds' metadata differs from
 * ObjectMeta only in what names it accepts, which a type does not express.
 */
const TYPE_OF_REF: Record<string, string> = { 'meta/rbac-object-meta.json': 'ObjectMeta' };

type Node = Record<string, unknown>;
const isObject = (v: unknown): v is Node => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Resolves `$ref`s to shared pieces, one object per piece, so each becomes one named type
 * however often it is used. A reference with its own description keeps it (as the property's
 * comment) through `allOf`, which the generator renders as the named type itself.
 */
class RefResolver {
  private readonly pieces = new Map<string, JsonSchema>();
  constructor(private readonly dir: string) {}

  resolve(node: unknown): unknown {
    if (Array.isArray(node)) return node.map((n) => this.resolve(n));
    if (!isObject(node)) return node;
    if (typeof node.$ref === 'string') {
      const { $ref, ...siblings } = node;
      const piece = this.piece($ref);
      return Object.keys(siblings).length ? { ...(this.resolve(siblings) as Node), allOf: [piece] } : piece;
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, this.resolve(v)]));
  }

  private piece(ref: string): JsonSchema {
    let piece = this.pieces.get(ref);
    if (!piece) {
      piece = TYPE_OF_REF[ref] ? { tsType: TYPE_OF_REF[ref] } : (this.resolve(JSON.parse(readFileSync(join(this.dir, ref), 'utf8'))) as JsonSchema);
      this.pieces.set(ref, piece);
    }
    return piece;
  }
}

/**
 * The schema of objects as stored: every property with a default is required (admission filled
 * it in). Shared pieces stay shared: each is transformed once.
 */
function admitted(schema: unknown, done = new Map<unknown, unknown>()): unknown {
  if (!isObject(schema) && !Array.isArray(schema)) return schema;
  if (done.has(schema)) return done.get(schema);
  if (Array.isArray(schema)) {
    const out: unknown[] = [];
    done.set(schema, out);
    for (const s of schema) out.push(admitted(s, done));
    return out;
  }
  const out: Node = {};
  done.set(schema, out);
  for (const [k, v] of Object.entries(schema)) {
    // A default only decides what is required; the types need no more of it.
    if (k === 'default') continue;
    if (k === 'enum' || k === 'tsType') out[k] = v;
    else if (k === 'properties' && isObject(v)) out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, admitted(s, done)]));
    else out[k] = admitted(v, done);
  }
  if (isObject(schema.properties)) {
    const defaulted = Object.entries(schema.properties)
      .filter(([, s]) => isObject(s) && 'default' in s)
      .map(([p]) => p);
    const required = [...new Set([...((schema.required as string[] | undefined) ?? []), ...defaulted])];
    if (required.length) out.required = required;
  }
  return out;
}

/** A kind's object schema with the names its types take. */
function kindSchema(file: KindSchemaFile, refs: RefResolver): JsonSchema {
  const properties: Node = {};
  for (const [name, schema] of Object.entries(file.properties)) {
    const own = refs.resolve(schema) as Node;
    const title = name === 'spec' || name === 'status' ? `${file.kind}${name[0]!.toUpperCase()}${name.slice(1)}` : undefined;
    properties[name] = title && !own.title && !own.tsType ? { title, ...own } : own;
  }
  return {
    title: file.kind,
    type: 'object',
    description: file.description,
    additionalProperties: false,
    // Admission sets apiVersion and kind on every object it stores.
    required: ['apiVersion', 'kind', 'metadata', ...(file.required ?? [])],
    properties: {
      apiVersion: { type: 'string', enum: [API_VERSION] },
      kind: { type: 'string', enum: [file.kind] },
      metadata: refs.resolve({ $ref: 'meta/object-meta.json' }),
      ...properties,
    },
  };
}

/** The text of generated.ts for the schemas in `dir`. */
export async function generateModel(dir = SCHEMAS_DIR): Promise<string> {
  const refs = new RefResolver(dir);
  const files = readKindFiles(dir);
  const root = {
    title: 'Kinds',
    description: 'Every kind the API serves, by its name.',
    type: 'object',
    additionalProperties: false,
    required: files.map((f) => f.kind),
    properties: Object.fromEntries(files.map((f) => [f.kind, kindSchema(f, refs)])),
    // Not kinds, so not properties of Kinds: definitions, which the generator declares all the same.
    definitions: Object.fromEntries(readOptionsFiles(dir).map((o) => [o.title as string, refs.resolve(o)])),
  };
  return compile(admitted(root) as JSONSchema, 'Kinds', {
    bannerComment: BANNER,
    additionalProperties: false,
    declareExternallyReferenced: true,
    unreachableDefinitions: true,
    ignoreMinAndMaxItems: true,
    strictIndexSignatures: false,
    unknownAny: true,
    format: true,
    style: { singleQuote: true, printWidth: 160, trailingComma: 'all' },
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(GENERATED_MODEL, await generateModel());
  console.log(`generate-model: wrote ${GENERATED_MODEL}`);
}
