/** Durations as kubectl and Go write them: `90s`, `2m`, `1h30m`, `500ms`, or bare seconds (flags such as --timeout; a Backup's ttl). */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (s === '' || consumed !== s.length) throw new Error(`invalid duration "${text}" (use e.g. 30s, 2m, 1h)`);
  return total;
}
