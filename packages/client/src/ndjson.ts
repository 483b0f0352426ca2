/** Splits a chunked byte stream into lines; a chunk may end in the middle of a line or of a UTF-8 character. */
import { StringDecoder } from 'node:string_decoder';

export async function* lines(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  for await (const chunk of chunks) {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) yield line;
    }
  }
  // A stream cut mid-line (server killed) leaves a fragment that is not an event: drop it.
}
