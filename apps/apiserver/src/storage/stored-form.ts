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
    // Pieces are joined, never sliced: slicing a joined string would copy it; joined ones are copied once, when written out.
    let head = '{';
    let tail = '';
    let afterMetadata = false;
    let metadataHasFields = false;
    let first = true;
    for (const key of Object.keys(obj)) {
      const value = (obj as unknown as Record<string, unknown>)[key];
      const json = JSON.stringify(key === 'metadata' ? withoutResourceVersion(value) : value);
      if (json === undefined) continue;
      const piece = `${first ? '' : ','}${keyJson(key)}:`;
      first = false;
      if (key === 'metadata' && json.charCodeAt(0) === 0x7b /* { */ && !afterMetadata) {
        head += piece + json.slice(0, -1);
        metadataHasFields = json !== '{}';
        afterMetadata = true;
        tail = '}';
      } else if (afterMetadata) {
        tail += piece + json;
      } else {
        head += piece + json;
      }
    }
    tail += '}';
    return afterMetadata ? new StoredForm(head + tail, head, tail, metadataHasFields) : new StoredForm(head + tail, undefined, '', false);
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

const KEY_JSON = new Map<string, string>();
function keyJson(key: string): string {
  let json = KEY_JSON.get(key);
  if (json === undefined) {
    json = JSON.stringify(key);
    if (KEY_JSON.size < 64) KEY_JSON.set(key, json);
  }
  return json;
}

function withoutResourceVersion(metadata: unknown): unknown {
  if (metadata === null || typeof metadata !== 'object' || !('resourceVersion' in metadata)) return metadata;
  const { resourceVersion: _, ...rest } = metadata as Record<string, unknown>;
  return rest;
}
