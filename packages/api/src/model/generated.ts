/**
 * The API's object model, generated from schemas/ by packages/api/src/model/generate-model.ts.
 * Do not edit: change the schema and run `npm run generate`.
 */

/**
 * Full: every block of each disk. Incremental: only the blocks written since the last backup of the disk at the same location (QEMU's persistent dirty bitmap), on top of it; taken as Full when no such backup or change record exists, as its status says.
 */
export type BackupMode = 'Full' | 'Incremental';
/**
 * New: not started; InProgress: the node agents are copying the disks; Completed: every VM and volume copied and verified; PartiallyFailed: some were, the others are in status.errors; Failed: nothing usable was made (status.errors says why); Deleting: the Backup and its data are being removed.
 */
export type BackupPhase = 'New' | 'InProgress' | 'Completed' | 'PartiallyFailed' | 'Failed' | 'Deleting';
export type EventType = 'Normal' | 'Warning';
/**
 * Live keeps the guest running; Cold shuts it down and boots it on the target.
 */
export type MigrationMode = 'Live' | 'Cold';
/**
 * Pending → Scheduling (choosing a target) → PreparingTarget (the target agent readies a QEMU waiting for the guest, or copies volumes for Cold) → TargetReady → Running (the transfer) → Succeeded, Failed or Aborted.
 */
export type MigrationPhase = 'Pending' | 'Scheduling' | 'PreparingTarget' | 'TargetReady' | 'Running' | 'Succeeded' | 'Failed' | 'Aborted';
/**
 * NoSchedule: VMs that do not tolerate the taint are not placed; PreferNoSchedule: placed only when nothing else fits; NoExecute: not placed, and evicted.
 */
export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
/**
 * BinPack prefers the fullest node that fits, keeping other nodes empty; Spread prefers the emptiest, spreading load.
 */
export type ScoringStrategy = 'BinPack' | 'Spread';
export type PreemptionPolicy = 'PreemptLowerPriority' | 'Never';
/**
 * local: a directory in each agent's data dir, one node per volume; shared: the same directory (path) on every selected node.
 */
export type StoragePoolType = 'local' | 'shared';
/**
 * Always restarts on any exit; RerunOnFailure only on failure; Manual only on start/stop requests; Halted keeps it stopped.
 */
export type RunStrategy = 'Always' | 'RerunOnFailure' | 'Manual' | 'Halted';
/**
 * For a VM that names no Network in spec.networks. default: on the cluster's default Network (the Network default in namespace shoal-system) when the cluster has one, else as user; user: NAT through QEMU user networking (DHCP inside the guest); none: no network device.
 */
export type NetworkMode = 'default' | 'user' | 'none';
/**
 * What happens when the node is drained: LiveMigrate moves the running guest, Shutdown stops it so it restarts elsewhere.
 */
export type EvictionStrategy = 'LiveMigrate' | 'Shutdown';
/**
 * Lifecycle phase: Pending, Scheduled, Starting, Running, Stopping, Stopped or Failed.
 */
export type VmPhase = 'Pending' | 'Scheduled' | 'Starting' | 'Running' | 'Stopping' | 'Stopped' | 'Failed';
/**
 * Pending: not made yet (it is made on the node of the first VM that uses it); Available: its file exists at status.path; Failed: it could not be made (see conditions); Releasing: being deleted, its file is being removed.
 */
export type VolumePhase = 'Pending' | 'Available' | 'Failed' | 'Releasing';
/**
 * The VirtualMachine bound; other metadata is ignored.
 */
export type BindingMeta = {
  /**
   * Name of the VirtualMachine (optional; must match the URL).
   */
  name?: string;
  /**
   * Namespace of the VirtualMachine (optional; must match the URL).
   */
  namespace?: string;
  /**
   * Bind only if the VirtualMachine is still at this resourceVersion (409 Conflict otherwise).
   */
  resourceVersion?: string;
} | null;
/**
 * The VirtualMachine bound; other metadata is ignored.
 */
export type BindingMeta1 = {
  /**
   * Name of the VirtualMachine (optional; must match the URL).
   */
  name?: string;
  /**
   * Namespace of the VirtualMachine (optional; must match the URL).
   */
  namespace?: string;
  /**
   * Bind only if the VirtualMachine is still at this resourceVersion (409 Conflict otherwise).
   */
  resourceVersion?: string;
} | null;
/**
 * Delete only if the object still has this uid and resourceVersion (409 Conflict otherwise).
 */
export type Preconditions = {
  uid?: string | null;
  /**
   * A resourceVersion the server returned.
   */
  resourceVersion?: string | null;
} | null;

/**
 * Every kind the API serves, by its name.
 */
export interface Kinds {
  Backup: Backup;
  BackupLocation: BackupLocation;
  BackupSchedule: BackupSchedule;
  ClusterRole: ClusterRole;
  ClusterRoleBinding: ClusterRoleBinding;
  DiskBackup: DiskBackup;
  Event: Event;
  GitRepository: GitRepository;
  GitSync: GitSync;
  Image: Image;
  IPAddress: IPAddress;
  Lease: Lease;
  Migration: Migration;
  Namespace: Namespace;
  Network: Network;
  Node: Node;
  PlacementPolicy: PlacementPolicy;
  PriorityClass: PriorityClass;
  ResourceQuota: ResourceQuota;
  Restore: Restore;
  Role: Role;
  RoleBinding: RoleBinding;
  Secret: Secret;
  StoragePool: StoragePool;
  VirtualMachine: VirtualMachine;
  Volume: Volume;
}
/**
 * A copy of VirtualMachines, their Volumes and the manifests of both, kept at a BackupLocation, from which a Restore makes them again. Running VMs are backed up without stopping them: each VM's disks are copied at one instant (a QEMU backup job per disk, started together), so the copy is crash-consistent — what the disks held had the power been cut at that instant. Deleting a Backup deletes its data; an expired one (status.expiration) goes on its own.
 */
export interface Backup {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Backup';
  metadata: ObjectMeta;
  spec: BackupSpec;
  status?: BackupStatus;
}
/**
 * Standard object metadata, as in Kubernetes ObjectMeta.
 */
export interface ObjectMeta {
  /**
   * Unique within a namespace (DNS subdomain: lower case letters, digits, '-' and '.').
   */
  name?: string;
  /**
   * Prefix for a server-generated name, used when name is empty.
   */
  generateName?: string;
  namespace?: string;
  /**
   * Set by the server; unique across time.
   */
  uid?: string;
  /**
   * Opaque version for optimistic concurrency; the etcd revision that last changed the object.
   */
  resourceVersion?: string;
  /**
   * Bumped by the server on every change of spec.
   */
  generation?: number;
  creationTimestamp?: string | null;
  deletionTimestamp?: string | null;
  deletionGracePeriodSeconds?: number;
  labels?: {
    [k: string]: string;
  };
  annotations?: {
    [k: string]: string;
  };
  /**
   * @maxItems 32
   */
  finalizers?: string[];
  /**
   * @maxItems 32
   */
  ownerReferences?: OwnerReference[];
  /**
   * Which manager owns which fields (server-side apply). Kept by the server on every write: a write may replace it with well-formed entries, and an empty list (or one empty entry) clears it.
   */
  managedFields?: ManagedFieldsEntry[];
}
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}
/**
 * The fields one manager owns, as Kubernetes records them.
 */
export interface ManagedFieldsEntry {
  /**
   * Who wrote the fields: the request's fieldManager, or the start of its User-Agent.
   */
  manager?: string;
  /**
   * Apply: a server-side apply, whose fields the manager keeps until it applies without them. Update: any other write; the manager owns what it changed until someone else changes it.
   */
  operation?: 'Apply' | 'Update';
  /**
   * The version the fields are named in.
   */
  apiVersion?: string;
  /**
   * When the manager last changed one of its fields (RFC 3339).
   */
  time?: string;
  fieldsType?: 'FieldsV1';
  /**
   * The fields, as a tree: f:<field>, k:<map list item's keys>, v:<set item>, i:<index>; '.' marks a node that is owned itself.
   */
  fieldsV1?: {};
  /**
   * The subresource written through (status), if not the object itself.
   */
  subresource?: string;
}
/**
 * What to back up: the VMs named, or those the selector picks, or (neither) every VM of the namespace; each with its Volumes and the manifests of both.
 */
