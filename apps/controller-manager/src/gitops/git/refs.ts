/**
 * What a GitRepository's spec.ref means on a remote, pure: the lines of `git ls-remote` read into
 * refs, the tag a semver range picks, the names a branch or tag may have, and the revision string
 * status.artifact carries, as Flux writes it (`main@sha1:<sha>`, `v1.2.0@sha1:<sha>`, `sha1:<sha>`).
 */
import semver from 'semver';
import type { GitRepositoryRef } from '@shoal/api';
import { InvalidRefError } from './git-errors.js';

/** What `git ls-remote [--symref]` printed: each ref's object, and the symbolic refs' targets (`HEAD` → `refs/heads/main`). */
export interface RemoteRefs {
  refs: Map<string, string>;
  symrefs: Map<string, string>;
}

export function parseLsRemote(output: string): RemoteRefs {
  const refs = new Map<string, string>();
  const symrefs = new Map<string, string>();
  for (const line of output.split('\n')) {
    const [left, name] = line.split('\t');
    if (!left || !name) continue;
    const sym = /^ref: (\S+)$/.exec(left);
    if (sym) symrefs.set(name, sym[1]!);
    else if (/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(left)) refs.set(name, left);
  }
  return { refs, symrefs };
}

/**
 * Tags and the commits they name: an annotated tag's `refs/tags/<t>^{}` line (its peeled commit)
 * wins over the tag object's own line.
 */
export function tagCommits(remote: RemoteRefs): Map<string, string> {
  const tags = new Map<string, string>();
  for (const [name, sha] of remote.refs) {
    if (!name.startsWith('refs/tags/') || name.endsWith('^{}')) continue;
    const tag = name.slice('refs/tags/'.length);
    tags.set(tag, remote.refs.get(`${name}^{}`) ?? sha);
  }
  return tags;
}

/**
 * The highest tag that is a semantic version inside `range` (a leading `v` allowed: `v1.2.0`).
 * Pre-releases count only when the range names one, as node-semver (and Flux's) ranges do. Two
 * tags of one version (`1.2.0` and `v1.2.0`): the first in name order, so the pick is stable.
 */
export function pickSemverTag(tags: Iterable<string>, range: string): string | undefined {
  let parsed: semver.Range;
  try {
    parsed = new semver.Range(range);
  } catch {
    throw new InvalidRefError('spec.ref.semver', `"${range}" is not a semantic version range`);
  }
  let best: { tag: string; version: semver.SemVer } | undefined;
  for (const tag of [...tags].sort()) {
    const version = semver.parse(tag.startsWith('v') ? tag.slice(1) : tag);
    if (!version || !parsed.test(version)) continue;
    if (!best || semver.gt(version, best.version)) best = { tag, version };
  }
  return best?.tag;
}

/**
 * A branch or tag name git accepts and that reads as one name in a refspec (git-check-ref-format,
 * plus no `:` and no leading `-`): spec.ref is handed to `git fetch`, so it must not be read as
 * an option or as a second ref.
 */
export function checkRefName(field: string, name: string): void {
  const bad =
    name.startsWith('-') ||
    name.startsWith('/') ||
    name.endsWith('/') ||
    name.endsWith('.') ||
    name.endsWith('.lock') ||
    name.includes('..') ||
    name.includes('//') ||
    name.includes('@{') ||
    name === '@' ||
    /[\s:?*[\\^~\x00-\x1f\x7f]/.test(name) ||
    name.split('/').some((part) => part.startsWith('.'));
  if (bad) throw new InvalidRefError(field, `"${name}" is not a valid git ref name`);
}

/** The name a revision string carries before `@`: the branch or tag followed; none for a commit. */
export function revisionString(name: string | undefined, commit: string): string {
  const digest = `${commit.length === 64 ? 'sha256' : 'sha1'}:${commit}`;
  return name ? `${name}@${digest}` : digest;
}

/** spec.ref as a message says it: `branch "main"`, `the remote's HEAD`. */
export function describeRef(ref: GitRepositoryRef | undefined): string {
  if (ref?.branch) return `branch "${ref.branch}"`;
  if (ref?.tag) return `tag "${ref.tag}"`;
  if (ref?.semver) return `the highest tag in "${ref.semver}"`;
  if (ref?.commit) return `commit ${ref.commit}`;
  return "the remote's HEAD";
}
