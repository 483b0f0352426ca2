/**
 * A node --test reporter that prints, once every file has run, the test files that took longest
 * and the total: where the suite's time goes, to keep it within its budget (deploy/run-tests.sh
 * adds it beside the spec reporter). Files run one at a time, and Node reports no event for a
 * file as a whole, so a file's time is counted from the last event of the file before it to its
 * own last event: its process start, its before hooks (where clusters start) and its tests,
 * with the after hooks of the file before it.
 */
import { relative } from 'node:path';

const SHOWN = 25;

export default async function* fileDurations(source) {
  const files = new Map();
  let previousEnd = Date.now();
  let current;
  let currentEnd = previousEnd;
  for await (const event of source) {
    const file = event.data?.file;
    if (!file) continue;
    if (file !== current) {
      if (current) files.set(current, (files.get(current) ?? 0) + (currentEnd - previousEnd));
      previousEnd = currentEnd;
      current = file;
    }
    currentEnd = Date.now();
  }
  if (current) files.set(current, (files.get(current) ?? 0) + (currentEnd - previousEnd));
  const sorted = [...files].sort((a, b) => b[1] - a[1]);
  const total = sorted.reduce((sum, [, ms]) => sum + ms, 0);
  yield `\ntest files by duration (${files.size} files, ${(total / 60_000).toFixed(1)} min in total; the ${Math.min(SHOWN, files.size)} longest):\n`;
  for (const [file, ms] of sorted.slice(0, SHOWN)) yield `${(ms / 1000).toFixed(1).padStart(8)} s  ${relative(process.cwd(), file)}\n`;
}
