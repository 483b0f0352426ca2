/**
 * The typed verbs of the Shoal API. Kinds are named as users name them (`vm`, `VirtualMachine`,
 * `virtualmachines`); namespaced item calls default to the `default` namespace, as kubectl does;
 * list and watch without a namespace cover all namespaces.
 */
import {
  API_VERSION,
  DEFAULT_NAMESPACE,
  type BindingList,
  type BindingResult,
  type BindingResults,
  type KindInfo,
  type KubeList,
  type KubeObject,
  type Manifest,
  type Status,
  type WatchEvent,
} from '@shoal/api';
import type { HttpMethod } from './http-sender.js';
import type { Impersonation } from './impersonation.js';
import { resolveKind } from './kind-lookup.js';
import { ETCD_SNAPSHOT_PATH, resourcePath, SNAPSHOT_SIZE_HEADER } from './paths.js';
import { TABLE_ACCEPT, type Table } from './table.js';
import { Transport, type ConnectionOptions, type RequestOptions } from './transport.js';
import { watchResource, type WatchOptions } from './watch.js';

export type ClientOptions = ConnectionOptions;

export type KindName = string | KindInfo;

export interface ObjectOptions {
  namespace?: string;
  signal?: AbortSignal;
}

export interface WriteOptions extends ObjectOptions {
  /** `Strict` turns unknown fields into a 400 instead of silently dropping them. */
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  dryRun?: boolean;
  /**
   * Who the write is credited to in metadata.managedFields; the server takes the start of the
   * User-Agent when it is not given. Required with `type: 'apply'`.
   */
  fieldManager?: string;
}

/** For writes whose caller does not want the object back. */
export interface AnswerOptions {
  /** The written object is not wanted: the write answers nothing, and its answer is not parsed (see RequestOptions). */
  discardAnswer?: boolean;
}

export interface PatchOptions extends WriteOptions, AnswerOptions {
  /**
   * `merge`: RFC 7386 JSON merge patch; `json`: RFC 6902 JSON patch; `apply`: server-side apply
   * (the body is the object as this field manager wants it; see serverSideApply).
   */
  type: 'merge' | 'json' | 'apply';
  /** Patch the status subresource instead of the object. */
  status?: boolean;
  /** Apply only: take over fields other managers own instead of failing with 409 Conflict. */
  force?: boolean;
}

export interface DeleteOptions extends ObjectOptions {
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  /** Delete only this incarnation of the name. */
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ListOptions {
  /** Omitted on a namespaced kind: all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  signal?: AbortSignal;
}

export interface LogOptions extends ObjectOptions {
  /** Keep the stream open and yield new output as it is written, until signal aborts or the server ends it. */
  follow?: boolean;
  /** Start this many lines before the end. */
  tailLines?: number;
}

/** One bind of a bindMany() call: the VM, the node, and optionally the version it must still be at. */
export interface BulkBind {
  namespace: string;
  name: string;
  nodeName: string;
  resourceVersion?: string;
}

export interface BindOptions {
  /** Bind only if the VM is still at this resourceVersion (409 Conflict otherwise). */
  resourceVersion?: string;
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface TableOptions extends ListOptions {
  /** One object's row instead of the list's. */
  name?: string;
}

const PATCH_TYPES = { merge: 'application/merge-patch+json', json: 'application/json-patch+json', apply: 'application/apply-patch+yaml' } as const;

export class ShoalClient {
  private readonly transport: Transport;

  /** A Transport is how impersonating() makes a client over the connections of another. */
  constructor(opts: ClientOptions | Transport) {
    this.transport = opts instanceof Transport ? opts : new Transport(opts);
  }

  /**
   * A client that sends every request as `who` (Impersonate-User and the rest; see
   * ConnectionOptions.impersonate), over this client's servers, credentials and connections.
   * The apiserver checks that this client's own user may impersonate `who` (403 otherwise) and
   * then authorizes each request as `who`: a GitOps controller applies a tenant's repository
   * with `client.impersonating({ user: serviceAccountUser(ns, name) })`. Closing the returned
   * client leaves the connections open; closing this one closes them for both.
   */
  impersonating(who: Impersonation): ShoalClient {
    return new ShoalClient(this.transport.withImpersonation(who));
  }

