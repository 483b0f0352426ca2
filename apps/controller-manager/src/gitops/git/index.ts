/** The git cache the gitops controllers share (git-cache.ts), and the credentials it fetches with. */
export { gitCache, removeCachedRepository, type GitCache } from './git-cache.js';
export { credentialsFor, type GitCredentials } from './credentials.js';
export { GitCacheError, GitOperationError, CredentialsError, InvalidRefError, GIT_OPERATION_FAILED, AUTHENTICATION_FAILED, INVALID_REF } from './git-errors.js';
export { localRepositoryPath, localGitDir } from './local-path.js';
export { describeRef, revisionString } from './refs.js';
