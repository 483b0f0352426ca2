/** How an object is serialised for etcd and for the API's answers, once for both. */
import type { KubeObject } from '@shoal/api';

/**
 * `value` is what etcd stores (everything but metadata.resourceVersion: that is the key's
 * mod_revision, see object-store.ts); `withResourceVersion(rv)` is the JSON the API answers
 * with, the same text with the resourceVersion appended to metadata. Both are exactly what
 * JSON.stringify gives for those two objects. Building them from shared pieces spares a write
 * serialising the object twice more (once for the size check, once for the response), which
 * showed in profiles of creates.
 */
export class StoredForm {
  private constructor(
    readonly value: string,
    /** Everything before metadata's closing brace; undefined when metadata is not an object. */
    private readonly head: string | undefined,
    /** Metadata's closing brace and everything after it. */
    private readonly tail: string,
    /** Whether metadata has a field besides resourceVersion. */
    private readonly metadataHasFields: boolean,
  ) {}

  static of(obj: KubeObject): StoredForm {
    let head: string | undefined;
    let out = '{';
    let metadataHasFields = false;
    for (const key of Object.keys(obj)) {
      const value = obj[key];
      const json = JSON.stringify(key === 'metadata' ? withoutResourceVersion(value) : value);
      if (json === undefined) continue;
      const piece = `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:`;
      if (key === 'metadata' && json.charCodeAt(0) === 0x7b /* { */) {
        head = out + piece + json.slice(0, -1);
        metadataHasFields = json !== '{}';
        out = head;
        out += '}';
        continue;
      }
      out += piece + json;
    }
    out += '}';
    return new StoredForm(out, head, head === undefined ? '' : out.slice(head.length), metadataHasFields);
  }

  /** Bytes etcd is asked to store. */
  get bytes(): number {
    return Buffer.byteLength(this.value);
  }

  /** The object as the API returns it, at resourceVersion `revision`. */
  withResourceVersion(revision: number): string {
    if (this.head === undefined) return this.value;
    return `${this.head}${this.metadataHasFields ? ',' : ''}"resourceVersion":"${revision}"${this.tail}`;
  }
}

function withoutResourceVersion(metadata: unknown): unknown {
  if (metadata === null || typeof metadata !== 'object' || !('resourceVersion' in metadata)) return metadata;
  const { resourceVersion: _, ...rest } = metadata as Record<string, unknown>;
  return rest;
}