  /** The apiserver in use now; with several (see ConnectionOptions.server) it changes on failover. */
  get server(): string {
    return this.transport.server;
  }

  /** Every apiserver this client may use, in the order given. */
  get servers(): string[] {
    return this.transport.serverList;
  }

  /** The raw call every verb is built on: path relative to the server, JSON in and out. */
  request<T = unknown>(method: HttpMethod, path: string, opts?: RequestOptions): Promise<T> {
    return this.transport.request<T>(method, path, opts);
  }

  get<T extends KubeObject = KubeObject>(kind: KindName, name: string, opts: ObjectOptions = {}): Promise<T> {
    const k = resolveKind(kind);
    return this.request<T>('GET', resourcePath(k, { namespace: itemNamespace(k, opts.namespace), name }), { signal: opts.signal });
  }

  list<T extends KubeObject = KubeObject>(kind: KindName, opts: ListOptions = {}): Promise<KubeList<T>> {
    const k = resolveKind(kind);
    return this.request<KubeList<T>>('GET', resourcePath(k, { namespace: k.namespaced ? opts.namespace : undefined }), {
      signal: opts.signal,
      query: listQuery(opts),
    });
  }

  /**
   * Every page of a list, joined. The first page's resourceVersion is the snapshot all pages
   * belong to (continue tokens read at that revision), so it is the one to watch from.
   */
  async listAll<T extends KubeObject = KubeObject>(
    kind: KindName,
    opts: Omit<ListOptions, 'continue' | 'limit'> & { pageSize?: number } = {},
  ): Promise<KubeList<T>> {
    const { pageSize = 500, ...rest } = opts;
    const first = await this.list<T>(kind, { ...rest, limit: pageSize });
    const items = [...first.items];
    let next = first.metadata.continue;
    while (next) {
      const page = await this.list<T>(kind, { ...rest, limit: pageSize, continue: next, resourceVersion: undefined });
      items.push(...page.items);
      next = page.metadata.continue;
    }
    return { ...first, metadata: { resourceVersion: first.metadata.resourceVersion }, items };
  }

  /** POST: `obj` as a manifest (fields with schema defaults may be left out); answers the object as stored. */
  create<T extends KubeObject = KubeObject>(kind: KindName, obj: Manifest<T>, opts: WriteOptions & AnswerOptions & { discardAnswer: true }): Promise<void>;
  create<T extends KubeObject = KubeObject>(kind: KindName, obj: Manifest<T>, opts?: WriteOptions & AnswerOptions): Promise<T>;
  create<T extends KubeObject = KubeObject>(kind: KindName, obj: Manifest<T>, opts: WriteOptions & AnswerOptions = {}): Promise<T | void> {
    const k = resolveKind(kind);
    const namespace = itemNamespace(k, opts.namespace ?? obj.metadata?.namespace);
    return this.request<T>('POST', resourcePath(k, { namespace }), {
      body: obj,
      query: writeQuery(opts),
      signal: opts.signal,
      discardAnswer: opts.discardAnswer,
    });
  }

  /** PUT: fails with 409 Conflict when obj.metadata.resourceVersion is not the stored one. */
  update<T extends KubeObject = KubeObject>(kind: KindName, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.put(kind, obj, opts, undefined);
  }

  updateStatus<T extends KubeObject = KubeObject>(kind: KindName, obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.put(kind, obj, opts, 'status');
  }