export interface BackupSpec {
  /**
   * The BackupLocation; the default one when omitted.
   */
  location?: string;
  /**
   * The VirtualMachines of this namespace to back up.
   *
   * @maxItems 256
   */
  vmNames?: string[];
  /**
   * The VirtualMachines of this namespace whose labels match.
   */
  selector?: LabelSelector;
  mode: BackupMode;
  /**
   * How long the Backup is kept after it was made (720h: 30 days); then it is deleted with its data.
   */
  ttl: string;
}
export interface LabelSelector {
  matchLabels?: {
    [k: string]: string;
  };
  matchExpressions?: LabelSelectorRequirement[];
}
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}
/**
 * Written by the backup controller alone, from what the node agents report in the Backup's DiskBackups.
 */
export interface BackupStatus {
  phase?: BackupPhase;
  /**
   * The BackupLocation the data went to.
   */
  location?: string;
  /**
   * The directory of this Backup within the location.
   */
  path?: string;
  /**
   * What a restored disk holds: CrashConsistent, what it held at one instant, as after a power cut (the guest was not asked to flush).
   */
  consistency?: 'CrashConsistent';
  startTimestamp?: string;
  completionTimestamp?: string;
  /**
   * When the Backup and its data are deleted (creation time + spec.ttl).
   */
  expiration?: string;
  /**
   * Bytes written to the location, all volumes together.
   */
  totalBytes?: number;
  vms?: BackupVmStatus[];
  /**
   * Per volume: what was copied, how, its bytes and the checksum of its file.
   */
  volumes?: BackupVolume[];
  errors?: BackupItemError[];
  conditions?: Condition[];
  observedGeneration?: number;
}
export interface BackupVmStatus {
  name: string;
  uid?: string;
  /**
   * The node whose agent copied its disks.
   */
  node?: string;
  phase?: 'Pending' | 'InProgress' | 'Completed' | 'Failed';
  /**
   * Whether the guest was running while its disks were copied.
   */
  running?: boolean;
}
export interface BackupVolume {
  /**
   * The VirtualMachine that attaches it.
   */
  vm?: string;
  /**
   * Its disk name in the VM (spec.volumes[].name, or root).
   */
  disk?: string;
  /**
   * The Volume.
   */
  name: string;
  /**
   * The Volume's uid: a chain of incremental backups is one Volume's.
   */
  uid?: string;
  /**
   * How it was copied (Incremental may have been taken as Full; modeReason says why).
   */
  mode?: BackupMode;
  modeReason?: string;
  /**
   * Its file, relative to the location's path: a qcow2 image; for an incremental, its backing file is the parent's.
   */
  file?: string;
  /**
   * For an incremental: the file it builds on, relative to the location's path.
   */
  parent?: string;
  /**
   * The disk's size (what a restore makes).
   */
  sizeBytes?: number;
  /**
   * Bytes of the file (what was written to the location).
   */
  bytes?: number;
  /**
   * Checksum of the file, checked before it is restored.
   */
  sha256?: string;
  /**
   * The QEMU dirty bitmap that counts writes since this copy: the next incremental starts from it.
   */
  bitmap?: string;
}
export interface BackupItemError {
  /**
   * virtualmachine/NAME or volume/NAME, or the Backup itself.
   */
  item: string;
  reason?: string;
  message: string;
}
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}
/**
 * Where Backups keep their data. Today a directory reachable at the same path from the nodes that back up and restore (a local disk, or a mount such as NFS); the provider field keeps the way open for object storage. The node agents write and read it; the control plane only names it.
 */
export interface BackupLocation {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'BackupLocation';
  metadata: ObjectMeta;
  spec: BackupLocationSpec;
  status?: BackupLocationStatus;
}
export interface BackupLocationSpec {
  /**
   * Filesystem: a directory at spec.path on every node that takes part.
   */
  provider: 'Filesystem';
  /**
   * The absolute path of the directory on the nodes. Backups go to <path>/<namespace>/<backup name>-<first 8 characters of its uid>/.
   */
  path: string;
  /**
   * The location of Backups that name none. With several defaults, the first by name.
   */
  default: boolean;
}
export interface BackupLocationStatus {
  conditions?: Condition[];
}
/**
 * Makes Backups on a cron schedule and keeps only as many as its retention says. A run missed while the controller was down is made up once when it is back (never a burst of them); a run more than startingDeadlineSeconds late is skipped and said so.
 */
export interface BackupSchedule {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'BackupSchedule';
  metadata: ObjectMeta;
  spec: BackupScheduleSpec;
  status?: BackupScheduleStatus;
}
export interface BackupScheduleSpec {
  /**
   * A cron expression (five fields, or six with seconds first; @daily and the like).
   */
  schedule: string;
  /**
   * The IANA time zone the schedule is read in.
   */
  timeZone: string;
  /**
   * No new Backups while true (and no status.nextScheduleTime); existing ones still expire and retention still applies. Unpausing makes the most recent run missed while paused, once (skipped if later than startingDeadlineSeconds), never the others: as Kubernetes CronJob's suspend.
   */
  paused: boolean;
  /**
   * A run later than this is skipped (a BackupSkipped Event); when omitted, a missed run is always made up, once.
   */
  startingDeadlineSeconds?: number;
  /**
   * The spec of each Backup it makes.
   */
  template?: BackupSpec;
  retention?: BackupRetention;
}
/**
 * Which of its finished Backups to keep; the others are deleted (with their data). New and InProgress ones are never deleted nor counted. Unset: keep them until their ttl.
 */
export interface BackupRetention {
  /**
   * Keep the newest N Completed Backups and, counted apart, the newest N unsuccessful ones (PartiallyFailed, Failed): failures never push out a Backup that can be restored.
   */
  keepLast?: number;
  /**
   * Delete finished ones made longer ago than this, whatever keepLast says.
   */
  maxAge?: string;
}
export interface BackupScheduleStatus {
  /**
   * The scheduled time of the last run made.
   */
  lastScheduleTime?: string;
  /**
   * The Backup that run made.
   */
  lastBackup?: string;
  lastSuccessfulTime?: string;
  nextScheduleTime?: string;
  conditions?: Condition[];
  observedGeneration?: number;
}
/**
 * Permissions that a ClusterRoleBinding grants in every namespace and on cluster-scoped resources and non-resource URLs, or that a RoleBinding grants within its own namespace.
 */
export interface ClusterRole {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'ClusterRole';
  metadata: ObjectMeta;
  /**
   * The permissions this role grants; anything not granted is denied.
   */
  rules: PolicyRule[];
}
/**
 * What a subject may do: verbs on resources of API groups (optionally only the named objects), or verbs on non-resource URLs.
 */
export interface PolicyRule {
  /**
   * API groups the resources are in (shoal.dev); "*" is every group.
   */
  apiGroups?: string[];
  /**
   * Resources by plural name, subresources as resource/subresource (virtualmachines/status, virtualmachines/binding, virtualmachines/log); "*" is every resource and subresource, "* /status" a subresource of every resource.
   */
  resources?: string[];
  /**
   * get, list, watch, create, update, patch, delete, deletecollection, or "*" for all.
   *
   * @minItems 1
   */
  verbs: string[];
  /**
   * Only these objects; empty means all. Does not restrict create or unnamed lists.
   */
  resourceNames?: string[];
  /**
   * Paths that are not resources (/metrics, /openapi/*); a trailing * matches a prefix. Only in ClusterRoles.
   */
  nonResourceURLs?: string[];
}
/**
 * Grants a ClusterRole to users and groups across the whole cluster.
 */
export interface ClusterRoleBinding {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'ClusterRoleBinding';
  metadata: ObjectMeta;
  /**
   * Who is granted the role.
   */
  subjects: Subject[];
  roleRef: ClusterRoleRef;
}
export interface Subject {
  /**
   * User (as authenticated: token file user, certificate CN), Group (token file groups, certificate O) or ServiceAccount (name and namespace: the user system:serviceaccount:<namespace>:<name>, which a GitSync applies as).
   */
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  /**
   * Accepted for compatibility with Kubernetes manifests (rbac.authorization.k8s.io).
   */
  apiGroup?: string;
  /**
   * The namespace of a ServiceAccount subject; unused for the others.
   */
  namespace?: string;
}
/**
 * The role whose permissions are granted. Cannot be changed after creation: delete and recreate the binding instead.
 */
