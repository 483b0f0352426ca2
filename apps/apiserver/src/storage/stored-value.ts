/**
 * Objects as etcd holds them: the parsed object with its revision, which is its resourceVersion.
 * The stored JSON carries no resourceVersion; every read fills it in from the key's mod_revision.
 */
import type { IKeyValue } from 'etcd3';
import type { KubeObject } from '@shoal/api';

export interface StoredObject {
  object: KubeObject;
  /** etcd mod_revision of the key: the object's resourceVersion. */
  revision: number;
}

export function decode(kv: IKeyValue): StoredObject {
  const revision = Number(kv.mod_revision);
  return { object: parseStored(kv.value.toString(), revision), revision };
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
 */
export class StoredValue implements StoredObject {
  private json: string | undefined;
  private parsed: KubeObject | undefined;

  constructor(
    readonly revision: number,
    value: Buffer | KubeObject,
  ) {
    // As a string, not the received buffer: a slice would keep the whole gRPC message alive.
    if (Buffer.isBuffer(value)) this.json = value.toString();
    else this.parsed = value;
  }

  get object(): KubeObject {
    if (this.parsed === undefined) {
      this.parsed = parseStored(this.json!, this.revision);
      this.json = undefined;
    }
    return this.parsed;
  }

  /** This value is known to be `object` (this apiserver wrote it): take it instead of parsing, unless already parsed. */
  adopt(object: KubeObject): void {
    if (this.parsed !== undefined) return;
    this.parsed = object;
    this.json = undefined;
  }
}