  patch(kind: KindName, name: string, patch: unknown, opts: PatchOptions & { discardAnswer: true }): Promise<void>;
  patch<T extends KubeObject = KubeObject>(kind: KindName, name: string, patch: unknown, opts: PatchOptions): Promise<T>;
  patch<T extends KubeObject = KubeObject>(kind: KindName, name: string, patch: unknown, opts: PatchOptions): Promise<T | void> {
    const k = resolveKind(kind);
    const path = resourcePath(k, { namespace: itemNamespace(k, opts.namespace), name, subresource: opts.status ? 'status' : undefined });
    // An apply body is sent as JSON, which is YAML too (as kubectl sends it).
    const query = { ...writeQuery(opts), ...(opts.type === 'apply' && opts.force !== undefined ? { force: String(opts.force) } : {}) };
    return this.request<T>('PATCH', path, { body: patch, contentType: PATCH_TYPES[opts.type], query, signal: opts.signal, discardAnswer: opts.discardAnswer });
  }

  /** Answers the object as it was deleted, or still present with a deletionTimestamp while finalizers remain. */
  delete<T extends KubeObject = KubeObject>(kind: KindName, name: string, opts: DeleteOptions = {}): Promise<T> {
    const k = resolveKind(kind);
    const body =
      opts.propagationPolicy || opts.preconditions
        ? { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: opts.propagationPolicy, preconditions: opts.preconditions }
        : undefined;
    return this.request<T>('DELETE', resourcePath(k, { namespace: itemNamespace(k, opts.namespace), name }), { body, signal: opts.signal });
  }

  /** A resuming watch; see watch.ts. Ends when signal aborts, throws ApiError on 410 Expired. */
  watch<T extends KubeObject = KubeObject>(kind: KindName, opts: WatchOptions = {}, signal?: AbortSignal): AsyncIterable<WatchEvent<T>> {
    const k = resolveKind(kind);
    return watchResource<T>(this.transport, k, { ...opts, namespace: k.namespaced ? opts.namespace : undefined }, signal);
  }

  /**
   * Binds a VirtualMachine to a node through its `binding` subresource, as a Kubernetes
   * scheduler binds a pod: spec.nodeName and the Scheduled status in one write. Answers the
   * server's Success Status (201). Throws ApiError: 409 when the VM is bound to another node,
   * is being deleted or is no longer at opts.resourceVersion; 404 when it does not exist.
   * Binding again to the node it is bound to succeeds and changes nothing.
   */
  bind(namespace: string, name: string, nodeName: string, opts: BindOptions = {}): Promise<Status> {
    const k = resolveKind('VirtualMachine');
    const path = `${resourcePath(k, { namespace: namespace || DEFAULT_NAMESPACE, name })}/binding`;
    const body = {
      apiVersion: API_VERSION,
      kind: 'Binding',
      metadata: { name, ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}) },
      target: { name: nodeName },
    };
    return this.request<Status>('POST', path, { body, query: { dryRun: opts.dryRun ? 'All' : undefined }, signal: opts.signal });
  }

