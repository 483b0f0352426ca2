/**
 * A many-to-many index between keys, kept from informer events: each source (a VM) names the
 * targets it points at (the Volumes it attaches), and the index answers who points at a target.
 * The informer cache answers "what is this object"; the questions this controller asks go the
 * other way ("which VMs attach this Volume", "which Volumes does this VM own"), and scanning
 * every VM for each Volume would make a resync of N VMs with disks cost N².
 *
 * It keeps each source's last known targets, so a source that changes or goes can still say
 * which targets it pointed at before.
 */
export class KeyIndex {
  private readonly targetsOf = new Map<string, readonly string[]>();
  private readonly sourcesOf = new Map<string, Set<string>>();

  /** Records `source`'s targets now; answers every target it pointed at before or points at now. */
  set(source: string, targets: Iterable<string>): string[] {
    const before = this.targetsOf.get(source) ?? [];
    const now = [...new Set(targets)];
    for (const t of before) this.unlink(source, t);
    for (const t of now) {
      let sources = this.sourcesOf.get(t);
      if (!sources) this.sourcesOf.set(t, (sources = new Set()));
      sources.add(source);
    }
    if (now.length) this.targetsOf.set(source, now);
    else this.targetsOf.delete(source);
    return [...new Set([...before, ...now])];
  }

  /** Forgets `source`; answers the targets it pointed at last. */
  delete(source: string): string[] {
    return this.set(source, []);
  }

  /** The targets `source` points at. */
  targets(source: string): readonly string[] {
    return this.targetsOf.get(source) ?? [];
  }

  /** The sources pointing at `target`. */
  sources(target: string): string[] {
    return [...(this.sourcesOf.get(target) ?? [])];
  }

  private unlink(source: string, target: string): void {
    const sources = this.sourcesOf.get(target);
    sources?.delete(source);
    if (sources?.size === 0) this.sourcesOf.delete(target);
  }
}
