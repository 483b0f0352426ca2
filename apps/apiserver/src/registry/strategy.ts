/**
 * What is particular to one kind in the generic verbs, as kube-apiserver's REST strategies
 * (rest.RESTCreateStrategy, RESTUpdateStrategy, RESTDeleteStrategy): hooks that ResourceService
 * calls at fixed points of each verb. A kind without a strategy gets the generic behaviour;
 * kind-strategies.ts says which kinds have one, and strategies/ holds one file per kind.
 */
import type { ApiError, KindInfo, KubeObject, StatusCause } from '@shoal/api';

export interface KindStrategy {
  /**
   * Create, after the server has set identity and bookkeeping and before admission and
   * validation: what the server itself sets on a new object of this kind (a status no
   * controller owns, its own finalizers).
   */
  prepareForCreate?(object: KubeObject): void;

  /**
   * Update (not /status), after the server has kept identity, bookkeeping and status as stored
   * and before validation: what the server itself changes because of the update (the status a
   * VM's node reported goes when the VM leaves the node).
   */
  prepareForUpdate?(next: KubeObject, current: KubeObject): void;

  /**
   * Create and update, after schema validation and defaulting: the rules across fields that a
   * JSON Schema cannot say (exactly one of two fields, unique names in a list).
   */
  validate?(object: KubeObject): StatusCause[];

  /**
   * Create only, after schema validation and defaulting: a rule that an update checks only when
   * the fields it reads change (in validateUpdate), so that an object stored before the rule got
   * stricter (a time zone dropped from the tz database) can still be updated and its status
   * written — Kubernetes' ratcheting validation.
   */
  validateCreate?(object: KubeObject): StatusCause[];

  /**
   * Update, after schema validation and defaulting: what may not change (immutable fields).
   * Nothing to say is an empty list; the verb answers 422 with the causes.
   */
  validateUpdate?(next: KubeObject, current: KubeObject): StatusCause[];

  /**
   * Update, after validateUpdate passed: the update's canonical form, so that the same change
   * written differently stores the same bytes (and writing nothing new stores nothing).
   */
  canonicalizeUpdate?(next: KubeObject, current: KubeObject): void;

  /** Delete, before the object is read: why no object of this kind by this name may be deleted (403), if so. */
  refuseDelete?(kind: KindInfo, name: string): ApiError | undefined;

  /** Graceful deletion, as deletionTimestamp is set: what else marks the object as going. */
  prepareForDelete?(object: KubeObject): void;

  /**
   * The binding subresource: the object bound to the node, or undefined when it already is
   * (nothing to write). Kinds without it have no binding subresource.
   */
  bind?(kind: KindInfo, current: KubeObject, nodeName: string, now: Date): KubeObject | undefined;
}
