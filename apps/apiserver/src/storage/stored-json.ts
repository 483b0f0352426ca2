/**
 * The API's answer for an object written from its stored JSON alone, without parsing it: the
 * stored form lacks only metadata.resourceVersion (stored-form.ts), so the answer is that text
 * with `"resourceVersion":"N"` put before metadata's closing brace — the same text
 * StoredForm.withResourceVersion gives. Lists of thousands of objects are written this way.
 *
 * The stored JSON is compact (JSON.stringify's output): the scan below knows no whitespace and
 * gives up (-1) on anything it does not expect, and callers then serialise the parsed object.
 */

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** The index of the closing brace of the top-level "metadata" object of compact JSON; -1 when there is none. */
export function metadataEnd(json: string): number {
  if (json.charCodeAt(0) !== OPEN_BRACE) return -1;
  let i = 1;
  for (;;) {
    if (json.charCodeAt(i) !== QUOTE) return -1;
    const keyEnd = stringEnd(json, i);
    if (keyEnd < 0 || json.charCodeAt(keyEnd) !== COLON) return -1;
    const end = valueEnd(json, keyEnd + 1);
    if (end < 0) return -1;
    if (keyEnd - i === METADATA_KEY.length && json.startsWith(METADATA_KEY, i)) return json.charCodeAt(keyEnd + 1) === OPEN_BRACE ? end - 1 : -1;
    if (json.charCodeAt(end) !== COMMA) return -1;
    i = end + 1;
  }
}

const METADATA_KEY = '"metadata"';

/** `json` with the resourceVersion added at `end`, the index metadataEnd gave for it. */
export function withResourceVersionAt(json: string, end: number, revision: number): string {
  const comma = json.charCodeAt(end - 1) === OPEN_BRACE ? '' : ',';
  return `${json.slice(0, end)}${comma}"resourceVersion":"${revision}"${json.slice(end)}`;
}

/** Just past the string starting at `i` (a quote); -1 if it does not end. */
function stringEnd(s: string, i: number): number {
  let j = i + 1;
  for (;;) {
    j = s.indexOf('"', j);
    if (j < 0) return -1;
    // A quote ends the string unless an odd number of backslashes escapes it.
    let backslashes = 0;
    while (s.charCodeAt(j - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return j + 1;
    j++;
  }
}

/** Just past the value starting at `i`; -1 if it does not end. */
function valueEnd(s: string, i: number): number {
  const first = s.charCodeAt(i);
  if (first === QUOTE) return stringEnd(s, i);
  let j = i;
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    // A number, true, false or null: up to the next delimiter.
    while (j < s.length && !isDelimiter(s.charCodeAt(j))) j++;
    return j > i ? j : -1;
  }
  let depth = 0;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === QUOTE) {
      j = stringEnd(s, j);
      if (j < 0) return -1;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return j + 1;
    j++;
  }
  return -1;
}

const isDelimiter = (c: number) => c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET;