export interface ClusterRoleRef {
  /**
   * shoal.dev (rbac.authorization.k8s.io is accepted too).
   */
  apiGroup?: string;
  kind: 'ClusterRole';
  name: string;
}
/**
 * The disks of one VirtualMachine in one Backup: made by the backup controller, carried out by the node agent of the VM's node, which alone writes its status. Users read them; the Backup's status sums them up.
 */
export interface DiskBackup {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'DiskBackup';
  metadata: ObjectMeta;
  spec: DiskBackupSpec;
  status?: DiskBackupStatus;
}
export interface DiskBackupSpec {
  backupName: string;
  location?: string;
  /**
   * The location's directory on the node.
   */
  locationPath: string;
  /**
   * This backup's directory within the location.
   */
  path: string;
  vmName: string;
  vmUID?: string;
  /**
   * The node whose agent copies the disks.
   */
  node: string;
  mode: BackupMode;
  /**
   * The VM's Volumes in attachment order, as they were when the backup began.
   */
  volumes?: DiskBackupVolume[];
  /**
   * The VM and its Volumes as they were when the backup began (written next to the data, and what a Restore makes them from).
   */
  manifests?: {
    virtualMachine?: {};
    volumes?: {}[];
  };
}
export interface DiskBackupVolume {
  disk: string;
  name: string;
  uid?: string;
  /**
   * The Volume's file on the node.
   */
  path?: string;
  format?: 'qcow2' | 'raw';
}
export interface DiskBackupStatus {
  phase?: 'InProgress' | 'Completed' | 'Failed';
  /**
   * Whether the guest was running while its disks were copied (else the files were copied as they lay).
   */
  running?: boolean;
  startedAt?: string;
  completedAt?: string;
  volumes?: BackupVolume[];
  progress?: {
    doneBytes?: number;
    totalBytes?: number;
  };
  reason?: string;
  message?: string;
}
/**
 * Something that happened to an object, shown by shoalctl describe.
 */
export interface Event {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Event';
  metadata: ObjectMeta;
  involvedObject: ObjectReference;
  reason?: string;
  message?: string;
  type: EventType;
  count: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  source?: EventSource;
}
export interface ObjectReference {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  fieldPath?: string;
}
export interface EventSource {
  component?: string;
  host?: string;
}
/**
 * A Git repository the gitops controller fetches (shallow, cached per repository) on an interval, at once when a local repository changes, or when its webhook is called on a push. Its status names the commit that GitSyncs apply. Shaped as Flux's GitRepository.
 */
export interface GitRepository {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'GitRepository';
  metadata: ObjectMeta;
  spec: GitRepositorySpec;
  status?: GitRepositoryStatus;
}
export interface GitRepositorySpec {
  /**
   * Where to fetch from: an absolute local path or file:// URL (watched for changes, so a commit there syncs at once), or any remote git can reach (https, ssh, git).
   */
  url: string;
  ref?: GitRepositoryRef;
  /**
   * How often to look for new commits.
   */
  interval: string;
  /**
   * The longest a fetch may take; past it the fetch is stopped and counted as failed.
   */
  timeout: string;
  secretRef?: LocalObjectReference;
  webhookSecretRef?: LocalObjectReference1;
  /**
   * Stop fetching; the last revision stays in force.
   */
  suspend: boolean;
}
/**
 * What to check out; at most one of them. Unset: the branch the remote's HEAD names.
 */
export interface GitRepositoryRef {
  branch?: string;
  tag?: string;
  /**
   * The highest tag that is a semantic version inside this range (a leading v is allowed).
   */
  semver?: string;
  /**
   * A commit SHA; fetched exactly, no branch followed.
   */
  commit?: string;
}
/**
 * A Secret in this namespace with the credentials: username and password (https; password may be a token), or identity (an SSH private key) and known_hosts (ssh).
 */
export interface LocalObjectReference {
  name: string;
}
/**
 * A Secret in this namespace whose key token authenticates calls to this repository's webhook on the apiserver (POST /hooks/v1/namespaces/NS/gitrepositories/NAME, with the token as a bearer token or as the key of a GitHub-style X-Hub-Signature-256 body signature): a call makes the controller fetch at once. Unset: no webhook.
 */
export interface LocalObjectReference1 {
  name: string;
}
/**
 * Written by the gitops controller.
 */
export interface GitRepositoryStatus {
  artifact?: GitArtifact;
  /**
   * When the last fetch ended, successfully or not.
   */
  lastFetchTime?: string;
  /**
   * The value of the shoal.dev/reconcile-requested-at annotation (set by a webhook call or shoalctl gitops reconcile) that the last fetch answered.
   */
  lastHandledReconcileAt?: string;
  conditions?: Condition[];
  observedGeneration?: number;
}
export interface GitArtifact {
  /**
   * <ref>@sha1:<commit>, as Flux writes it.
   */
  revision: string;
  /**
   * The full SHA of the commit.
   */
  commit: string;
  /**
   * The first line of the commit message.
   */
  message?: string;
  /**
   * When this commit was first fetched.
   */
  lastUpdateTime?: string;
}
/**
 * Keeps the objects under a path of a GitRepository applied to the cluster (server-side apply, field manager gitops): a new commit is applied whole or not at all, drift is corrected on every pass, and what left the repository is pruned (only what this sync created). Shaped as Flux's Kustomization.
 */
export interface GitSync {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'GitSync';
  metadata: ObjectMeta;
  spec: GitSyncSpec;
  status?: GitSyncStatus;
}
export interface GitSyncSpec {
  sourceRef: GitSyncSourceRef;
  /**
   * The directory of the repository whose manifests (*.yaml, *.yml, *.json, recursively; several documents per file allowed) are applied.
   */
  path: string;
  /**
   * How often to apply again when nothing changed, correcting drift (a synced object edited or deleted by hand). A new revision of the source is applied at once.
   */
  interval: string;
  /**
   * How soon to try again after a failed pass; defaults to interval.
   */
  retryInterval?: string;
  /**
   * Delete the objects this sync applied that are no longer in the repository. Objects it did not create are never deleted.
   */
  prune: boolean;
  /**
   * Stop applying (and pruning); the cluster is left as it is.
   */
  suspend: boolean;
  /**
   * GitSyncs that must be Ready (at their source's current revision) before this one applies.
   *
   * @maxItems 64
   */
  dependsOn?: GitSyncDependency[];
  /**
   * After applying, wait until every VirtualMachine it applied is Running (and every other object exists) before Ready is True; past timeout the pass fails with the VMs that are not.
   */
  wait: boolean;
  /**
   * The longest a pass (apply and, with wait, the health checks) may take.
   */
  timeout: string;
  /**
   * The namespace of every namespaced object it applies, whatever the manifests say. Unset: a manifest's own namespace, else this GitSync's.
   */
  targetNamespace?: string;
  /**
   * Apply as system:serviceaccount:<this namespace>:<name> (by impersonation), so that the repository can write only what RoleBindings grant that account. Unset: as the gitops controller, which may write anything.
   */
  serviceAccountName?: string;
}
export interface GitSyncSourceRef {
  kind: 'GitRepository';
  /**
   * A GitRepository in this namespace.
   */
  name: string;
}
export interface GitSyncDependency {
  /**
   * A GitSync in this namespace.
   */
  name: string;
}
/**
 * Written by the gitops controller on every pass.
 */
export interface GitSyncStatus {
  /**
   * The source revision last applied in full.
   */
  lastAppliedRevision?: string;
  /**
   * The source revision of the last pass, successful or not.
   */
  lastAttemptedRevision?: string;
  /**
   * The shoal.dev/reconcile-requested-at annotation value the last pass answered.
   */
  lastHandledReconcileAt?: string;
  /**
   * The objects the last successful pass applied: what prune compares with.
   */
  inventory?: GitSyncInventoryEntry[];
  /**
   * Why the last pass failed, one entry per file and object.
   */
  errors?: GitSyncError[];
  conditions?: Condition[];
  observedGeneration?: number;
}
export interface GitSyncInventoryEntry {
  kind: string;
  namespace?: string;
  name: string;
  /**
   * The uid it had when applied: a different object of the same name made by hand later is not pruned.
   */
  uid?: string;
}
export interface GitSyncError {
  /**
   * The manifest's path in the repository.
   */
  file?: string;
  kind?: string;
  name?: string;
  /**
   * The field path, as the API's validation names it.
   */
  field?: string;
  message: string;
}
/**
 * A guest image: a kernel (and initramfs) booted directly, and optionally a root disk that VMs get a copy-on-write overlay of (a Volume or rootDisk whose source image names this Image). Each file is named by where to fetch it and its sha256; every node agent fetches an image on first use, verifies the digest, and keeps one copy per digest however many VMs use it. A file whose digest does not match is never booted. VMs of any namespace name it in spec.image.
 */
