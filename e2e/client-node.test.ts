/**
 * Wire compatibility with @kubernetes/client-node 1.x, the official JavaScript client: its
 * generic object API, its informer (list + watch + cache, what most JS controllers are built
 * on) and its raw Watch, against a real apiserver over a real etcd. The client is not ours;
 * what it sends is whatever it sends, and the server has to understand it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import type { VirtualMachine as ShoalVirtualMachine } from '@shoal/api';
import { startCluster, waitFor, type ApiserverProcess, type TestCluster } from '@shoal/testing';

const GROUP = 'shoal.dev';
const VERSION = 'v1alpha1';
const API_VERSION = `${GROUP}/${VERSION}`;
const PLURAL = 'virtualmachines';
const VMS_PATH = `/apis/${GROUP}/${VERSION}/namespaces/default/${PLURAL}`;

/**
 * A VM as the stock client types objects (metadata as k8s.V1ObjectMeta), for writes with partial
 * specs: @shoal/api's generated spec and status, every field optional, nothing written again here.
 */
type VmSpec = ShoalVirtualMachine['spec'];
type StockVm = k8s.KubernetesObject & {
  spec?: Omit<Partial<VmSpec>, 'resources'> & { resources?: Partial<VmSpec['resources']> };
  status?: ShoalVirtualMachine['status'];
};

interface SentRequest {
  method: string;
  url: string;
  contentType?: string;
}

/**
 * A KubeConfig that notes every request the generated clients make: they call
 * applySecurityAuthentication on the finished request just before sending it.
 */
class RecordingKubeConfig extends k8s.KubeConfig {
  sent: SentRequest[] = [];
  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    const headers = context.getHeaders();
    this.sent.push({ method: context.getHttpMethod(), url: context.getUrl(), contentType: headers['Content-Type'] });
    return super.applySecurityAuthentication(context);
  }
}

let cluster: TestCluster;
let server: ApiserverProcess;
let kc: RecordingKubeConfig;
let objects: k8s.KubernetesObjectApi;
let custom: k8s.CustomObjectsApi;

before(async () => {
  cluster = await startCluster();
  server = cluster.apiserver;
  kc = new RecordingKubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'shoal', server: server.url, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'shoal', user: 'u' }],
    currentContext: 'c',
  });
  objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  custom = kc.makeApiClient(k8s.CustomObjectsApi);
});

after(async () => {
  await cluster?.stop();
});

function vm(name: string, o: { labels?: Record<string, string>; vcpus?: number; finalizers?: string[] } = {}): StockVm {
  return {
    apiVersion: API_VERSION,
    kind: 'VirtualMachine',
    metadata: { name, namespace: 'default', ...(o.labels ? { labels: o.labels } : {}), ...(o.finalizers ? { finalizers: o.finalizers } : {}) },
    spec: { resources: { vcpus: o.vcpus ?? 1, memoryMiB: 256 } },
  };
}

const ref = (name: string) => ({ apiVersion: API_VERSION, kind: 'VirtualMachine', metadata: { name, namespace: 'default' } });

/** The raw JSON the server holds (CustomObjectsApi does not convert timestamps into Dates). */
const raw = (name: string): Promise<any> => custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'default', plural: PLURAL, name });
const rawList = (): Promise<any> => custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'default', plural: PLURAL });

/** Runs a call that must fail and returns client-node's ApiException with the Status body parsed. */
async function apiError(call: () => Promise<unknown>): Promise<{ code: number; status: any }> {
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof k8s.ApiException, `expected an ApiException, got ${String(err)}`);
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    return { code: err.code, status: body };
  }
  assert.fail('the call succeeded but should have failed');
}

