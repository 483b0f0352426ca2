/** Live migration's QEMU layer, as the node agents call it: the target prepares and resumes, the source migrates. */
export { QmpSession, QmpCommandError, QmpConnectionError, type QmpEvent } from './qmp-session.js';
export { MigrationError, type MigrationFailureReason } from './errors.js';
export { prepareIncoming, resumeTarget, stopNbdExports, type IncomingEndpoint, type PrepareIncomingOptions } from './target.js';
export { endOrphanedMigration, migrate, type MigrateOptions, type MigrationPolicy, type MigrationResult, type MirrorTarget } from './source.js';
export type { MigrationProgress, MigrationPhase } from './progress.js';
export { writeQemuTlsDirectory, addTlsCredentials, addClientAuthorization, type PemFiles, type TlsEndpoint } from './tls-credentials.js';
