/** The list of kinds the API serves, with every name a client may use for them. */
import { GROUP, VERSION, API_VERSION } from './objects.js';
import { objectSchema, readKindFiles, type JsonSchema, type PrinterColumn, type KindSchemaFile } from './schemas.js';

export interface KindInfo {
  group: string;
  version: string;
  apiVersion: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  categories: string[];
  columns: PrinterColumn[];
  hasStatus: boolean;
  hasSpec: boolean;
  description: string;
  schema: JsonSchema;
}

export function kindInfo(file: KindSchemaFile): KindInfo {
  const r = file['x-shoal-resource'];
  let schema: JsonSchema | undefined;
  return {
    group: GROUP,
    version: VERSION,
    apiVersion: API_VERSION,
    kind: file.kind,
    listKind: `${file.kind}List`,
    plural: r.plural,
    singular: r.singular,
    shortNames: r.shortNames ?? [],
    namespaced: r.namespaced,
    categories: r.categories ?? [],
    columns: r.columns ?? [],
    hasStatus: 'status' in file.properties,
    hasSpec: 'spec' in file.properties,
    description: file.description,
    // Built on first use: a client that only maps names to paths (shoalctl get) never needs it.
    get schema() {
      return (schema ??= objectSchema(file));
    },
  };
}

export class KindRegistry {
  private readonly byName = new Map<string, KindInfo>();

  constructor(readonly all: KindInfo[]) {
    for (const k of all) {
      for (const name of [k.plural, k.singular, k.kind, k.kind.toLowerCase(), ...k.shortNames]) this.byName.set(name, k);
    }
  }

  /** Looks a kind up by plural, singular, Kind or short name (`vm`, `virtualmachines`, `VirtualMachine`). */
  find(name: string): KindInfo | undefined {
    return this.byName.get(name) ?? this.byName.get(name.toLowerCase()) ?? this.byName.get(name.replace(/\.shoal\.dev$/, ''));
  }

  byPlural(plural: string): KindInfo | undefined {
    const k = this.byName.get(plural);
    return k && k.plural === plural ? k : undefined;
  }
}

let loaded: KindRegistry | undefined;

/** The kinds declared under schemas/, read once per process. */
export function kinds(): KindRegistry {
  loaded ??= new KindRegistry(readKindFiles().map(kindInfo));
  return loaded;
}