test('KubernetesObjectApi creates, reads and lists a VirtualMachine', async () => {
  const created = await objects.create(vm('alpha', { labels: { app: 'alpha' }, vcpus: 2 }));
  assert.equal(created.kind, 'VirtualMachine');
  assert.equal(created.metadata?.name, 'alpha');
  assert.match(created.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
  assert.match(created.metadata?.resourceVersion ?? '', /^\d+$/);
  assert.equal(created.metadata?.generation, 1);
  assert.ok(created.metadata?.creationTimestamp instanceof Date, 'client-node parses creationTimestamp as a date');
  assert.equal(created.spec?.runStrategy, 'Always', 'defaults come back in the create response');
  assert.equal(created.spec?.image, 'default');

  const post = kc.sent.find((r) => r.method === 'POST');
  assert.equal(post?.url, `${server.url}${VMS_PATH}`);
  assert.equal(post?.contentType, 'application/json');

  const read = await objects.read<StockVm>(ref('alpha'));
  assert.equal(read.metadata?.uid, created.metadata?.uid);
  assert.equal(read.metadata?.resourceVersion, created.metadata?.resourceVersion);
  assert.deepEqual(read.spec?.resources, { vcpus: 2, memoryMiB: 256 });

  await objects.create(vm('beta', { labels: { app: 'beta' } }));
  const all = await objects.list<StockVm>(API_VERSION, 'VirtualMachine', 'default');
  assert.equal(all.kind, 'VirtualMachineList');
  assert.match(all.metadata?.resourceVersion ?? '', /^\d+$/);
  assert.deepEqual(all.items.map((i) => i.metadata?.name).sort(), ['alpha', 'beta']);
  const selected = await objects.list<StockVm>(API_VERSION, 'VirtualMachine', 'default', undefined, undefined, undefined, undefined, 'app=beta');
  assert.deepEqual(
    selected.items.map((i) => i.metadata?.name),
    ['beta'],
  );
  const byField = await objects.list<StockVm>(API_VERSION, 'VirtualMachine', 'default', undefined, undefined, undefined, 'metadata.name=alpha');
  assert.deepEqual(
    byField.items.map((i) => i.metadata?.name),
    ['alpha'],
  );

  // Paging with limit/continue. (KubernetesObjectApi.list cannot page a custom kind: client-node
  // deserialises an unknown list's metadata as ObjectMeta and drops `continue`; CustomObjectsApi
  // hands back the JSON as sent.)
  const page = (token?: string): Promise<any> =>
    custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'default', plural: PLURAL, limit: 1, _continue: token });
  const page1 = await page();
  assert.equal(page1.items.length, 1);
  assert.ok(page1.metadata.continue, 'a partial page carries a continue token');
  const page2 = await page(page1.metadata.continue);
  assert.equal(page2.metadata.continue, undefined, 'the last page has no continue token');
  assert.deepEqual(
    [...page1.items, ...page2.items].map((i: any) => i.metadata.name),
    ['alpha', 'beta'],
  );
});

test('patch: the default strategic-merge-patch content type is accepted and merges', async () => {
  kc.sent = [];
  const patched = await objects.patch<StockVm>({
    ...ref('alpha'),
    metadata: { ...ref('alpha').metadata, labels: { tier: 'front' } },
    spec: { resources: { vcpus: 3 } },
  });
  const sent = kc.sent.find((r) => r.method === 'PATCH');
  assert.equal(sent?.url, `${server.url}${VMS_PATH}/alpha`);
  assert.equal(sent?.contentType, 'application/strategic-merge-patch+json', 'what client-node sends by default');

  // Maps merge: the existing label and memory stay, the new ones join.
  assert.deepEqual(patched.metadata?.labels, { app: 'alpha', tier: 'front' });
  assert.deepEqual(patched.spec?.resources, { vcpus: 3, memoryMiB: 256 });
  assert.equal(patched.metadata?.generation, 2, 'a spec change bumps generation');
  const stored = await raw('alpha');
  assert.equal(stored.spec.resources.vcpus, 3);
  assert.equal(stored.metadata.resourceVersion, patched.metadata?.resourceVersion);
});

