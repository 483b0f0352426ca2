/**
 * Sets of field paths, as server-side apply records who owns what (Kubernetes' fieldpath.Set of
 * structured-merge-diff). A path is a list of elements, each written as in `fieldsV1`:
 *   `f:name`              a field of an object (or a key of a map),
 *   `k:{"name":"data"}`   the item of a map list with these key values,
 *   `v:"a"`               the item of a set list with this value,
 *   `i:3`                 the item of a list at this index.
 * The set is a tree: each node says whether the path leading to it is in the set (a member) and
 * holds the nodes below it. Writing elements as their fieldsV1 keys makes them comparable as
 * strings, so equal paths are equal keys and the tree turns into fieldsV1 and back directly.
 *
 * A set is not changed once built (only insert, while building a new one, changes a set), so
 * the operations share the parts of their operands they leave as they are: an update of a big
 * object costs what it changed, not copies of everything its managers own. No node is ever
 * empty (neither a member nor holding one): every operation drops the nodes it empties.
 */

/** One step of a path, written as its fieldsV1 key. */
export type PathElement = string;
export type FieldPath = readonly PathElement[];

export const fieldElement = (name: string): PathElement => `f:${name}`;

/** A map list item's element: its key fields' values, in the key fields' name order (JSON, as Kubernetes writes it). */
export function keyElement(keys: Record<string, unknown>): PathElement {
  const sorted = Object.fromEntries(
    Object.keys(keys)
      .sort()
      .map((k) => [k, keys[k]]),
  );
  return `k:${JSON.stringify(sorted)}`;
}

export const valueElement = (value: unknown): PathElement => `v:${JSON.stringify(value)}`;

