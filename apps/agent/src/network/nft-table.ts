/**
 * One nftables table the agent owns, written whole: `ensure(body)` makes the table hold exactly
 * `body` (its chains), in one nft transaction (the table is made anew inside it, so it is never
 * half there), and only when that differs from what it holds — a hash of the body is the table's
 * comment. Conntrack keeps the state of connections already set up, so rewriting a table cuts
 * none of them, and an agent that restarts with the same VMs writes nothing.
 */
import { createHash } from 'node:crypto';
import { execa } from 'execa';

export type TableChange = 'written' | 'unchanged';

export class NftTable {
  /** `family`: ip, bridge, inet...; `netns`: a named network namespace to work in (tests), the agent's own when absent. */
  constructor(
    readonly family: 'ip' | 'bridge' | 'inet',
    readonly name: string,
    private readonly netns?: string,
  ) {}

  async ensure(body: string): Promise<TableChange> {
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
    if ((await this.comment()) === `shoal:${hash}`) return 'unchanged';
    const table = `${this.family} ${this.name}`;
    // `add` then `delete` makes the delete safe when the table is not there yet; all of it is one transaction.
    await this.nft(['-f', '-'], `add table ${table}\ndelete table ${table}\ntable ${table} {\n  comment "shoal:${hash}"\n${body}}\n`);
    return 'written';
  }

  /** Removes the table; none is no error. */
  async remove(): Promise<void> {
    await this.nft(['-f', '-'], `add table ${this.family} ${this.name}\ndelete table ${this.family} ${this.name}\n`);
  }

  private async comment(): Promise<string | undefined> {
    // Text, not -j: nft 1.0.6's JSON leaves the table's comment out.
    const r = await inNetns(this.netns, 'nft', ['list', 'table', this.family, this.name]);
    if (r.exitCode !== 0) return undefined;
    return /^\s*comment "([^"]*)"/m.exec(r.stdout)?.[1];
  }

  private async nft(args: string[], input?: string): Promise<void> {
    const r = await inNetns(this.netns, 'nft', args, input);
    if (r.exitCode !== 0) throw new Error(`nft ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  }
}

/** Runs a command in the named network namespace, or in the agent's own. Never rejects: the caller reads exitCode. */
export function inNetns(netns: string | undefined, command: string, args: string[], input?: string) {
  return netns ? execa('ip', ['netns', 'exec', netns, command, ...args], { reject: false, input }) : execa(command, args, { reject: false, input });
}
