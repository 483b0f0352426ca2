/**
 * `-f -` means "read stdin", but yargs-parser does not take a lone `-` as the value of a long
 * option or of an array option (it looks like the start of a flag) and strict mode then rejects
 * it as an unknown argument. Rewriting `-f -` / `--filename -` to `--filename=-` before parsing
 * keeps the kubectl spelling working.
 */
const FILE_FLAGS = new Set(['-f', '--filename']);

export function joinStdinFileArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') return [...out, ...argv.slice(i)];
    if (FILE_FLAGS.has(argv[i]!) && argv[i + 1] === '-') {
      out.push('--filename=-');
      i++;
    } else out.push(argv[i]!);
  }
  return out;
}
