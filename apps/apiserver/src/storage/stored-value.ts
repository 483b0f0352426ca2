/**
 * Objects as etcd holds them: the parsed object with its revision, which is its resourceVersion.
 * The stored JSON carries no resourceVersion; every read fills it in from the key's mod_revision.
 */
import type { IKeyValue } from 'etcd3';
import type { KubeObject } from '@shoal/api';
import { metadataEnd, withResourceVersionAt } from './stored-json.js';

export interface StoredObject {
  object: KubeObject;
  /** etcd mod_revision of the key: the object's resourceVersion. */
  revision: number;
  /** The stored JSON, when at hand: whether a write would change anything is then one comparison. */
  readonly json?: string;
}

export function decode(kv: IKeyValue): StoredObject {
  const revision = Number(kv.mod_revision);
  const json = kv.value.toString();
  return { object: parseStored(json, revision), revision, json };
}

/**
 * The object as the API answers with it, at resourceVersion `revision` (another than its own: a
 * deletion's): from its stored JSON when at hand, so without parsing or serialising it.
 */
export function answerJson(s: StoredObject, revision = s.revision): string {
  if (s instanceof StoredValue) return s.answer(revision);
  const end = s.json === undefined ? -1 : metadataEnd(s.json);
  return end < 0 ? serialised(s, revision) : withResourceVersionAt(s.json!, end, revision);
}

/** The fallback when there is no stored JSON to write from: the parsed object serialised. */
function serialised({ object, revision }: StoredObject, at: number): string {
  return JSON.stringify(at === revision ? object : { ...object, metadata: { ...object.metadata, resourceVersion: String(at) } });
}

function parseStored(json: string, revision: number): KubeObject {
  const object = JSON.parse(json) as KubeObject;
  object.metadata.resourceVersion = String(revision);
  return object;
}

/**
 * A value from the watch, parsed only when something reads `object`. Many never are: the watch
 * usually delivers a write before etcd's answer to it reaches the writer, and with nobody
 * watching or listing, the cache's copy of an object this apiserver just wrote then becomes
 * that very object (see adopt) instead of a second parse of its JSON.
 *
 * The JSON is kept beside the parsed object, so a value can go back to its compact form: one
 * that is no longer current (it only serves watches resuming from the cache's window) at once
 * (compact()), a current one that nothing has read parsed for a while at the watch cache's next
 * sweep (compactIfUnread()). A stored object's JSON is about a third of the memory its parsed
 * form takes, and lists and GETs answer from the JSON.
 */
export class StoredValue implements StoredObject {
  readonly json: string;
  private parsed: KubeObject | undefined;
  /** Where metadata closes in `json` (stored-json.ts), once something asked; -1: not found. */
  private metadataEnd: number | undefined;
  /** Something read the parsed form since the last compactIfUnread(). */
  private read = false;

  /** `known`: the parsed form of `value`, when the caller already has it (this apiserver wrote it). */
  constructor(
    readonly revision: number,
    value: Buffer | string,
    known?: KubeObject,
  ) {
    // As a string, not the received buffer: a slice would keep the whole gRPC message alive.
    this.json = typeof value === 'string' ? value : value.toString();
    this.parsed = known;
  }

  get object(): KubeObject {
    this.read = true;
    return (this.parsed ??= parseStored(this.json, this.revision));
  }

  /** Whether the parsed form is held (reading `object` would not parse). */
  get isParsed(): boolean {
    return this.parsed !== undefined;
  }

  /** This value is known to be `object` (this apiserver wrote it): take it instead of parsing, unless already parsed. */
  adopt(object: KubeObject): void {
    this.parsed ??= object;
  }

  /** answerJson for this value, which remembers where its metadata ends. */
  answer(revision = this.revision): string {
    this.metadataEnd ??= metadataEnd(this.json);
    return this.metadataEnd < 0 ? serialised(this, revision) : withResourceVersionAt(this.json, this.metadataEnd, revision);
  }

  /** Drops the parsed form; the next read parses the JSON again (into a new object). Whether there was one. */
  compact(): boolean {
    const had = this.parsed !== undefined;
    this.parsed = undefined;
    return had;
  }

  /** Drops the parsed form unless something read it since the last call; whether it did drop one. */
  compactIfUnread(): boolean {
    const dropped = !this.read && this.parsed !== undefined;
    if (dropped) this.parsed = undefined;
    this.read = false;
    return dropped;
  }
}
