/**
 * The files of a GitSync's current revision, for `gitops diff`: the GitRepository's commit fetched
 * with the user's own git into a temporary directory (exactly that commit when the remote allows
 * it, else its ref, then checked). Credentials the cluster holds are not used: the user reads the
 * repository as themselves, or passes a working copy with --path.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GitRepository } from '@shoal/api';
import { execa } from 'execa';

export interface Checkout {
  dir: string;
  remove(): Promise<void>;
}

const git = (dir: string, args: string[]) => execa('git', ['-C', dir, ...args], { stdin: 'ignore', env: { GIT_TERMINAL_PROMPT: '0' } });

export async function checkoutRevision(repo: GitRepository): Promise<Checkout> {
  const artifact = repo.status?.artifact;
  if (!artifact) throw new Error(`gitrepository ${repo.metadata.name} has no revision yet (see its Ready condition)`);
  const dir = await mkdtemp(join(tmpdir(), 'shoalctl-gitops-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    await git(dir, ['init', '-q']);
    const url = repo.spec.url;
    const ref = artifact.revision.includes('@') ? artifact.revision.slice(0, artifact.revision.lastIndexOf('@')) : undefined;
    try {
      await git(dir, ['fetch', '-q', '--depth', '1', url, artifact.commit]);
    } catch {
      if (!ref) throw new Error(`cannot fetch commit ${artifact.commit} from ${url}`);
      await git(dir, ['fetch', '-q', url, ref]);
    }
    await git(dir, ['-c', 'advice.detachedHead=false', 'checkout', '-q', artifact.commit]);
    return { dir, remove };
  } catch (err) {
    await remove();
    const stderr = (err as { stderr?: string }).stderr;
    throw new Error(`cannot read revision ${artifact.revision} of ${repo.spec.url}: ${(stderr || (err as Error).message).split('\n')[0]}`);
  }
}