export interface Image {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Image';
  metadata: ObjectMeta;
  spec: ImageSpec;
  status?: ImageStatus;
}
export interface ImageSpec {
  /**
   * The kernel QEMU boots (-kernel).
   */
  kernel: ImageFile;
  /**
   * The initramfs (-initrd); none when omitted.
   */
  initrd?: ImageFile;
  /**
   * A root filesystem image (qcow2 or raw, as its format says): VMs use it through a Volume or rootDisk whose source image is this Image's name, a copy-on-write overlay on the node's copy. The image itself is never written.
   */
  disk?: ImageFile;
  /**
   * Kernel command-line arguments the image needs (e.g. root=/dev/vda rw), after Shoal's own and before the VM's cmdline.
   *
   * @maxItems 32
   */
  kernelArgs?: string[];
  /**
   * How a guest of this image is configured at boot. ShoalInit: Shoal's small init reads the VM's command and hostname from the kernel command line. CloudInit: cloud-init reads a NoCloud config drive (meta-data, user-data, network-config) the agent builds from the VM's spec.guest and attaches as the last disk.
   */
  guestConfig: 'ShoalInit' | 'CloudInit';
}
export interface ImageFile {
  /**
   * Where each node fetches it: http or https, or file:// for a path the nodes can read (a shared pool's mount, a directory a build script wrote).
   */
  url: string;
  /**
   * The file's sha256, lowercase hex: a copy that does not match is thrown away and never booted.
   */
  sha256: string;
  /**
   * A disk's format (qcow2 when omitted); meaningless for a kernel or initramfs.
   */
  format?: 'qcow2' | 'raw';
}
export interface ImageStatus {
  /**
   * sha256 over the files' digests (kernel, initrd, disk, in that order): one name for this content, the same on every node.
   */
  digest?: string;
  /**
   * Bytes of the files together, as the nodes that verified them found.
   */
  size?: number;
  /**
   * The nodes that hold a verified copy of every file of it, from their status.images.
   */
  nodes?: string[];
  /**
   * Cached: whether any node holds it.
   */
  conditions?: Condition[];
  observedGeneration?: number;
}
/**
 * One address of a Network, given to one VM NIC: the record that makes the address taken. Its name is the Network's and the address's (<network>.<a>-<b>-<c>-<d>), so two can never be created for one address, however many controllers or apiservers race. Made and deleted by the network controller; the VM's status.interfaces says the same for its reader.
 */
export interface IPAddress {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'IPAddress';
  metadata: ObjectMeta;
  spec: IPAddressSpec;
}
export interface IPAddressSpec {
  /**
   * The Network, in this namespace.
   */
  network: string;
  address: string;
  /**
   * The VirtualMachine, in this namespace, whose NIC has it.
   */
  vmName: string;
  /**
   * The VM's namespace when it is not this one: an address on the cluster's default Network (in shoal-system) held for a VM elsewhere.
   */
  vmNamespace?: string;
  /**
   * That VM's uid: a VM deleted and made again under the same name is another VM.
   */
  vmUID: string;
}
/**
 * A heartbeat or a lock: node agents renew one per node, controllers hold one per leader election.
 */
export interface Lease {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Lease';
  metadata: ObjectMeta;
  spec: LeaseSpec;
}
/**
 * Who holds the lease and until when.
 */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
/**
 * A request to move a running VirtualMachine to another node. Live: the guest keeps running while its memory (and its local volumes) are copied, then switches over with a pause of milliseconds. Cold: the guest shuts down, its local volumes are copied, and it boots on the target. A Migration that fails at any step leaves the VM running at its source (a Cold one restarted there) and says why; deleting one in flight aborts it. One active Migration per VM.
 */
export interface Migration {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Migration';
  metadata: ObjectMeta;
  spec: MigrationSpec;
  status?: MigrationStatus;
}
export interface MigrationSpec {
  /**
   * The VirtualMachine to move, in this namespace. Cannot be changed.
   */
  vmName: string;
  /**
   * The node to move it to; chosen by the scheduler's filters and scores when omitted. Cannot be changed.
   */
  targetNode?: string;
  /**
   * Live keeps the guest running; Cold shuts it down and boots it on the target. Cannot be changed.
   */
  mode: MigrationMode;
  /**
   * When a Live migration fails before switchover, try again as Cold instead of failing.
   */
  allowColdFallback: boolean;
  policy: MigrationPolicy;
}
/**
 * How the transfer may go.
 */
export interface MigrationPolicy {
  /**
   * Cap on the memory transfer rate; unlimited when omitted.
   */
  bandwidthMiBps?: number;
  /**
   * The longest pause the guest may see at switchover.
   */
  maxDowntimeMs: number;
  /**
   * The transfer is abandoned (the VM stays at its source) after this many seconds per GiB of guest memory and local volumes, at least 60 s.
   */
  completionTimeoutPerGiBSeconds: number;
  /**
   * Throttle the guest's vCPUs when it dirties memory faster than it can be sent, so the transfer converges.
   */
  autoConverge: boolean;
}
export interface MigrationStatus {
  phase?: MigrationPhase;
  /**
   * When each phase began.
   *
   * @maxItems 16
   */
  phaseTransitions?: MigrationPhaseTransition[];
  /**
   * The mode of the attempt under way: Cold after a Live attempt that failed fell back (spec.allowColdFallback).
   */
  mode?: MigrationMode;
  /**
   * The uid of the VirtualMachine being moved.
   */
  vmUID?: string;
  sourceNode?: string;
  targetNode?: string;
  target?: MigrationTargetStatus;
  source?: MigrationSourceStatus;
  /**
   * Guest memory and local volume bytes to move.
   */
  totalBytes?: number;
  transferredBytes?: number;
  remainingBytes?: number;
  /**
   * How long the guest was paused at switchover (Live), or down between stop and boot (Cold).
   */
  downtimeMs?: number;
  /**
   * Why it failed or was aborted (TargetUnreachable, TargetFailed, TransferTimedOut, Deleted, ...).
   */
  reason?: string;
  message?: string;
  observedGeneration?: number;
  conditions?: Condition[];
}
export interface MigrationPhaseTransition {
  phase: MigrationPhase;
  time: string;
}
/**
 * What the target node's agent reports (it alone writes this): where its waiting QEMU listens, and when the guest ran there.
 */
export interface MigrationTargetStatus {
  /**
   * The attempt this report belongs to (status.mode when it was written): after a fallback to Cold, what was reported of the Live attempt no longer counts.
   */
  mode?: MigrationMode;
  /**
   * Where the source sends the guest's state (tcp:HOST:PORT, TLS with the cluster CA's node certificates).
   */
  migrationUri?: string;
  nbd?: MigrationNbdEndpoint;
  /**
   * When the target was ready to receive.
   */
  readyAt?: string;
  /**
   * When the guest started running on the target.
   */
  resumedAt?: string;
  failure?: MigrationFailure;
}
/**
 * The NBD server the source mirrors local disks into.
 */
export interface MigrationNbdEndpoint {
  host: string;
  port: number;
  exports?: MigrationNbdExport[];
}
export interface MigrationNbdExport {
  device: string;
  exportName: string;
}
/**
 * Why one side could not do its part.
 */
export interface MigrationFailure {
  /**
   * A CamelCase word: TargetUnreachable, TargetFailed, SourceFailed, TransferTimedOut, Cancelled, ...
   */
  reason: string;
  message?: string;
}
/**
 * What the source node's agent reports (it alone writes this, and the byte counts above): the transfer it drives.
 */