  /**
   * Many binds in one request (`POST /apis/shoal.dev/v1alpha1/bindings`): each means what bind()
   * means and succeeds or fails on its own. Answers one Status per bind, in order — Success
   * (201) or the failure bind() would have thrown; throws ApiError only when the request as a
   * whole is refused (a bad body, no right to create `bindings` at the cluster scope).
   */
  async bindMany(binds: BulkBind[], opts: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<BindingResult[]> {
    const body: BindingList = {
      apiVersion: API_VERSION,
      kind: 'BindingList',
      items: binds.map((b) => ({
        metadata: { namespace: b.namespace || DEFAULT_NAMESPACE, name: b.name, ...(b.resourceVersion ? { resourceVersion: b.resourceVersion } : {}) },
        target: { name: b.nodeName },
      })),
    };
    const res = await this.request<BindingResults>('POST', `/apis/${API_VERSION}/bindings`, {
      body,
      query: { dryRun: opts.dryRun ? 'All' : undefined },
      signal: opts.signal,
    });
    return res.results;
  }

  /** The server-rendered Table of a list, or of one object when opts.name is set. */
  table(kind: KindName, opts: TableOptions = {}): Promise<Table> {
    const k = resolveKind(kind);
    const namespace = opts.name !== undefined ? itemNamespace(k, opts.namespace) : k.namespaced ? opts.namespace : undefined;
    return this.request<Table>('GET', resourcePath(k, { namespace, name: opts.name }), {
      accept: TABLE_ACCEPT,
      signal: opts.signal,
      query: opts.name !== undefined ? {} : listQuery(opts),
    });
  }

  /**
   * A VM's serial console as text chunks (`GET .../{name}/log`, relayed by the apiserver from the
   * node agent). Nothing is sent until iteration starts; a refusal (404, 400 not scheduled, 503
   * agent unreachable) is thrown as ApiError by the first next(). Aborting signal ends the
   * iteration quietly; a stream that breaks off otherwise throws.
   */
  logs(kind: KindName, name: string, opts: LogOptions = {}): AsyncIterable<string> {
    const k = resolveKind(kind);
    const path = `${resourcePath(k, { namespace: itemNamespace(k, opts.namespace), name })}/log`;
    const query = { follow: opts.follow ? 'true' : undefined, tailLines: opts.tailLines };
    const transport = this.transport;
    return {
      async *[Symbol.asyncIterator]() {
        const signal = opts.signal;
        let body: (AsyncIterable<Buffer> & { destroy(): void }) | undefined;
        try {
          body = await transport.stream(path, { query, accept: 'text/plain, application/json', signal, failoverOn503: false });
        } catch (err) {
          if (signal?.aborted) return;
          throw err;
        }
        try {
          const decoder = new TextDecoder('utf-8');
          for await (const chunk of body) {
            const text = decoder.decode(chunk, { stream: true });
            if (text) yield text;
          }
          const rest = decoder.decode();
          if (rest) yield rest;
        } catch (err) {
          if (signal?.aborted) return;
          // The server answered and then cut the stream off (its agent went away, say): not a
          // connection failure to retry, but a log known to be incomplete.
          const e = err as Error & { code?: string };
          throw new Error(`the log stream broke off: ${e.message}${e.code ? ` (${e.code})` : ''}`);
        } finally {
          body?.destroy();
        }
      },
    };
  }

  /**
   * etcd's snapshot as the apiserver streams it to an administrator (`GET /admin/etcd/snapshot`):
   * its length when the server says it, and its bytes as they arrive (etcd's format: the
   * database, then its sha256). A refusal (403 for a user without the right) is thrown here; a
   * stream cut off midway throws from the iteration.
   */
  async etcdSnapshot(opts: { signal?: AbortSignal } = {}): Promise<{ expectedBytes?: number; body: AsyncIterable<Buffer> & { destroy(): void } }> {
    const body = await this.transport.stream(ETCD_SNAPSHOT_PATH, { accept: 'application/octet-stream, application/json', signal: opts.signal });
    const size = Number(body.headers[SNAPSHOT_SIZE_HEADER]);
    return { ...(Number.isSafeInteger(size) && size > 0 ? { expectedBytes: size } : {}), body };
  }

  /** Closes every connection; requests and watches still open fail (abort watches first to end them quietly). */
  close(): Promise<void> {
    return this.transport.close();
  }

  private put<T extends KubeObject>(kind: KindName, obj: T, opts: WriteOptions, subresource: 'status' | undefined): Promise<T> {
    const k = resolveKind(kind);
    const name = obj.metadata.name;
    if (!name) throw new TypeError(`${k.kind} to update has no metadata.name`);
    const path = resourcePath(k, { namespace: itemNamespace(k, opts.namespace ?? obj.metadata.namespace), name, subresource });
    return this.request<T>('PUT', path, { body: obj, query: writeQuery(opts), signal: opts.signal });
  }
}

function itemNamespace(kind: KindInfo, namespace: string | undefined): string | undefined {
  return kind.namespaced ? namespace || DEFAULT_NAMESPACE : undefined;
}

function listQuery(opts: ListOptions) {
  return {
    labelSelector: opts.labelSelector,
    fieldSelector: opts.fieldSelector,
    limit: opts.limit,
    continue: opts.continue,
    resourceVersion: opts.resourceVersion,
  };
}

function writeQuery(opts: WriteOptions) {
  return { fieldValidation: opts.fieldValidation, dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager || undefined };
}
