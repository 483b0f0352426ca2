/**
 * What this controller last said about each Volume, so an Event is recorded once per change of
 * state and not on every pass: a Volume is reconciled again whenever it or a VM attaching it
 * changes (its agent's status writes included), and each pass would otherwise add to the
 * Event's count. Kept in memory only: a restarted controller says it once more, which is what
 * a user watching Events expects of a new process.
 */
export class ReportedOnce {
  /** Per Volume key: per subject (a VM's uid, say), what was said last. */
  private readonly said = new Map<string, Map<string, string>>();

  /**
   * Records what holds for `key` now (per subject, the message that describes it) and answers
   * the subjects whose message is new or changed: those to report. Subjects absent from `now`
   * are forgotten, so saying the same thing again later counts as new.
   */
  update(key: string, now: ReadonlyMap<string, string>): string[] {
    const before = this.said.get(key);
    const changed = [...now].filter(([subject, message]) => before?.get(subject) !== message).map(([subject]) => subject);
    if (now.size) this.said.set(key, new Map(now));
    else this.said.delete(key);
    return changed;
  }

  forget(key: string): void {
    this.said.delete(key);
  }
}