export interface MigrationSourceStatus {
  /**
   * The attempt this report belongs to (status.mode when it was written): after a fallback to Cold, what was reported of the Live attempt no longer counts.
   */
  mode?: MigrationMode;
  /**
   * When the transfer began.
   */
  startedAt?: string;
  /**
   * When QEMU reported the transfer complete: the source guest is paused for good from then on, unless the migration fails before its VM moves.
   */
  completedAt?: string;
  /**
   * The pause QEMU measured at the source (the rest of the downtime is the switchover).
   */
  qemuDowntimeMs?: number;
  /**
   * When the guest was resumed at the source after a migration that did not finish.
   */
  resumedAt?: string;
  failure?: MigrationFailure;
}
/**
 * A tenancy boundary for namespaced objects.
 */
export interface Namespace {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Namespace';
  metadata: ObjectMeta;
  spec: NamespaceSpec;
  status?: NamespaceStatus;
}
/**
 * Nothing to set: a namespace is its name.
 */
export interface NamespaceSpec {}
export interface NamespaceStatus {
  phase?: 'Active' | 'Terminating';
  /**
   * While the namespace is being deleted, why it is not gone yet (written by the controller-manager's namespace controller): NamespaceContentRemaining, NamespaceFinalizersRemaining, NamespaceDeletionContentFailure.
   */
  conditions?: Condition[];
}
/**
 * An isolated layer-2 network for VirtualMachines: a subnet and its gateway. A VM names the Networks of its namespace it joins (spec.networks, one NIC each); the control plane gives each NIC an address of the subnet, recorded in the VM's status.interfaces and kept for the VM's life (restarts, agent restarts, migration), and released when the VM is deleted. VMs on different Networks cannot reach each other.
 */
export interface Network {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Network';
  metadata: ObjectMeta;
  spec: NetworkSpec;
  status?: NetworkStatus;
}
export interface NetworkSpec {
  /**
   * The subnet, IPv4, /16 to /29, its host bits zero (e.g. 10.40.0.0/24). Cannot be changed.
   */
  cidr: string;
  /**
   * The guests' default route, an address of the subnet that no VM gets; the subnet's first address when omitted. Cannot be changed.
   */
  gateway?: string;
}
export interface NetworkStatus {
  /**
   * The gateway in use (spec.gateway, or the subnet's first address).
   */
  gateway?: string;
  /**
   * Addresses VMs can get: the subnet less its network, broadcast and gateway addresses.
   */
  capacity?: number;
  /**
   * Addresses given to VMs now.
   */
  allocated?: number;
  /**
   * The overlay segment (VXLAN network identifier) that carries this Network between nodes: unique in the cluster, given by the network controller and kept for the Network's life.
   */
  vni?: number;
  observedGeneration?: number;
  conditions?: Condition[];
}
/**
 * A host that runs microVMs through its agent.
 */
export interface Node {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Node';
  metadata: ObjectMeta;
  spec: NodeSpec;
  status?: NodeStatus;
}
/**
 * How the node may be used.
 */
export interface NodeSpec {
  /**
   * Cordoned: no new VMs are placed here.
   */
  unschedulable: boolean;
  /**
   * VMs that do not tolerate a taint are not placed (NoSchedule) or are evicted (NoExecute).
   *
   * @maxItems 64
   */
  taints?: Taint[];
}
export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
  timeAdded?: string;
}
/**
 * What the node is and has, as its agent reports.
 */
export interface NodeStatus {
  /**
   * Total vCPUs and memory of the host.
   */
  capacity?: NodeResources;
  /**
   * What VMs may use, after the host reserve.
   */
  allocatable?: NodeResources;
  /**
   * Ready and other conditions.
   */
  conditions?: Condition[];
  /**
   * Where the node agent serves logs and health.
   */
  agentAddress?: string;
  /**
   * This node's underlay address for the VM networks' overlay (VXLAN): where the other nodes send this node's share of each Network's traffic. Absent when the node attaches no VM to Networks.
   */
  overlayAddress?: string;
  runtime?: NodeRuntime;
  /**
   * The image files this node's agent holds verified in its cache (one copy per digest, shared by every VM of the node). The Image controller reads them to say where each Image is cached.
   */
  images?: NodeImage[];
  fencing?: NodeFencing;
}
export interface NodeResources {
  vcpus?: number;
  memoryMiB?: number;
}
/**
 * The VM runtime: name, version and accelerator (kvm or tcg).
 */
export interface NodeRuntime {
  name?: string;
  version?: string;
  accelerator?: 'kvm' | 'tcg' | 'none';
}
export interface NodeImage {
  /**
   * The file's sha256, verified on this node.
   */
  sha256: string;
  sizeBytes: number;
}
/**
 * How this node fences itself, as its agent is configured (--lease-duration, --fence-timeout). The health controller reschedules the node's VMs only after lease expiry (last renewal + leaseDurationSeconds) plus fenceTimeoutSeconds; a node without it never has its VMs moved.
 */
export interface NodeFencing {
  /**
   * Seconds the node's Lease (shoal-node-lease/<node>) is valid after each renewal; the agent renews it every quarter of that. The same value as the Lease's spec.leaseDurationSeconds.
   */
  leaseDurationSeconds: number;
  /**
   * Seconds the agent may go without a successful Lease renewal before every VM on the node is stopped (self-fencing, done by a per-VM supervisor that works even when the agent hangs). Counted from the last successful renewal's renewTime: the node's VMs are stopped by renewTime + fenceTimeoutSeconds (+ about a second of checking), so once the Lease has been expired for fenceTimeoutSeconds they may run elsewhere without ever running twice.
   */
  fenceTimeoutSeconds: number;
}
/**
 * How the scheduler fills a set of nodes: how far their vCPUs and memory may be overcommitted and whether VMs are packed together or spread out. A node follows the matching policy with the most nodeSelector keys, ties broken by name (the alphabetically first wins); a policy with an empty or absent nodeSelector matches every node. A node no policy matches is scheduled with overcommit 1 (none) and BinPack.
 */
export interface PlacementPolicy {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'PlacementPolicy';
  metadata: ObjectMeta;
  spec: PlacementPolicySpec;
}
/**
 * Which nodes the policy governs, their overcommit ratios and how nodes are scored.
 */
export interface PlacementPolicySpec {
  /**
   * Node labels that must all match for a node to follow this policy; empty or absent: every node. Of several matching policies, the one with the most keys wins, ties broken by name.
   */
  nodeSelector?: {
    [k: string]: string;
  };
  overcommit: Overcommit;
  scoring: ScoringStrategy;
}
/**
 * How far a node may be overcommitted: the scheduler places VMs on a node until their total reaches allocatable × ratio.
 */
export interface Overcommit {
  /**
   * Ratio of vCPUs the scheduler may place on a node to its allocatable vCPUs: 1 is none, 4 places up to four times allocatable.
   */
  vcpus: number;
  /**
   * Ratio of memory the scheduler may place on a node to its allocatable memory: 1 is none.
   */
  memory: number;
}
/**
 * A named priority for VirtualMachines. A VM names its class in spec.priorityClassName; at creation the apiserver copies the class's value and preemptionPolicy into the VM's spec.priority and spec.preemptionPolicy. When no node has room for a VM, the preemptor may stop VMs of lower priority to make room. At most one class is the global default, used by VMs that name no class; without one, such VMs get priority 0.
 */
export interface PriorityClass {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'PriorityClass';
  metadata: ObjectMeta;
  spec: PriorityClassSpec;
}
/**
 * The priority value, how VMs of this class preempt and are preempted, and whether it is the default.
 */
export interface PriorityClassSpec {
  /**
   * The priority of VMs of this class, 0 (lowest) to 1000; higher may preempt lower. Cannot be changed after creation (VMs carry a copy of it).
   */
  value: number;
  /**
   * PreemptLowerPriority: a VM of this class that fits nowhere may have VMs of lower priority stopped to make room. Never: it waits for room instead (it is still placed ahead of lower priorities).
   */
  preemptionPolicy: PreemptionPolicy;
  /**
   * This class applies to VMs created without a priorityClassName. At most one class may be the global default.
   */
  globalDefault: boolean;
  /**
   * How long a VM of this class gets to shut down when it is preempted, in seconds; 0 stops it at once.
   */
  evictionGracePeriodSeconds: number;
  /**
   * What this class is for, for the people choosing one.
   */
  description?: string;
}
/**
 * Limits on what the VirtualMachines of one namespace may use together: vCPUs, memory and the number of VMs. Enforced when a VM is created, or its resources raised: a VM that would take the namespace over any hard limit of any of its quotas is refused with 403 Forbidden. Every VM that exists counts, whatever its phase. The controller-manager's resourcequota controller keeps status.used current.
 */
