/**
 * A serial console's bytes as text for a page: the guest writes for a terminal — colour and
 * cursor escapes, carriage returns — which a <pre> would show as garbage. Kept to the last
 * `limit` characters, cut at a line start, so a chatty guest cannot grow the page without end.
 */
// CSI sequences (colours, cursor moves: ESC [ params final), then the two-character escapes (ESC c, ESC 7).
const ESCAPES = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[0-~]/g;

export function consoleText(raw: string, limit = 200_000): string {
  let text = raw.replace(ESCAPES, '').replace(/\r+\n/g, '\n').replace(/\r/g, '');
  if (text.length > limit) {
    text = text.slice(-limit);
    const nl = text.indexOf('\n');
    if (nl >= 0) text = text.slice(nl + 1);
  }
  return text;
}
