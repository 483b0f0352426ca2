/**
 * `metadata.managedFields` as Kubernetes writes it, and the managers it stands for. A manager is
 * one writer in one role: its name, Apply or Update, and the subresource it wrote through (an
 * Update's apiVersion would be part of it too, but Shoal serves one version). Entries are written
 * in Kubernetes' order (Apply before Update, then oldest first, then by name), so the same
 * managers always encode to the same bytes and a write that changes nothing stores nothing.
 */
import { invalid, jsonEqual, type KindInfo, type KubeObject, type ManagedFieldsEntry } from '@shoal/api';
import { FieldSet, FieldsV1Error } from './field-set.js';

export type Operation = 'Apply' | 'Update';

export interface Manager {
  manager: string;
  operation: Operation;
  /** '' for the object itself. */
  subresource: string;
  apiVersion: string;
  /** RFC 3339, to the second. */
  time?: string;
  fields: FieldSet;
}

/** Managers by managerId. */
export type Managers = Map<string, Manager>;

export const managerId = (m: Pick<Manager, 'manager' | 'operation' | 'subresource'>): string => JSON.stringify([m.manager, m.operation, m.subresource]);

/** How many Update managers an object keeps; older ones are folded into one (Kubernetes' DefaultMaxUpdateManagers). */
export const MAX_UPDATE_MANAGERS = 10;
/** The manager the oldest Update managers are folded into. */
export const ANCIENT_CHANGES = 'ancient-changes';

/** `[]` or `[{}]`: a write that asks for no managed fields at all (Kubernetes' reset). */
export function isResetRequest(entries: unknown): boolean {
  if (!Array.isArray(entries)) return false;
  if (entries.length === 0) return true;
  const only = entries[0] as unknown;
  return entries.length === 1 && typeof only === 'object' && only !== null && !Array.isArray(only) && Object.keys(only).length === 0;
}

const PRINTABLE = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]*$/u;

/**
 * The managers an object's entries name; 422 with the field path of the first entry that is
 * not one (clients may write managedFields, but only well-formed: what is stored is always
 * something the server can read again).
 */
export function decodeManagedFields(kind: KindInfo, name: string | undefined, entries: readonly ManagedFieldsEntry[] | undefined): Managers {
  const managers: Managers = new Map();
  (entries ?? []).forEach((entry, i) => {
    const at = `metadata.managedFields[${i}]`;
    const bad = (field: string, message: string, type = 'FieldValueInvalid') =>
      invalid({ kind: kind.kind, group: kind.group, name }, [{ field: `${at}${field}`, message, type }]);
    if (typeof entry !== 'object' || entry === null) throw bad('', 'must be an object', 'FieldValueTypeInvalid');
    if (entry.operation !== 'Apply' && entry.operation !== 'Update')
      throw bad('.operation', 'Unsupported value: supported values: "Apply", "Update"', 'FieldValueNotSupported');
    if (entry.fieldsType !== 'FieldsV1') throw bad('.fieldsType', 'Unsupported value: supported values: "FieldsV1"', 'FieldValueNotSupported');
    if (entry.apiVersion !== kind.apiVersion)
      throw bad('.apiVersion', `Unsupported value: ${JSON.stringify(entry.apiVersion)}: must be ${kind.apiVersion}`, 'FieldValueNotSupported');
    const manager = entry.manager ?? '';
    if (!PRINTABLE.test(manager)) throw bad('.manager', 'Invalid value: must consist of printable characters');
    if (entry.time !== undefined && Number.isNaN(Date.parse(entry.time)))
      throw bad('.time', `Invalid value: ${JSON.stringify(entry.time)}: must be an RFC 3339 time`);
    const subresource = entry.subresource ?? '';
    if (subresource !== '' && subresource !== 'status')
      throw bad('.subresource', `Unsupported value: ${JSON.stringify(subresource)}: supported values: "status"`, 'FieldValueNotSupported');
    let fields: FieldSet;
    try {
      fields = FieldSet.fromFieldsV1(entry.fieldsV1 ?? {}, 'fieldsV1');
    } catch (err) {
      if (!(err instanceof FieldsV1Error)) throw err;
      throw bad(`.${err.where}`, `Invalid value: ${err.message}`);
    }
    const m: Manager = { manager, operation: entry.operation, subresource, apiVersion: entry.apiVersion, fields, ...(entry.time ? { time: entry.time } : {}) };
    const id = managerId(m);
    if (managers.has(id))
      throw bad(
        '',
        `Duplicate value: a second entry for manager ${JSON.stringify(manager)} (${entry.operation}${subresource ? `, ${subresource}` : ''})`,
        'FieldValueDuplicate',
      );
    managers.set(id, m);
  });
  return managers;
}

