export { ShoalClient } from './client.js';
export type {
  BulkBind,
  ClientOptions,
  KindName,
  ObjectOptions,
  WriteOptions,
  AnswerOptions,
  PatchOptions,
  DeleteOptions,
  ListOptions,
  TableOptions,
  LogOptions,
} from './client.js';
export type { ConnectionOptions, RetryOptions, RetryMode, RequestOptions } from './transport.js';
export type { HttpImplementation } from './http-sender.js';
export { impersonationHeaders } from './impersonation.js';
export type { Impersonation } from './impersonation.js';
export { shouldRetry } from './transport.js';
export { parseServers } from './servers.js';
export type { ServerUrl } from './servers.js';
export type { WatchOptions } from './watch.js';
export { Informer } from './informer.js';
export type { InformerOptions, InformerEvents } from './informer.js';
export { ObjectStore } from './object-store.js';
export type { StoreChange } from './object-store.js';
export { TABLE_ACCEPT, isTable } from './table.js';
export type { Table, TableRow, TableColumnDefinition } from './table.js';
export { resourcePath, API_PREFIX, ETCD_SNAPSHOT_PATH, SNAPSHOT_SIZE_HEADER } from './paths.js';
export { resolveKind, UnknownKindError } from './kind-lookup.js';
export { compareResourceVersions, isNewerResourceVersion } from './resource-version.js';
export { Backoff, sleep } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { isConnectionError, isNeverConnectedError } from './connection-errors.js';
export { applyManifest, kindOfManifest, ManifestError } from './apply/apply.js';
export type { ApplyResult, ApplyOptions, Applied } from './apply/apply.js';
export { serverSideApply } from './apply/server-side-apply.js';
export type { ServerSideApplyOptions, ServerSideApplied } from './apply/server-side-apply.js';
export { threeWayMergePatch, applyMergePatch, deepEqual } from './apply/three-way-merge.js';
export type { Json, JsonObject } from './apply/three-way-merge.js';
export { LAST_APPLIED_ANNOTATION, readLastApplied, withLastApplied } from './apply/last-applied.js';
export { readRepositoryManifests } from './gitops/repository-manifests.js';
export type { RepositoryManifest, SyncProblem } from './gitops/repository-manifests.js';
export { planSync, applyRank, objectId } from './gitops/sync-plan.js';
export type { PlannedObject, SyncTarget } from './gitops/sync-plan.js';
export { listVmMetrics, listNodeMetrics } from './usage-metrics.js';
export type { UsageQuery } from './usage-metrics.js';