test('patch: an explicit merge-patch is sent as such, and null removes a field', async () => {
  kc.sent = [];
  const patch = { ...ref('alpha'), metadata: { ...ref('alpha').metadata, labels: { tier: null } } } as unknown as StockVm;
  const patched = await objects.patch<StockVm>(patch, undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch);
  assert.equal(kc.sent.find((r) => r.method === 'PATCH')?.contentType, 'application/merge-patch+json');
  assert.deepEqual(patched.metadata?.labels, { app: 'alpha' });
  assert.equal(patched.metadata?.generation, 2, 'a metadata-only change leaves generation alone');

  // A patch that breaks the schema is refused with the field path, and changes nothing.
  const before = await raw('alpha');
  const bad = await apiError(() =>
    objects.patch<StockVm>({ ...ref('alpha'), spec: { resources: { vcpus: 0 } } }, undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch),
  );
  assert.equal(bad.code, 422);
  assert.equal(bad.status.reason, 'Invalid');
  assert.ok(
    bad.status.details.causes.some((c: { field: string }) => c.field === 'spec.resources.vcpus'),
    JSON.stringify(bad.status),
  );
  assert.equal((await raw('alpha')).metadata.resourceVersion, before.metadata.resourceVersion);

  // Server-side apply, as client-node's ServerSideApply strategy sends it: the label's value is
  // the one it has, so the field manager shares it and nothing else (generation included) moves.
  kc.sent = [];
  const labelled = { ...ref('alpha'), metadata: { ...ref('alpha').metadata, labels: { app: 'alpha' } } };
  const ssa = await objects.patch<StockVm>(labelled, undefined, undefined, 'e2e', true, k8s.PatchStrategy.ServerSideApply);
  const sentApply = kc.sent.find((r) => r.method === 'PATCH');
  assert.equal(sentApply?.contentType, 'application/apply-patch+yaml');
  assert.match(sentApply!.url, /[?&]fieldManager=e2e(&|$)/);
  assert.deepEqual(ssa.metadata?.labels, { app: 'alpha' });
  assert.equal(ssa.metadata?.generation, 2);
  const applied = ssa.metadata?.managedFields?.find((e) => e.manager === 'e2e');
  assert.equal(applied?.operation, 'Apply');
  assert.deepEqual(applied?.fieldsV1, { 'f:metadata': { 'f:labels': { 'f:app': {} } } });
});

test('replace: a PUT with the current resourceVersion updates, a stale one is a 409 Conflict', async () => {
  const current = await objects.read<StockVm>(ref('alpha'));
  const stale = structuredClone(current);
  current.spec = { ...current.spec, image: 'custom-image' };
  const replaced = await objects.replace(current);
  assert.equal(replaced.spec?.image, 'custom-image');
  assert.equal(replaced.metadata?.generation, 3);
  assert.notEqual(replaced.metadata?.resourceVersion, stale.metadata?.resourceVersion);

  // client-node sends creationTimestamp back as it parsed it (with milliseconds); the server keeps its own.
  const stored = await raw('alpha');
  assert.equal(stored.spec.image, 'custom-image');
  assert.equal(Date.parse(stored.metadata.creationTimestamp), (stale.metadata!.creationTimestamp as Date).getTime());

  stale.spec = { ...stale.spec, image: 'lost-update' };
  const conflict = await apiError(() => objects.replace(stale));
  assert.equal(conflict.code, 409);
  assert.equal(conflict.status.kind, 'Status');
  assert.equal(conflict.status.reason, 'Conflict');
  assert.equal((await raw('alpha')).spec.image, 'custom-image', 'the stale write changed nothing');
});

test('404 and 409 surface as ApiExceptions with the right status code and a Status body', async () => {
  const missing = await apiError(() => objects.read(ref('no-such-vm')));
  assert.equal(missing.code, 404);
  assert.equal(missing.status.reason, 'NotFound');
  assert.match(missing.status.message, /"no-such-vm" not found/);

  const dup = await apiError(() => objects.create(vm('alpha')));
  assert.equal(dup.code, 409);
  assert.equal(dup.status.reason, 'AlreadyExists');
  assert.match(dup.status.message, /"alpha" already exists/);

  const delMissing = await apiError(() => objects.delete(ref('no-such-vm')));
  assert.equal(delMissing.code, 404);

  const unknownField = await apiError(() => objects.create({ ...vm('typo'), spec: { resources: { vcpus: 1 }, runStratgy: 'Halted' } } as StockVm));
  assert.ok(unknownField.code >= 400 && unknownField.code < 500, String(unknownField.code));
  assert.match(unknownField.status.message, /unknown field "spec\.runStratgy"/);
  assert.equal((await apiError(() => objects.read(ref('typo')))).code, 404);

  const noNamespace = await apiError(() => objects.create({ ...vm('lost'), metadata: { name: 'lost', namespace: 'no-such-ns' } }));
  assert.equal(noNamespace.code, 404);
  assert.match(noNamespace.status.message, /namespaces "no-such-ns" not found/);
});

test('delete removes the VM; with a finalizer it waits for the finalizer to go', async () => {
  await objects.delete(ref('beta'));
  assert.equal((await apiError(() => objects.read(ref('beta')))).code, 404);
  assert.ok(!(await rawList()).items.some((i: any) => i.metadata.name === 'beta'));

  await objects.create(vm('held', { finalizers: ['shoal.dev/e2e-hold'] }));
  await objects.delete(ref('held'), undefined, undefined, undefined, undefined, 'Background');
  const terminating = await raw('held');
  assert.ok(terminating.metadata.deletionTimestamp, 'a VM with a finalizer is marked, not removed');
  const released = { ...ref('held'), metadata: { ...ref('held').metadata, finalizers: null } } as unknown as StockVm;
  await objects.patch(released, undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch);
  assert.equal((await apiError(() => objects.read(ref('held')))).code, 404, 'removing the last finalizer deletes the VM');
});