/** Kubernetes' order: Apply before Update, older before newer (to the second), then by manager and subresource. */
function compareManagers(a: Manager, b: Manager): number {
  if (a.operation !== b.operation) return a.operation < b.operation ? -1 : 1;
  const at = a.time ? Math.floor(Date.parse(a.time) / 1000) : 0;
  const bt = b.time ? Math.floor(Date.parse(b.time) / 1000) : 0;
  if (at !== bt) return at - bt;
  if (a.manager !== b.manager) return a.manager < b.manager ? -1 : 1;
  return a.subresource < b.subresource ? -1 : a.subresource > b.subresource ? 1 : 0;
}

/**
 * Each field set's fieldsV1, made once: a set is never changed once built, and a write leaves
 * every manager but the writer with the set it had (a status write keeps the creator's set of
 * every spec field), so those encode to what they did last time. The stored versions that carry
 * it share it: a stored object is never changed in place (a write changes a copy).
 */
const encodings = new WeakMap<FieldSet, Record<string, unknown>>();

function fieldsV1Of(set: FieldSet): Record<string, unknown> {
  let json = encodings.get(set);
  if (!json) encodings.set(set, (json = set.toFieldsV1()));
  return json;
}

/**
 * The managers each entries array stands for, as this process decoded or encoded it: a write
 * starts from the managers of the version it changes, which the watch cache hands it as the
 * very object the previous write stored, so they are known without decoding its entries again.
 */
const managersOfEntries = new WeakMap<readonly ManagedFieldsEntry[], Managers>();

/**
 * decodeManagedFields of a stored version's entries, decoded once per entries array. Each caller
 * gets copies of the managers, which a write changes in place; their field sets are shared, as
 * sets are never changed.
 */
export function storedManagersOf(kind: KindInfo, name: string | undefined, entries: readonly ManagedFieldsEntry[]): Managers {
  let managers = managersOfEntries.get(entries);
  if (!managers) managersOfEntries.set(entries, (managers = decodeManagedFields(kind, name, entries)));
  return new Map([...managers].map(([id, m]) => [id, { ...m }]));
}

/** The entries to store; none (undefined) when no manager owns anything. */
export function encodeManagedFields(managers: Managers): ManagedFieldsEntry[] | undefined {
  const live = [...managers.values()].filter((m) => !m.fields.empty).sort(compareManagers);
  if (live.length === 0) return undefined;
  // Built key by key, in Kubernetes' order, leaving out what is empty.
  const entries = live.map((m) => {
    const entry: ManagedFieldsEntry = {};
    if (m.manager) entry.manager = m.manager;
    entry.operation = m.operation;
    entry.apiVersion = m.apiVersion;
    if (m.time) entry.time = m.time;
    entry.fieldsType = 'FieldsV1';
    entry.fieldsV1 = fieldsV1Of(m.fields);
    if (m.subresource) entry.subresource = m.subresource;
    return entry;
  });
  managersOfEntries.set(entries, new Map(live.map((m) => [managerId(m), m])));
  return entries;
}

/**
 * At most MAX_UPDATE_MANAGERS Update managers: the oldest are folded into one `ancient-changes`
 * manager, so a stream of writers with new names cannot grow the object without bound.
 */
export function capUpdateManagers(managers: Managers, max = MAX_UPDATE_MANAGERS): Managers {
  const updates = [...managers.values()].filter((m) => m.operation === 'Update' && m.manager !== ANCIENT_CHANGES);
  const ancientId = managerId({ manager: ANCIENT_CHANGES, operation: 'Update', subresource: '' });
  const hasAncient = managers.has(ancientId);
  const excess = updates.length + (hasAncient ? 1 : 0) - max;
  if (excess <= 0) return managers;
  const oldest = updates.sort(compareManagers).slice(0, hasAncient ? excess : excess + 1);
  const out: Managers = new Map(managers);
  let fields = managers.get(ancientId)?.fields ?? new FieldSet();
  let apiVersion = managers.get(ancientId)?.apiVersion ?? oldest[0]!.apiVersion;
  for (const m of oldest) {
    fields = fields.union(m.fields);
    apiVersion = m.apiVersion;
    out.delete(managerId(m));
  }
  out.set(ancientId, { manager: ANCIENT_CHANGES, operation: 'Update', subresource: '', apiVersion, fields });
  return out;
}

/** Whether two managedFields lists say the same but for their times. */
function sameButTimes(a: readonly ManagedFieldsEntry[], b: readonly ManagedFieldsEntry[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!jsonEqual({ ...a[i], time: undefined }, { ...b[i], time: undefined })) return false;
  return true;
}

/**
 * A write whose object ends as it was, but for the times of its managers, keeps the old times, so
 * that it stores nothing: an apply computes its changes before the kind's strategy has put the
 * object in its stored form (a Secret's stringData folded into data), so it can take the same
 * content for a change. Kubernetes, too, never writes for a time alone.
 */
export function keepTimesOfUnchangedWrite(current: KubeObject, next: KubeObject): void {
  const { managedFields: before, ...restBefore } = current.metadata;
  const { managedFields: after, ...restAfter } = next.metadata;
  if (!before || !after || !sameButTimes(before, after)) return;
  if (!jsonEqual({ ...current, metadata: restBefore }, { ...next, metadata: restAfter })) return;
  next.metadata.managedFields = before;
}
