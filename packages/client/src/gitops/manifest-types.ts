/** What reading a repository's manifests yields. */
import type { KubeObject } from '@shoal/api';

/** One object of the repository, and where it was read: the file's path from the repository root. */
export interface RepositoryManifest {
  file: string;
  object: KubeObject;
}

/** Why part of a commit cannot be applied: as much of file, object and field as is known. */
export interface SyncProblem {
  file?: string;
  kind?: string;
  name?: string;
  field?: string;
  message: string;
}