export interface ResourceQuota {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'ResourceQuota';
  metadata: ObjectMeta;
  spec: ResourceQuotaSpec;
  status?: ResourceQuotaStatus;
}
/**
 * The hard limits of the namespace.
 */
export interface ResourceQuotaSpec {
  /**
   * The limits; any subset of vcpus, memoryMiB and virtualmachines. A limit left out is no limit.
   */
  hard: QuotaResources;
}
export interface QuotaResources {
  /**
   * Most vCPUs (spec.resources.vcpus summed over the namespace's VMs).
   */
  vcpus?: number;
  /**
   * Most guest memory in MiB (spec.resources.memoryMiB summed).
   */
  memoryMiB?: number;
  /**
   * Most VirtualMachines.
   */
  virtualmachines?: number;
}
/**
 * Observed usage.
 */
export interface ResourceQuotaStatus {
  /**
   * What the namespace's VMs use now, for the resources spec.hard limits; kept by the controller-manager's resourcequota controller (it converges shortly after each change).
   */
  used?: QuotaResources;
}
/**
 * Makes VirtualMachines and their Volumes again from a Backup of this namespace: first the Volumes (each filled from the backed-up disk, checked against its checksum, on the node of the first VM that uses it), then the VMs that attach them. A disk whose data is missing or corrupt is reported and never replaced by an empty one.
 */
export interface Restore {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Restore';
  metadata: ObjectMeta;
  spec: RestoreSpec;
  status?: RestoreStatus;
}
export interface RestoreSpec {
  /**
   * A Completed or PartiallyFailed Backup in this namespace.
   */
  backupName: string;
  /**
   * The VMs of the Backup to restore; every one when omitted.
   *
   * @maxItems 256
   */
  vmNames?: string[];
  /**
   * VMs restored under new names: its Volumes that it owned take the new name too (<new name>-<disk>); Volumes it did not own keep theirs.
   *
   * @maxItems 256
   */
  renames?: RestoreRename[];
  /**
   * When an object of a name to restore exists already. Skip: leave it as it is and say so in the item's result. Fail: restore nothing (checked before anything is made).
   */
  existingPolicy: 'Skip' | 'Fail';
}
export interface RestoreRename {
  from: string;
  to: string;
}
/**
 * Written by the restore controller.
 */
export interface RestoreStatus {
  phase?: 'New' | 'InProgress' | 'Completed' | 'PartiallyFailed' | 'Failed';
  startTimestamp?: string;
  completionTimestamp?: string;
  items?: RestoreItem[];
  message?: string;
  conditions?: Condition[];
  observedGeneration?: number;
}
export interface RestoreItem {
  kind: 'VirtualMachine' | 'Volume';
  /**
   * The name it was restored as.
   */
  name: string;
  /**
   * Its name in the Backup.
   */
  from?: string;
  /**
   * Created: made, a Volume not yet filled; Restored: a Volume filled from the backup, or a VM made; Skipped: existed already; Failed: see message.
   */
  result: 'Pending' | 'Created' | 'Restored' | 'Skipped' | 'Failed';
  message?: string;
}
/**
 * Permissions within one namespace, granted to users and groups by RoleBindings in that namespace. RBAC denies by default: a request is allowed only when some role bound to its user or one of its groups has a rule matching it.
 */
export interface Role {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Role';
  metadata: ObjectMeta;
  /**
   * The permissions this role grants; anything not granted is denied.
   */
  rules: PolicyRule[];
}
/**
 * Grants a Role of its namespace, or a ClusterRole, to users and groups, within the binding's namespace.
 */
export interface RoleBinding {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'RoleBinding';
  metadata: ObjectMeta;
  /**
   * Who is granted the role.
   */
  subjects: Subject[];
  roleRef: RoleRef;
}
/**
 * The role whose permissions are granted. Cannot be changed after creation: delete and recreate the binding instead.
 */
export interface RoleRef {
  /**
   * shoal.dev (rbac.authorization.k8s.io is accepted too).
   */
  apiGroup?: string;
  kind: 'Role' | 'ClusterRole';
  name: string;
}
/**
 * Credentials and other small confidential values (a Git token, an SSH key, a webhook token), kept apart from every other kind so that RBAC can grant reading VMs or policies without them: no built-in role but admin and cluster-admin reads Secrets, and list tables never show their values.
 */
export interface Secret {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Secret';
  metadata: ObjectMeta;
  /**
   * What the keys mean, as a hint for readers: Opaque (anything), shoal.dev/basic-auth (username, password), shoal.dev/ssh-auth (identity, known_hosts), shoal.dev/webhook-token (token).
   */
  type: string;
  /**
   * The values, base64-encoded.
   */
  data?: {
    [k: string]: string;
  };
  /**
   * Write-only convenience: plain-text values merged into data (winning over it) when the Secret is written; never stored nor returned.
   */
  stringData?: {
    [k: string]: string;
  };
  /**
   * When true, data can no longer change (delete and make it again).
   */
  immutable?: boolean;
}
/**
 * Where Volumes are kept. A local pool is a directory in each node agent's data dir: its volumes live on one node and a VM using one runs only there. A shared pool is a directory mounted at the same path on every node its nodeSelector picks (NFS, say): its volumes are reachable from all of them, so their VMs may run, restart and migrate anywhere among them.
 */
export interface StoragePool {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'StoragePool';
  metadata: ObjectMeta;
  spec: StoragePoolSpec;
  status?: StoragePoolStatus;
}
export interface StoragePoolSpec {
  type: StoragePoolType;
  /**
   * For a shared pool: the absolute path where the pool is mounted on every selected node. Ignored for a local pool (its volumes live under <agent data dir>/volumes/<pool>).
   */
  path?: string;
  /**
   * Labels a node must carry to reach this pool; a VM using one of its volumes is placed only on such nodes. Empty: every node.
   */
  nodeSelector?: {
    [k: string]: string;
  };
  /**
   * Volumes that name no pool go to the default pool (at most one); without one they go to the pool named local.
   */
  default: boolean;
}
export interface StoragePoolStatus {
  conditions?: Condition[];
}
/**
 * A declared microVM: what to run, how big, where it may go and how it restarts.
 */
export interface VirtualMachine {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'VirtualMachine';
  metadata: ObjectMeta;
  spec: VirtualMachineSpec;
  status?: VirtualMachineStatus;
}
/**
 * What the VM should be: its size, image, command, placement and restart policy.
 */
export interface VirtualMachineSpec {
  runStrategy: RunStrategy;
  resources: VmResources;
  /**
   * The guest image: an Image (its kernel, initramfs and kernel arguments), or, when no Image has this name, one the agents build themselves ('default' is the busybox image deploy/guest/build-image.sh builds).
   */
  image: string;
  /**
   * Path of a kernel on the host; overrides the image's kernel.
   */
  kernel?: string;
  /**
   * Path of an initramfs on the host; overrides the image's initrd.
   */
  initrd?: string;
  /**
   * Extra kernel command line.
   */
  cmdline?: string;
  /**
   * What the guest init runs once booted.
   *
   * @maxItems 256
   */
  command?: string[];
  guest?: GuestConfig;
  rootDisk?: RootDisk;
  /**
   * The VM's disks, attached in this order (/dev/vda, /dev/vdb, ...; after the rootDisk when there is one). A VM with a volume in a local pool runs only on that volume's node.
   *
   * @maxItems 16
   */
  volumes?: VmVolume[];
  network: VmNetwork;
  /**
   * Ports published on the VM's node: traffic to the node's addresses at hostPort reaches the guest at guestPort (eth0's address on a Network; through QEMU's user networking otherwise). Two VMs publishing one host port and protocol never share a node (the scheduler). Cannot be changed.
   *
   * @maxItems 16
   */
  ports?: VmPort[];
  /**
   * The Networks the VM joins, one NIC each, in this order (eth0 first); each NIC gets an address from the control plane (status.interfaces).
   *
   * @maxItems 4
   */
  networks?: VmNetworkAttachment[];
  /**
   * The node this VM is bound to; set by the scheduler.
   */
  nodeName?: string;
  /**
   * Node labels that must all match for the VM to be placed there.
   */
  nodeSelector?: {
    [k: string]: string;
  };
  affinity?: Affinity;
  /**
   * Spread VMs matching a selector evenly across failure domains (topologyKey), within maxSkew.
   *
   * @maxItems 8
   */
  topologySpreadConstraints?: TopologySpreadConstraint[];
  /**
   * Node taints this VM tolerates.
   *
   * @maxItems 64
   */
  tolerations?: Toleration[];
  /**
   * PriorityClass giving this VM its priority (for preemption). Without one, the global default class applies, if there is one. Cannot be changed after creation.
   */
  priorityClassName?: string;
  /**
   * The VM's priority, copied by the apiserver from its PriorityClass at creation (0 without a class); the scheduler places higher priorities first and the preemptor may stop lower ones to make room. Leave it unset: a value that disagrees with the class is refused. Cannot be changed after creation.
   */
  priority?: number;
  /**
   * Whether this VM may have lower-priority VMs stopped to make room for it (PreemptLowerPriority) or waits (Never); copied by the apiserver from its PriorityClass at creation (PreemptLowerPriority without a class). Cannot be changed after creation.
   */
  preemptionPolicy?: PreemptionPolicy;
  evictionStrategy: EvictionStrategy;
}
/**
 * CPUs and memory the VM is given and the scheduler reserves.
 */