export class FieldsV1Error extends Error {
  constructor(
    readonly where: string,
    message: string,
  ) {
    super(message);
    this.name = 'FieldsV1Error';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/** Why a fieldsV1 key is not one, or undefined when it is. */
function elementProblem(key: string): string | undefined {
  const kind = key.slice(0, 2);
  const rest = key.slice(2);
  if (kind === 'f:') return rest === '' ? 'a field name (f:) must not be empty' : undefined;
  if (kind === 'i:') return /^(0|[1-9]\d*)$/.test(rest) ? undefined : `${JSON.stringify(key)}: an index (i:) must be a non-negative integer`;
  if (kind !== 'k:' && kind !== 'v:') return `${JSON.stringify(key)}: each key must be ".", or start with f:, k:, v: or i:`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(rest);
  } catch {
    return `${JSON.stringify(key)}: the value after ${kind} must be JSON`;
  }
  if (kind === 'v:') return isScalar(parsed) ? undefined : `${JSON.stringify(key)}: a set item (v:) must be a string, number, boolean or null`;
  if (!isObject(parsed) || Object.keys(parsed).length === 0 || !Object.values(parsed).every(isScalar))
    return `${JSON.stringify(key)}: a map list item (k:) must be an object of its key fields' values`;
  return undefined;
}

/** The same element written canonically (key fields sorted), so equal items compare equal. */
function canonical(key: string): string {
  if (key.startsWith('k:')) return keyElement(JSON.parse(key.slice(2)) as Record<string, unknown>);
  if (key.startsWith('v:')) return valueElement(JSON.parse(key.slice(2)));
  return key;
}

/** The rank of an element's kind, from its first character: f, k, v, i. */
const RANK: Record<number, number> = { 0x66: 0, 0x6b: 1, 0x76: 2, 0x69: 3 };
const I = 0x69;

/** Fields first (by name), then map list items, set items and indexes, as Kubernetes orders them. */
export function compareElements(a: PathElement, b: PathElement): number {
  const ka = a.charCodeAt(0);
  const kb = b.charCodeAt(0);
  if (ka !== kb) return RANK[ka]! - RANK[kb]!;
  if (ka === I) return Number(a.slice(2)) - Number(b.slice(2));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `.spec.volumes[name="data"].volumeName`: a path as Kubernetes prints it in conflicts. */
export function pathString(path: FieldPath): string {
  return path
    .map((e) => {
      const rest = e.slice(2);
      if (e.startsWith('f:')) return `.${rest}`;
      if (e.startsWith('i:')) return `[${rest}]`;
      if (e.startsWith('v:')) return `[=${rest}]`;
      const keys = JSON.parse(rest) as Record<string, unknown>;
      return `[${Object.entries(keys)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',')}]`;
    })
    .join('');
}

const NO_CHILDREN: ReadonlyMap<PathElement, FieldSet> = new Map();

export class FieldSet {
  /** Whether the path that leads to this node is in the set. */
  member = false;
  private nodes?: Map<PathElement, FieldSet>;

  /** The nodes below this one (most nodes are leaves: they share one empty map until they get a child). */
  get children(): ReadonlyMap<PathElement, FieldSet> {
    return this.nodes ?? NO_CHILDREN;
  }

  /** Adds or replaces the node below this one at `element`; for building a set only. */
  setChild(element: PathElement, child: FieldSet): void {
    (this.nodes ??= new Map()).set(element, child);
  }

  static of(...paths: FieldPath[]): FieldSet {
    const set = new FieldSet();
    for (const p of paths) set.insert(p);
    return set;
  }

  /** The set written as fieldsV1 (`{"f:spec":{"f:replicas":{}}}`), keys in a fixed order so equal sets encode alike. */
  static fromFieldsV1(json: unknown, where = 'fieldsV1'): FieldSet {
    if (!isObject(json)) throw new FieldsV1Error(where, 'must be an object');
    const set = new FieldSet();
    for (const [key, value] of Object.entries(json)) {
      const at = `${where}[${JSON.stringify(key)}]`;
      if (key === '.') {
        if (!isObject(value) || Object.keys(value).length > 0) throw new FieldsV1Error(at, 'must be {}');
        set.member = true;
        continue;
      }
      const problem = elementProblem(key);
      if (problem) throw new FieldsV1Error(where, problem);
      const child = FieldSet.fromFieldsV1(value, at);
      // A node without children is a member: `"f:replicas": {}`.
      if (child.children.size === 0) child.member = true;
      set.setChild(canonical(key), child);
    }
    return set;
  }

  toFieldsV1(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    // Most nodes are leaves: nothing to sort.
    if (!this.nodes) return out;
    if (this.member) out['.'] = {};
    const keys = [...this.nodes.keys()];
    if (keys.length > 1) keys.sort(compareElements);
    for (const key of keys) out[key] = this.nodes.get(key)!.toFieldsV1();
    return out;
  }

  get empty(): boolean {
    return !this.member && this.children.size === 0;
  }

  child(element: PathElement): FieldSet | undefined {
    return this.children.get(element);
  }

  insert(path: FieldPath): this {
    let node: FieldSet = this;
    for (const e of path) {
      let next = node.children.get(e);
      if (!next) node.setChild(e, (next = new FieldSet()));
      node = next;
    }
    node.member = true;
    return this;
  }

  /**
   * Puts `subtree` at `path`, in place of anything there (for building a set only; the subtree
   * is shared, not copied). Nodes on the way are made as insert makes them.
   */
  graft(path: FieldPath, subtree: FieldSet): this {
    if (path.length === 0) throw new Error('graft: the root is no path to graft at');
    let node: FieldSet = this;
    for (let i = 0; i < path.length - 1; i++) {
      let next = node.children.get(path[i]!);
      if (!next) node.setChild(path[i]!, (next = new FieldSet()));
      node = next;
    }
    node.setChild(path[path.length - 1]!, subtree);
    return this;
  }

  has(path: FieldPath): boolean {
    let node: FieldSet | undefined = this;
    for (const e of path) {
      node = node.children.get(e);
      if (!node) return false;
    }
    return node.member;
  }

  /**
   * Both sets' paths. When `other` adds none, this very set is the answer (as in without()): a
   * manager that writes again the fields it owns keeps its set, whose fieldsV1 is then known.
   */
  union(other: FieldSet): FieldSet {
    if (other.empty || other === this) return this;
    if (this.empty) return other;
    let grown: Map<PathElement, FieldSet> | undefined;
    for (const [e, theirs] of other.children) {
      const mine = this.children.get(e);
      const both = mine ? mine.union(theirs) : theirs;
      if (both !== mine) (grown ??= new Map()).set(e, both);
    }
    if (!grown && (this.member || !other.member)) return this;
    const out = new FieldSet();
    out.member = this.member || other.member;
    for (const [e, child] of this.children) out.setChild(e, grown?.get(e) ?? child);
    for (const [e, child] of grown ?? NO_CHILDREN) if (!this.children.has(e)) out.setChild(e, child);
    return out;
  }

  /** The paths of this set that are not in `other` (paths below a removed member stay unless removed themselves). */
  difference(other: FieldSet): FieldSet {
    if (other.empty || this.empty) return this;
    return this.without(other, (mine, theirs) => mine.difference(theirs));
  }

  /** The paths of this set that are neither in `other` nor below a member of it. */
  recursiveDifference(other: FieldSet): FieldSet {
    if (other.empty || this.empty) return this;
    return this.without(other, (mine, theirs) => (theirs.member ? EMPTY : mine.recursiveDifference(theirs)));
  }

  /**
   * This set less what `other` takes away, node by node (`rest` says what is left of a child both
   * have). Only the elements both have can change, so only those are looked at; when none
   * changes, this very set is the answer: a write that takes its fields from one manager leaves
   * every other manager's set as it was, the same object, whose fieldsV1 is then known.
   */
  private without(other: FieldSet, rest: (mine: FieldSet, theirs: FieldSet) => FieldSet): FieldSet {
    const member = this.member && !other.member;
    let changed: Map<PathElement, FieldSet> | undefined;
    for (const [e, theirs] of other.children) {
      const mine = this.children.get(e);
      if (!mine) continue;
      const left = rest(mine, theirs);
      if (left !== mine) (changed ??= new Map()).set(e, left);
    }
    if (!changed && member === this.member) return this;
    const out = new FieldSet();
    out.member = member;
    for (const [e, child] of this.children) {
      const left = changed?.get(e) ?? child;
      if (!left.empty) out.setChild(e, left);
    }
    return out;
  }

  intersection(other: FieldSet): FieldSet {
    const out = new FieldSet();
    if (this.empty || other.empty) return out;
    out.member = this.member && other.member;
    // Walk the smaller side: an apply's few fields against a manager's many.
    const [small, big] = this.children.size <= other.children.size ? [this, other] : [other, this];
    for (const [e, child] of small.children) {
      const theirs = big.children.get(e);
      if (!theirs) continue;
      const both = child.intersection(theirs);
      if (!both.empty) out.setChild(e, both);
    }
    return out;
  }

  /** Only the paths at or below `prefix` (the status subresource's view of a set). */
  under(prefix: FieldPath): FieldSet {
    let node: FieldSet | undefined = this;
    for (const e of prefix) node = node?.children.get(e);
    const out = new FieldSet();
    if (!node || node.empty) return out;
    let at = out;
    for (const e of prefix) {
      const next = new FieldSet();
      at.setChild(e, next);
      at = next;
    }
    at.member = node.member;
    for (const [e, child] of node.children) at.setChild(e, child);
    return out;
  }

  equals(other: FieldSet): boolean {
    return JSON.stringify(this.toFieldsV1()) === JSON.stringify(other.toFieldsV1()) && this.member === other.member;
  }

  /** Every member path, in fieldsV1 order (a node before the paths below it). */
  paths(): FieldPath[] {
    const out: FieldPath[] = [];
    const walk = (node: FieldSet, prefix: PathElement[]) => {
      if (node.member) out.push(prefix);
      for (const key of [...node.children.keys()].sort(compareElements)) walk(node.children.get(key)!, [...prefix, key]);
    };
    walk(this, []);
    return out;
  }
}

/** What is left of a node a recursive difference takes whole. */
const EMPTY = new FieldSet();
