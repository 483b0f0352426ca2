/**
 * Repositories on this machine: a spec.url that is an absolute path or a file:// URL. Their refs
 * can be watched (gitrepository/repository-watches.ts), so a commit there is fetched at once.
 */
import { stat, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory a local URL names, or undefined for a remote one (https, ssh, git, scp-like). */
export function localRepositoryPath(url: string): string | undefined {
  if (url.startsWith('file://')) {
    try {
      return fileURLToPath(url);
    } catch {
      return undefined; // file://host/...: another host's path, not ours to watch
    }
  }
  return isAbsolute(url) ? resolve(url) : undefined;
}

/**
 * The git directory of a local repository: the path itself when it is bare, its `.git`
 * directory when it has a work tree, or where a `.git` file points (a submodule's). Undefined
 * when the path does not exist (yet).
 */
export async function localGitDir(path: string): Promise<string | undefined> {
  const dotGit = join(path, '.git');
  const found = await stat(dotGit).catch(() => undefined);
  if (found?.isDirectory()) return dotGit;
  if (found?.isFile()) {
    const m = /^gitdir:\s*(.+?)\s*$/m.exec(await readFile(dotGit, 'utf8').catch(() => ''));
    if (m) return resolve(path, m[1]!);
  }
  const self = await stat(path).catch(() => undefined);
  return self?.isDirectory() ? path : undefined;
}