export interface VmResources {
  /**
   * Virtual CPUs.
   */
  vcpus: number;
  /**
   * Guest memory in MiB.
   */
  memoryMiB: number;
}
/**
 * First-boot configuration for a guest of an Image configured by cloud-init (guestConfig CloudInit): the agent writes it to a NoCloud config drive (meta-data, user-data, network-config with the addresses of the VM's Networks) attached as the last disk. Guests of Shoal's own init take spec.command instead.
 */
export interface GuestConfig {
  /**
   * The guest's hostname; the VM's name when omitted.
   */
  hostname?: string;
  /**
   * Public keys let in as the image's default user.
   *
   * @maxItems 32
   */
  sshAuthorizedKeys?: string[];
  /**
   * Users made at first boot, besides the image's default one.
   *
   * @maxItems 32
   */
  users?: GuestUser[];
  /**
   * A shell script run once, as root, at the end of the first boot.
   */
  script?: string;
  /**
   * The whole user-data as it is (#cloud-config, or a script), taken instead of what hostname, sshAuthorizedKeys, users and script would make.
   */
  userData?: string;
}
export interface GuestUser {
  name: string;
  /**
   * @maxItems 32
   */
  sshAuthorizedKeys?: string[];
  /**
   * May run any command as root without a password.
   */
  sudo?: boolean;
  /**
   * @maxItems 32
   */
  groups?: string[];
}
/**
 * Optional root disk, kept for manifests written before volumes: the same as a first volume named root made from {source: {image: baseImage}, sizeGiB} in the default pool, owned by the VM (Volume <vm name>-root).
 */
export interface RootDisk {
  /**
   * The name of an Image with a disk, or the absolute path of a qcow2 or raw image on the nodes: the VM's copy-on-write overlay is based on it.
   */
  baseImage: string;
  /**
   * Size of the overlay disk in GiB (defaults to the base image size).
   */
  sizeGiB?: number;
}
export interface VmVolume {
  /**
   * The disk's name within the VM (a DNS label).
   */
  name: string;
  /**
   * An existing Volume in this namespace. Exactly one of volumeName and volumeTemplate.
   */
  volumeName?: string;
  /**
   * A Volume made for this VM, named <vm name>-<name> and owned by it: deleted with the VM.
   */
  volumeTemplate?: VolumeSpec;
}
export interface VolumeSpec {
  /**
   * Size of the disk in GiB. Required for a blank volume; for an image or a clone, defaults to the source's size. May grow, never shrink.
   */
  sizeGiB?: number;
  /**
   * The StoragePool to keep it in; the default pool when omitted. Cannot be changed.
   */
  pool?: string;
  source: VolumeSource;
}
/**
 * What the disk starts with; blank when omitted. At most one of blank, image, volume, backup. Cannot be changed.
 */
export interface VolumeSource {
  /**
   * An empty disk.
   */
  blank?: {};
  /**
   * The name of an Image with a disk, or the absolute path of a qcow2 or raw image on the nodes: the volume is a copy-on-write overlay on the node's copy of it (the image itself is never written).
   */
  image?: string;
  /**
   * Name of another Volume in this namespace to clone (it must be Available; for a local pool the clone is made on the same node).
   */
  volume?: string;
  backup?: VolumeBackupSource;
}
/**
 * A volume copied from a Backup in this namespace (a Restore makes these): the node agent fills it from the backed-up file (and the incremental chain under it), after checking each file's checksum; a missing or corrupt file fails the Volume, it is never made blank.
 */
export interface VolumeBackupSource {
  backupName: string;
  /**
   * The Volume's name in the Backup.
   */
  volumeName: string;
}
/**
 * How the guest is networked.
 */
export interface VmNetwork {
  mode: NetworkMode;
}
export interface VmPort {
  /**
   * What the port serves (http, ssh, ...).
   */
  name?: string;
  protocol: 'TCP' | 'UDP';
  /**
   * The port on the node's addresses.
   */
  hostPort: number;
  /**
   * The port inside the guest.
   */
  guestPort: number;
}
export interface VmNetworkAttachment {
  /**
   * A Network in the VM's namespace.
   */
  name: string;
}
/**
 * Placement rules relative to node labels and to other VMs.
 */
export interface Affinity {
  nodeAffinity?: NodeAffinity;
  vmAffinity?: VmAffinity;
  vmAntiAffinity?: VmAffinity;
}
export interface NodeAffinity {
  /**
   * Node selector terms, ORed; each term's expressions are ANDed.
   */
  required?: LabelSelector[];
  preferred?: WeightedNodeSelector[];
}
export interface WeightedNodeSelector {
  weight: number;
  selector: LabelSelector;
}
export interface VmAffinity {
  required?: VmAffinityTerm[];
  preferred?: WeightedVmAffinityTerm[];
}
export interface VmAffinityTerm {
  labelSelector: LabelSelector;
  topologyKey: string;
}
export interface WeightedVmAffinityTerm {
  weight: number;
  labelSelector: LabelSelector;
  topologyKey: string;
}
export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
  labelSelector?: LabelSelector;
}
export interface Toleration {
  key?: string;
  operator: 'Exists' | 'Equal';
  value?: string;
  /**
   * Empty matches every effect.
   */
  effect?: TaintEffect;
  tolerationSeconds?: number;
}
/**
 * What the VM is, as its node agent last reported.
 */
export interface VirtualMachineStatus {
  phase?: VmPhase;
  /**
   * Node the VM runs on.
   */
  nodeName?: string;
  /**
   * The node this VM is waiting for while the VMs preempted there to make room for it shut down; cleared when it is bound.
   */
  nominatedNodeName?: string;
  /**
   * On a VM stopped by preemption: the namespace/name of the VM it made room for.
   */
  preemptedBy?: string;
  /**
   * Guest IP address, as the guest reported it.
   */
  ip?: string;
  /**
   * One per spec.networks entry that has its address, in the same order; written by the network controller.
   */
  interfaces?: VmInterfaceStatus[];
  /**
   * When the guest last reached its boot marker.
   */
  bootedAt?: string;
  /**
   * How many times the VM was restarted after an exit.
   */
  restarts?: number;
  /**
   * While its node agent holds back the restart of a VM that keeps exiting (reason CrashLoopBackOff): when it restarts it next, RFC 3339. The wait doubles with each exit in a row (10 s up to 5 min by default), as the kubelet's does.
   */
  nextRestartAt?: string;
  /**
   * Process id of the VM on its node.
   */
  pid?: number;
  /**
   * Short machine-readable reason for the current phase.
   */
  reason?: string;
  /**
   * Human-readable detail on the current phase.
   */
  message?: string;
  /**
   * The spec generation this status reflects.
   */
  observedGeneration?: number;
  /**
   * Detailed conditions (Scheduled, Ready, ...), each with a reason and message.
   */
  conditions?: Condition[];
}
export interface VmInterfaceStatus {
  network: string;
  /**
   * The address the control plane gave this NIC on the Network.
   */
  ip: string;
  prefixLength?: number;
  gateway?: string;
  mac: string;
}
/**
 * A disk that belongs to a VirtualMachine, not to a host, like a PersistentVolumeClaim. It is made on first use, by the node agent of the first VM that uses it: blank, as a copy-on-write overlay on an image, or as a clone of another Volume. A Volume in a local pool stays on the node where it was made, and its VM runs only there; one in a shared pool can be used from any node the pool reaches. Deleting a VirtualMachine deletes only the Volumes it owns (ownerReferences: those made from its volumeTemplates and rootDisk); a Volume in use by a VM is deleted only once no VM uses it.
 */
