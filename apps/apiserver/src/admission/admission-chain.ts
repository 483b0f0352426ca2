/**
 * The admission plugins of the server, in order (admission.ts): every mutating plugin, in the
 * order given, before the object is validated; every validating plugin, in the order given, after.
 * A write's guards are all its plugins' guards; a write waits for the turn of each plugin that
 * wants one.
 */
import type { WriteGuard } from '../storage/object-store.js';
import type { AdmissionAttributes, AdmissionPass, EndTurn, MutatingAdmission, ValidatingAdmission } from './admission.js';

export class AdmissionChain {
  constructor(
    readonly mutating: readonly MutatingAdmission[] = [],
    readonly validating: readonly ValidatingAdmission[] = [],
  ) {}

  /** The admission of one write, run on each of its attempts. */
  begin(a: AdmissionAttributes): WriteAdmission {
    return new WriteAdmission(this, a);
  }
}

export class WriteAdmission {
  private readonly mutations: AdmissionPass[];
  private validations?: { plugin: ValidatingAdmission; pass: AdmissionPass }[];
  private turns: EndTurn[] = [];

  constructor(
    private readonly chain: AdmissionChain,
    private readonly a: AdmissionAttributes,
  ) {
    this.mutations = chain.mutating.flatMap((p) => p.admit(a) ?? []);
  }

  /** Step 1 of an attempt: mutating admission, which may change the object. */
  async mutate(fresh: boolean): Promise<WriteGuard[]> {
    const guards: WriteGuard[] = [];
    for (const pass of this.mutations) guards.push(...(await pass(fresh)));
    return guards;
  }

  /** Step 3 of an attempt, on the validated object: validating admission, each plugin in its turn if it takes turns. */
  async validate(fresh: boolean): Promise<WriteGuard[]> {
    this.validations ??= this.chain.validating.flatMap((plugin) => {
      const pass = plugin.validate(this.a);
      return pass ? [{ plugin, pass }] : [];
    });
    const guards: WriteGuard[] = [];
    for (const { plugin, pass } of this.validations) {
      const end = await plugin.turn?.(this.a);
      if (end) this.turns.push(end);
      guards.push(...(await pass(fresh)));
    }
    return guards;
  }

  /** After an attempt's write (or its failure): gives up the turns it took, last taken first. */
  endAttempt(): void {
    const turns = this.turns;
    this.turns = [];
    for (const end of turns.reverse()) end();
  }
}
