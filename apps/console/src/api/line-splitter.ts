/**
 * Splits a streamed body into lines as its chunks arrive: a watch sends one JSON event per line,
 * and a chunk may end in the middle of a line. Text in, text out — the bytes are decoded by a
 * streaming TextDecoder before they get here, so a character cut between chunks is whole.
 */
export class LineSplitter {
  private pending = '';

  /** The lines this chunk completes, without their newlines; empty lines are skipped. */
  push(text: string): string[] {
    this.pending += text;
    const parts = this.pending.split('\n');
    this.pending = parts.pop()!;
    return parts.map((l) => l.trim()).filter(Boolean);
  }
}