export interface Volume {
  apiVersion: 'shoal.dev/v1alpha1';
  kind: 'Volume';
  metadata: ObjectMeta;
  spec: VolumeSpec;
  status?: VolumeStatus;
}
export interface VolumeStatus {
  phase?: VolumePhase;
  /**
   * For a volume in a local pool: the node that holds it. A VM using it runs only there.
   */
  node?: string;
  /**
   * The file on the node (local) or in the shared pool.
   */
  path?: string;
  /**
   * The file's format.
   */
  format?: 'qcow2' | 'raw';
  /**
   * The VirtualMachine (in this namespace) that last attached it, as its node agent reported.
   */
  usedBy?: string;
  observedGeneration?: number;
  conditions?: Condition[];
}
/**
 * The body of POST /apis/shoal.dev/v1alpha1/bindings: many Bindings at once, across namespaces (a scheduler binding what it decided since its last call). Each item means exactly what a Binding to its VirtualMachine's binding subresource means and succeeds or fails on its own; the writes that succeed share etcd transactions. The answer is a BindingResults, one Status per item, in order.
 *
 * This interface was referenced by `Kinds`'s JSON-Schema
 * via the `definition` "BindingList".
 */
export interface BindingList {
  apiVersion?: 'shoal.dev/v1alpha1';
  kind?: 'BindingList';
  /**
   * The binds, each naming its VirtualMachine in metadata.namespace and metadata.name.
   *
   * @maxItems 1000
   */
  items: Binding[];
}
/**
 * The body of POST .../virtualmachines/{name}/binding, as Kubernetes' pods/binding: the node a VirtualMachine is assigned to. The bind sets spec.nodeName and the Scheduled status in one write.
 */
export interface Binding {
  apiVersion?: 'shoal.dev/v1alpha1';
  kind?: 'Binding';
  metadata?: BindingMeta;
  target: BindingTarget;
}
/**
 * The node to bind to.
 */
export interface BindingTarget {
  /**
   * Name of the Node (a DNS subdomain, as every object name).
   */
  name: string;
  kind?: 'Node';
  apiVersion?: string;
}
/**
 * The answer to a BindingList: one Status per item, in the order of the items. A bound item (or one already bound to that node) says Success with code 201, as a single bind answers; a failed one carries the Status a single bind would have answered (404 NotFound, 409 Conflict, 422 Invalid).
 *
 * This interface was referenced by `Kinds`'s JSON-Schema
 * via the `definition` "BindingResults".
 */
export interface BindingResults {
  apiVersion?: 'shoal.dev/v1alpha1';
  kind?: 'BindingResults';
  results: BindingResult[];
}
/**
 * A Status (io.k8s.apimachinery.pkg.apis.meta.v1.Status).
 */
export interface BindingResult {
  kind?: string;
  apiVersion?: string;
  status: 'Success' | 'Failure';
  code: number;
  reason?: string;
  message?: string;
  details?: {};
}
/**
 * The body of POST .../virtualmachines/{name}/binding, as Kubernetes' pods/binding: the node a VirtualMachine is assigned to. The bind sets spec.nodeName and the Scheduled status in one write.
 *
 * This interface was referenced by `Kinds`'s JSON-Schema
 * via the `definition` "Binding".
 */
export interface Binding1 {
  apiVersion?: 'shoal.dev/v1alpha1';
  kind?: 'Binding';
  metadata?: BindingMeta1;
  target: BindingTarget1;
}
/**
 * The node to bind to.
 */
export interface BindingTarget1 {
  /**
   * Name of the Node (a DNS subdomain, as every object name).
   */
  name: string;
  kind?: 'Node';
  apiVersion?: string;
}
/**
 * The body of a DELETE, as Kubernetes' DeleteOptions (meta.k8s.io): conditions the object must meet to be deleted, and whether to delete it at all. An empty body is no options. Fields Shoal does not use are accepted and ignored, but must have the right type: an option the server cannot read never turns into an unconditional, real delete.
 *
 * This interface was referenced by `Kinds`'s JSON-Schema
 * via the `definition` "DeleteOptions".
 */
export interface DeleteOptions {
  /**
   * meta.k8s.io/v1 or v1 (any version is read the same).
   */
  apiVersion?: string;
  kind?: 'DeleteOptions';
  preconditions?: Preconditions;
  /**
   * ["All"]: check the delete and answer as if it happened, without deleting.
   */
  dryRun?: 'All'[] | null;
  /**
   * Accepted for compatibility; dependents are not deleted by the server.
   */
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground' | null;
  /**
   * Accepted for compatibility; deletion waits for finalizers, not for a grace period.
   */
  gracePeriodSeconds?: number | null;
  /**
   * Accepted for compatibility (deprecated in Kubernetes for propagationPolicy).
   */
  orphanDependents?: boolean | null;
}
/**
 * What the VMs on a Node use of it, served by the apiserver at /apis/metrics.shoal.dev/v1alpha1/nodes, as metrics.k8s.io serves NodeMetrics: the sum over the node's running VMs, read from its agent when asked, never stored.
 *
 * This interface was referenced by `Kinds`'s JSON-Schema
 * via the `definition` "NodeMetrics".
 */
export interface NodeMetrics {
  apiVersion: 'metrics.shoal.dev/v1alpha1';
  kind: 'NodeMetrics';
  metadata: UsageMetricsMeta;
  /**
   * When the newest of the VMs' samples was taken.
   */
  timestamp: string;
  /**
   * The longest window of the VMs' CPU rates, as a duration (e.g. 10s).
   */
  window: string;
  usage: ResourceUsage;
  /**
   * How many VMs were measured.
   */
  vms: number;
}
export interface UsageMetricsMeta {
  name: string;
  namespace?: string;
  /**
   * When this answer was made.
   */
  creationTimestamp: string;
  /**
   * The labels of the object measured.
   */
  labels?: {
    [k: string]: string;
  };
}
export interface ResourceUsage {
  /**
   * CPU in use as a quantity of cores (e.g. 250m, 1500000n).
   */
  cpu: string;
  /**
   * Resident memory as a quantity of bytes (e.g. 180Mi, 123456Ki).
   */
  memory: string;
}
/**
 * A VirtualMachine's CPU and memory use, served by the apiserver at /apis/metrics.shoal.dev/v1alpha1/namespaces/{namespace}/virtualmachines, as metrics.k8s.io serves PodMetrics: read from the agents when asked, never stored.
 *
 * This interface was referenced by `Kinds`'s JSON-Schema
 * via the `definition` "VirtualMachineMetrics".
 */
export interface VirtualMachineMetrics {
  apiVersion: 'metrics.shoal.dev/v1alpha1';
  kind: 'VirtualMachineMetrics';
  metadata: UsageMetricsMeta;
  /**
   * When the usage was sampled, at the end of the window.
   */
  timestamp: string;
  /**
   * The span the CPU rate is averaged over, as a duration (e.g. 10s).
   */
  window: string;
  /**
   * The node the VM runs on.
   */
  node?: string;
  usage: ResourceUsage;
}
/**
 * The body of a node agent's GET /stats/vms, read by the apiserver's metrics API: the latest usage sample of every VM running on the node, from its QEMU process.
 *
 * This interface was referenced by `Kinds`'s JSON-Schema
 * via the `definition` "VmUsageSummary".
 */
export interface VmUsageSummary {
  items: VmUsage[];
}
export interface VmUsage {
  namespace: string;
  name: string;
  uid: string;
  /**
   * When the sample was taken.
   */
  timestamp: string;
  /**
   * The span the CPU rate is averaged over: since the sample before, or since the VM's process started when there is none.
   */
  windowSeconds: number;
  /**
   * CPU in use over the window, in cores (1 = one host CPU busy all the time).
   */
  cpuCores: number;
  /**
   * CPU time used since the VM's process started.
   */
  cpuSecondsTotal: number;
  /**
   * Resident memory of the VM's process.
   */
  memoryBytes: number;
}
