/**
 * What may come next on a shoalctl command line, asked by the completion scripts
 * (shell-scripts.ts) through yargs' `--get-yargs-completions`. yargs answers for commands, flags
 * and choices; this answers where a word names a kind (the kinds of schemas/, offline) or
 * objects of a kind, a node, a VM (names read from the cluster: one list, at most 2 s, nothing
 * when it cannot be reached), and for -o and -n.
 */
import { kinds } from '@shoal/api';
import type { Arguments } from 'yargs';
import { connect } from '../connect.js';
import type { GlobalArgs } from '../global-options.js';
import { OUTPUT_CHOICES } from '../output/output-format.js';

/** What the positional words after a command name: a kind, objects of the kind given before, or objects of a fixed kind. */
type Slot = { kinds: 'any' } | { kinds: string[] } | { objectsOf: 'previous' } | { objectsOf: string };

interface CommandShape {
  slots: Slot[];
  /** The last slot takes any number of words (`get vm a b c`). */
  repeatLast?: boolean;
}

const KIND_AND_NAMES: CommandShape = { slots: [{ kinds: 'any' }, { objectsOf: 'previous' }], repeatLast: true };
const VM_COMMAND: CommandShape = { slots: [{ kinds: ['vm'] }, { objectsOf: 'vm' }] };
const NODE_COMMAND: CommandShape = { slots: [{ objectsOf: 'node' }] };

const COMMANDS: Record<string, CommandShape> = {
  get: KIND_AND_NAMES,
  delete: KIND_AND_NAMES,
  describe: { slots: [{ kinds: 'any' }, { objectsOf: 'previous' }] },
  logs: { slots: [{ objectsOf: 'vm' }] },
  place: { slots: [{ objectsOf: 'vm' }] },
  start: VM_COMMAND,
  stop: VM_COMMAND,
  restart: VM_COMMAND,
  migrate: VM_COMMAND,
  backup: VM_COMMAND,
  restore: { slots: [{ objectsOf: 'backup' }] },
  cordon: NODE_COMMAND,
  uncordon: NODE_COMMAND,
  drain: NODE_COMMAND,
};

const NAMES_TIMEOUT_MS = 2000;

type DefaultCompletion = () => void;

/** yargs' completion function (the form with a fallback): our answer, or yargs' own where we have none. */
export function completeWords(current: string, argv: Arguments, defaultCompletion: DefaultCompletion, done: (completions: string[]) => void): void {
  suggestions(current, argv, previousWord()).then(
    (list) => (list ? done(list) : defaultCompletion()),
    () => done([]),
  );
}

/** The word before the one being completed, as typed. */
function previousWord(): string | undefined {
  const words = process.argv.slice(process.argv.indexOf('--get-yargs-completions') + 1);
  return words.at(-2);
}

async function suggestions(current: string, argv: Arguments, previous: string | undefined): Promise<string[] | undefined> {
  if (previous === '-o' || previous === '--output') return OUTPUT_CHOICES;
  if (previous === '-n' || previous === '--namespace') return objectNames(argv, 'namespace', []);
  if (current.startsWith('-')) return undefined;
  // The program's name first, then the positional words up to the one being completed.
  const words = argv._.slice(1).map(String);
  if (words.at(-1) !== current || words.length < 2) return undefined;
  const shape = COMMANDS[words[0]!];
  if (!shape) return undefined;
  const given = words.slice(1, -1);
  const index = Math.min(given.length, shape.repeatLast ? shape.slots.length - 1 : given.length);
  const slot = shape.slots[index];
  if (!slot) return [];
  if ('kinds' in slot)
    return slot.kinds === 'any'
      ? kinds()
          .all.map((k) => k.plural)
          .sort()
      : slot.kinds;
  const kindName = slot.objectsOf === 'previous' ? given[0]! : slot.objectsOf;
  return objectNames(argv, kindName, given.slice(1));
}

/** The names of the objects of a kind in the namespace the command would use, less those already typed. */
async function objectNames(argv: Arguments, kindName: string, typed: string[]): Promise<string[]> {
  const kind = kinds().find(kindName);
  if (!kind) return [];
  const { client, settings } = await connect(argv as unknown as GlobalArgs);
  try {
    const namespace = kind.namespaced && !argv.allNamespaces ? settings.namespace : undefined;
    const list = await client.list(kind, { namespace, signal: AbortSignal.timeout(NAMES_TIMEOUT_MS) });
    return list.items
      .map((o) => o.metadata.name ?? '')
      .filter((name) => name && !typed.includes(name))
      .sort();
  } finally {
    await client.close();
  }
}