test('an informer sees add, update and delete events and its cache matches the server', async () => {
  await objects.create(vm('inf-existing', { labels: { suite: 'informer' } }));
  const informer = k8s.makeInformer<StockVm>(kc, VMS_PATH, () =>
    custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'default', plural: PLURAL }),
  );
  const events: { type: string; name: string; vcpus?: number; deleting: boolean }[] = [];
  const errors: unknown[] = [];
  const record = (type: string) => (o: StockVm) =>
    events.push({ type, name: o.metadata!.name!, vcpus: o.spec?.resources?.vcpus, deleting: Boolean(o.metadata?.deletionTimestamp) });
  informer.on(k8s.ADD, record('add'));
  informer.on(k8s.UPDATE, record('update'));
  informer.on(k8s.DELETE, record('delete'));
  informer.on(k8s.ERROR, (err) => errors.push(err));
  const seen = (what: string, probe: (e: (typeof events)[number]) => boolean) =>
    waitFor(() => events.some(probe), { timeoutMs: 15_000, message: what }).catch((err: Error) => {
      throw new Error(`${err.message}; events so far: ${JSON.stringify(events)}; errors: ${errors.map(String).join(', ')}`);
    });

  await informer.start();
  try {
    // The initial list is delivered as adds.
    await seen('add of inf-existing from the initial list', (e) => e.type === 'add' && e.name === 'inf-existing');

    await objects.create(vm('inf-new', { labels: { suite: 'informer' }, vcpus: 2 }));
    await seen('add of inf-new', (e) => e.type === 'add' && e.name === 'inf-new' && e.vcpus === 2);

    await objects.patch<StockVm>(
      { ...ref('inf-new'), spec: { resources: { vcpus: 5 } } },
      undefined,
      undefined,
      undefined,
      undefined,
      k8s.PatchStrategy.MergePatch,
    );
    await seen('update of inf-new to 5 vCPUs', (e) => e.type === 'update' && e.name === 'inf-new' && e.vcpus === 5);

    await objects.delete(ref('inf-existing'));
    await seen('delete of inf-existing', (e) => e.type === 'delete' && e.name === 'inf-existing');

    // Graceful deletion as a controller sees it: an update carrying deletionTimestamp, then the delete.
    await objects.create(vm('inf-held', { finalizers: ['shoal.dev/e2e-hold'] }));
    await objects.delete(ref('inf-held'));
    await seen('update of inf-held marking it for deletion', (e) => e.type === 'update' && e.name === 'inf-held' && e.deleting);
    assert.ok(informer.get('inf-held', 'default')?.metadata?.deletionTimestamp, 'the cache holds the terminating VM');
    await objects.patch(
      { ...ref('inf-held'), metadata: { ...ref('inf-held').metadata, finalizers: null } } as unknown as StockVm,
      undefined,
      undefined,
      undefined,
      undefined,
      k8s.PatchStrategy.MergePatch,
    );
    await seen('delete of inf-held', (e) => e.type === 'delete' && e.name === 'inf-held');

    // The cache converges on exactly what the server holds, object for object.
    const summary = (items: readonly StockVm[]) =>
      items
        .map((o) => `${o.metadata!.name}@${o.metadata!.resourceVersion}:${o.spec?.resources?.vcpus}`)
        .sort()
        .join(' ');
    await waitFor(async () => summary(informer.list('default')) === summary((await rawList()).items), {
      timeoutMs: 10_000,
      message: 'the informer cache to match the server list',
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}: cache [${summary(informer.list('default'))}] server [${summary((await rawList()).items)}]`);
    });
    assert.equal(informer.get('inf-new', 'default')?.spec?.resources?.vcpus, 5);
    assert.equal(informer.get('inf-existing', 'default'), undefined);
    assert.deepEqual(errors, [], 'the informer reported no errors');
    // Each change produced exactly one event: no duplicates from the initial list or the watch.
    assert.equal(events.filter((e) => e.type === 'add' && e.name === 'inf-new').length, 1);
    assert.equal(events.filter((e) => e.type === 'delete' && e.name === 'inf-existing').length, 1);
  } finally {
    await informer.stop();
  }
});

test('Watch streams ADDED, MODIFIED and DELETED from a resourceVersion, in order', async () => {
  const list = await rawList();
  const got: { type: string; obj: any }[] = [];
  let doneWith: unknown = 'not yet';
  const watch = new k8s.Watch(kc);
  const controller = await watch.watch(
    VMS_PATH,
    { resourceVersion: list.metadata.resourceVersion, labelSelector: 'suite=watch' },
    (type, obj) => got.push({ type, obj }),
    (err) => (doneWith = err),
  );
  try {
    await objects.create(vm('w1', { labels: { suite: 'watch' } }));
    await objects.create(vm('not-watched', { labels: { suite: 'other' } }));
    await objects.patch<StockVm>({ ...ref('w1'), spec: { resources: { vcpus: 4 } } }, undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch);
    await objects.delete(ref('w1'));
    await waitFor(() => got.some((e) => e.type === 'DELETED'), { timeoutMs: 15_000, message: 'the DELETED event' }).catch((err: Error) => {
      throw new Error(`${err.message}; got ${JSON.stringify(got.map((e) => e.type))}, done: ${String(doneWith)}`);
    });
    assert.deepEqual(
      got.map((e) => `${e.type} ${e.obj.metadata.name}`),
      ['ADDED w1', 'MODIFIED w1', 'DELETED w1'],
      'the label selector filters and events arrive once, in order',
    );
    assert.equal(got[0]!.obj.kind, 'VirtualMachine');
    assert.equal(got[0]!.obj.spec.runStrategy, 'Always', 'watch objects are full objects with defaults');
    assert.equal(got[1]!.obj.spec.resources.vcpus, 4);
    const rvs = got.map((e) => Number(e.obj.metadata.resourceVersion));
    assert.ok(rvs[0]! > Number(list.metadata.resourceVersion) && rvs[0]! < rvs[1]! && rvs[1]! < rvs[2]!, `resourceVersions increase: ${rvs.join(' ')}`);
    assert.equal(doneWith, 'not yet', 'the stream stays open');
  } finally {
    controller.abort();
  }
  await waitFor(() => doneWith !== 'not yet', { timeoutMs: 5_000, message: 'done to be called after abort' });
});

test('Watch without a resourceVersion starts with the current state; timeoutSeconds ends it cleanly', async () => {
  await objects.create(vm('w-current', { labels: { suite: 'watch-now' } }));
  const got: string[] = [];
  let doneWith: unknown = 'not yet';
  const watch = new k8s.Watch(kc);
  const controller = await watch.watch(
    VMS_PATH,
    { fieldSelector: 'metadata.name=w-current', timeoutSeconds: 2 },
    (type, obj) => got.push(`${type} ${obj.metadata.name}`),
    (err) => (doneWith = err),
  );
  try {
    await waitFor(() => got.includes('ADDED w-current'), { timeoutMs: 10_000, message: 'the synthetic ADDED for the existing VM' });
    await objects.patch<StockVm>(
      { ...ref('w-current'), metadata: { ...ref('w-current').metadata, labels: { touched: 'yes' } } },
      undefined,
      undefined,
      undefined,
      undefined,
      k8s.PatchStrategy.MergePatch,
    );
    await waitFor(() => got.includes('MODIFIED w-current'), { timeoutMs: 10_000, message: 'MODIFIED w-current' });
    // The server closes the stream after timeoutSeconds; client-node reports that as done(null).
    await waitFor(() => doneWith !== 'not yet', { timeoutMs: 15_000, message: 'the server to end the watch after timeoutSeconds' });
    assert.equal(doneWith, null, `the watch ended with an error: ${String(doneWith)}`);
    assert.deepEqual(got, ['ADDED w-current', 'MODIFIED w-current']);
  } finally {
    controller.abort();
  }
});

test('Watch reports an HTTP error for a path the server does not serve', async () => {
  let doneWith: any = 'not yet';
  await new k8s.Watch(kc).watch(
    `/apis/${GROUP}/${VERSION}/namespaces/default/nosuchthings`,
    {},
    () => undefined,
    (err) => (doneWith = err),
  );
  await waitFor(() => doneWith !== 'not yet', { timeoutMs: 10_000, message: 'done to be called' });
  assert.equal(doneWith?.statusCode, 404);
});
