/**
 * Hostile requests, generated deterministically from a seed: malformed bodies, wrong types for
 * every field of the VirtualMachine schema, oversized and deeply nested bodies, bad names,
 * unknown and immutable fields, bogus resourceVersions, selectors, patches, methods, paths,
 * paging and watch parameters. Each case says exactly what a correct apiserver answers.
 */
import { kinds, type KindInfo, type KubeObject } from '@shoal/api';

export interface Expectation {
  /** The HTTP status; 0: any 4xx with a Status body (the exact failure depends on where the corruption lands). */
  code: number;
  /** Status reason, for error answers. */
  reason?: string;
  /** Some details.causes[].field must be exactly this. */
  field?: string;
  /** Extra check of a successful answer's body (answers that must change nothing). */
  check?: (body: any) => string | undefined;
  /** A Retry-After header must be present. */
  retryAfter?: boolean;
}

export interface HostileCase {
  category: string;
  what: string;
  method: string;
  /** Sent exactly as written (already percent-encoded where meant). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  expect: Expectation;
}

/** Objects the suite seeded, as the server returned them. */
export interface Seeded {
  namespace: string;
  otherNamespace: string;
  vm: KubeObject;
  pc: KubeObject;
  node: KubeObject;
  maxRequestBytes: number;
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    sample: <T>(xs: readonly T[], n: number): T[] => {
      const copy = [...xs];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [copy[i], copy[j]] = [copy[j]!, copy[i]!];
      }
      return copy.slice(0, n);
    },
  };
}

const G = '/apis/shoal.dev/v1alpha1';
const JSON_CT = { 'content-type': 'application/json' };
const MERGE = { 'content-type': 'application/merge-patch+json' };
const JSONPATCH = { 'content-type': 'application/json-patch+json' };
const YAML_CT = { 'content-type': 'application/yaml' };

const bad = (code: number, reason: string, field?: string): Expectation => ({ code, reason, ...(field ? { field } : {}) });
const badRequest = (field?: string) => bad(400, 'BadRequest', field);
const invalid = (field?: string) => bad(422, 'Invalid', field);
const notFound = () => bad(404, 'NotFound');

/** A schema leaf or node: where it is and what type the schema declares. */
interface FieldSpot {
  path: (string | number)[];
  type: string;
}

/** Every declared property path of a schema (array items as index 0), with its declared type. */
function fieldSpots(schema: any, path: (string | number)[] = [], out: FieldSpot[] = [], depth = 0): FieldSpot[] {
  if (!schema || typeof schema !== 'object' || depth > 8) return out;
  const type = Array.isArray(schema.type) ? undefined : schema.type;
  if (path.length && type) out.push({ path, type });
  for (const [k, v] of Object.entries((schema.properties ?? {}) as Record<string, unknown>)) fieldSpots(v, [...path, k], out, depth + 1);
  if (schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items)) fieldSpots(schema.items, [...path, 0], out, depth + 1);
  return out;
}

/** `['spec','command',0]` → `spec.command[0]`, as the server names fields. */
export function fieldName(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** Values of every JSON type but the declared one. */
function wrongValues(type: string): unknown[] {
  const all: Record<string, unknown[]> = {
    string: ['x', ''],
    integer: [7],
    number: [7.5],
    boolean: [true],
    array: [['x']],
    object: [{ x: 'y' }],
  };
  const allowed = new Set([type, ...(type === 'number' ? ['integer'] : [])]);
  const out: unknown[] = [];
  for (const [t, vs] of Object.entries(all))
    if (!allowed.has(t)) out.push(...vs.filter((v) => !(type === 'integer' && typeof v === 'number' && Number.isInteger(v))));
  if (type === 'integer') out.push(1.5, '1');
  return out;
}

/** A copy of `obj` with `value` at `path`, creating objects and arrays on the way. */
function setAt(obj: unknown, path: (string | number)[], value: unknown): any {
  const root = structuredClone(obj) as any;
  let cur = root;
  for (let i = 0; i < path.length - 1; i++) {
    const p = path[i]!;
    const nextIsIndex = typeof path[i + 1] === 'number';
    if (cur[p] === undefined || cur[p] === null || typeof cur[p] !== 'object') cur[p] = nextIsIndex ? [] : {};
    cur = cur[p];
  }
  cur[path[path.length - 1]!] = value;
  return root;
}

/** A merge patch that sets `path` (arrays are replaced whole, as merge patches do). */
function mergePatchAt(path: (string | number)[], value: unknown): any {
  const idx = path.findIndex((p) => typeof p === 'number');
  if (idx < 0) return setAt({}, path, value);
  // The array item itself is the target: the array holds the value, not an object around it.
  if (idx === path.length - 1) return setAt({}, path.slice(0, idx), [value]);
  return setAt({}, path.slice(0, idx), [setAt({}, path.slice(idx + 1), value)]);
}

function nest(depth: number, open: string, close: string, inner = '1'): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

const j = (v: unknown) => JSON.stringify(v);

const SERVER_SET_METADATA = new Set([
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'namespace',
]);

export function generateCases(seed: number, s: Seeded): HostileCase[] {
  const r = prng(seed);
  const all = kinds();
  const vmKind = all.find('VirtualMachine')!;
  const ns = s.namespace;
  const VMS = `${G}/namespaces/${ns}/virtualmachines`;
  const vmName = s.vm.metadata.name!;
  const VM = `${VMS}/${vmName}`;
  const rv = s.vm.metadata.resourceVersion!;
  const cases: HostileCase[] = [];
  const add = (category: string, what: string, method: string, path: string, body: unknown, headers: Record<string, string> | undefined, expect: Expectation) =>
    cases.push({
      category,
      what,
      method,
      path,
      ...(body !== undefined ? { body: typeof body === 'string' || Buffer.isBuffer(body) ? body : j(body) } : {}),
      headers: headers ?? (body !== undefined ? JSON_CT : {}),
      expect,
    });
  const newVm = (name: string, extra: object = {}) => ({
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name },
    spec: { resources: { vcpus: 1, memoryMiB: 64 } },
    ...extra,
  });
  const fresh = () => `hostile-${r.int(1e9).toString(36)}`;
  const current = () => structuredClone(s.vm) as any;

  // ── invalid JSON ─────────────────────────────────────────────────────────────────────────────
  const validText = j(newVm('never-stored'));
  const garbage = [
    '{',
    '}',
    '[',
    '{"a":',
    '{"metadata":{"name":"x"}',
    "{'a':1}",
    '{"a":1,}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":undefined}',
    '{a:1}',
    '// c\n{}',
    '/* c */{}',
    '\uFEFF{}',
    'nul',
    'tru',
    '"\\x41"',
    '{"a":"\\ud800"',
    '{"a":01}',
    '{"a":1}{"b":2}',
    '{"a":1} x',
    '\u0000',
    '{"a":"\u0000',
    '0x10',
    '-',
    '+1',
    '.5',
    '{"a":1e}',
    '{"a":--1}',
    ']',
  ];
  for (const g of garbage) add('invalid JSON', `garbage ${j(g).slice(0, 30)}`, 'POST', VMS, g, JSON_CT, badRequest());
  for (let i = 0; i < 60; i++) {
    const cut = 1 + r.int(validText.length - 2);
    add('invalid JSON', `truncated at ${cut}`, 'POST', VMS, validText.slice(0, cut), JSON_CT, badRequest());
  }
  for (let i = 0; i < 20; i++) {
    const text = j(current());
    const cut = 1 + r.int(text.length - 2);
    add('invalid JSON', `truncated update at ${cut}`, 'PUT', VM, text.slice(0, cut), JSON_CT, badRequest());
    add(
      'invalid JSON',
      `truncated merge patch at ${cut}`,
      'PATCH',
      VM,
      j({ metadata: { labels: { a: 'b' } }, spec: { runStrategy: 'Halted' } }).slice(0, 1 + r.int(50)),
      MERGE,
      badRequest(),
    );
  }
  add('invalid JSON', 'empty body', 'POST', VMS, '', JSON_CT, badRequest());
  add('invalid JSON', 'whitespace body', 'POST', VMS, '   \n', JSON_CT, badRequest());
  for (const v of ['null', '1', '"vm"', 'true', '[]', j([newVm('in-array')])])
    add('invalid JSON', `not an object: ${v.slice(0, 20)}`, 'POST', VMS, v, JSON_CT, badRequest());
  for (const v of ['null', '1', '"vm"', '[]']) add('invalid JSON', `update not an object: ${v}`, 'PUT', VM, v, JSON_CT, badRequest());

  // ── YAML ─────────────────────────────────────────────────────────────────────────────────────
  const yamlVm = `apiVersion: shoal.dev/v1alpha1\nkind: VirtualMachine\nmetadata:\n  name: yaml-as-json\nspec:\n  resources: {vcpus: 1, memoryMiB: 64}\n`;
  add('YAML', 'YAML sent as application/json', 'POST', VMS, yamlVm, JSON_CT, badRequest());
  add('YAML', 'YAML update sent as application/json', 'PUT', VM, `metadata:\n  name: ${vmName}\n  resourceVersion: "${rv}"\n`, JSON_CT, badRequest());
  const badYaml = [
    'a: b: c',
    'metadata:\n  name: x\n   bad: indent',
    'key: [unclosed',
    'key: {unclosed',
    '- a\nb: c',
    'a: &x 1\nb: *y',
    '"unterminated',
    "'unterminated",
    'a:\n\t- tab',
    '? [a\n: b',
    '---\na: 1\n---\nb: 2',
    '@reserved',
    '`reserved',
    'a: 1\na: 2',
  ];
  for (const y of badYaml) add('YAML', `invalid YAML ${j(y).slice(0, 30)}`, 'POST', VMS, y, YAML_CT, badRequest());
  for (let i = 0; i < 30; i++) {
    const cut = 1 + r.int(yamlVm.length - 2);
    // The name is never valid, so whatever the corruption leaves, nothing can be created.
    const text =
      yamlVm.replace('yaml-as-json', 'Yaml_Never_Valid').slice(0, cut) + r.pick(['{', '[', '"', ': :', '\t', '&', '*undefined', '!!int x', '|\n bad']);
    add('YAML', `corrupted YAML at ${cut}`, 'POST', VMS, text, YAML_CT, { code: 0 });
  }
  for (const v of ['just a string', '42', '- a\n- b', '~', 'null', '']) add('YAML', `YAML not a mapping: ${j(v)}`, 'POST', VMS, v, YAML_CT, badRequest());
  // Alias expansion ("billion laughs"): refused, not expanded.
  let laughs = 'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
  for (let i = 1; i < 12; i++)
    laughs += `a${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  add('YAML', 'billion laughs (alias bomb)', 'POST', VMS, laughs, YAML_CT, badRequest());
  add('YAML', 'billion laughs inside a VM', 'POST', VMS, `${yamlVm}${laughs.replace(/^/gm, '  ').replace(/^ {2}/, 'x:\n  ')}`, YAML_CT, badRequest());
  add('YAML', 'YAML with an unknown field (Strict)', 'POST', VMS, `${yamlVm.replace('yaml-as-json', fresh())}  gpus: 4\n`, YAML_CT, badRequest('spec.gpus'));
  add(
    'YAML',
    'YAML with a wrong type',
    'POST',
    VMS,
    yamlVm.replace('vcpus: 1', 'vcpus: one').replace('yaml-as-json', fresh()),
    YAML_CT,
    invalid('spec.resources.vcpus'),
  );

  // ── wrong Content-Type ──────────────────────────────────────────────────────────────────────
  const unsupported = bad(415, 'UnsupportedMediaType');
  for (const ct of [
    'text/plain',
    'application/xml',
    'text/html',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
    'application/octet-stream',
    'application/vnd.kubernetes.protobuf',
    'image/png',
    'application/jsonx',
    'json',
    'application/',
    '*/*',
  ]) {
    add('Content-Type', `create as ${ct}`, 'POST', VMS, j(newVm(fresh())), { 'content-type': ct }, unsupported);
    add('Content-Type', `update as ${ct}`, 'PUT', VM, j(current()), { 'content-type': ct }, unsupported);
  }
  add('Content-Type', 'create without a Content-Type', 'POST', VMS, j(newVm(fresh())), {}, unsupported);
  for (const ct of ['application/json', 'text/plain', 'application/xml', 'application/yaml'])
    add('Content-Type', `patch as ${ct}`, 'PATCH', VM, j({ metadata: { labels: { a: 'b' } } }), { 'content-type': ct }, unsupported);
  // Server-side apply: a manager must be named, and the configuration must be a whole object of the kind, claiming no ownership.
  const APPLY_CT = { 'content-type': 'application/apply-patch+yaml' };
  const applyBody = `apiVersion: shoal.dev/v1alpha1\nkind: VirtualMachine\nmetadata:\n  name: ${vmName}\n  labels: {a: b}\n`;
  add('server-side apply', 'apply without a fieldManager', 'PATCH', VM, applyBody, APPLY_CT, invalid('fieldManager'));
  add('server-side apply', 'apply with an unprintable fieldManager', 'PATCH', `${VM}?fieldManager=a%07b`, applyBody, APPLY_CT, invalid('fieldManager'));
  add(
    'server-side apply',
    'apply without apiVersion and kind',
    'PATCH',
    `${VM}?fieldManager=hostile`,
    `metadata:\n  labels: {a: b}\n`,
    APPLY_CT,
    badRequest('apiVersion'),
  );
  add(
    'server-side apply',
    'apply claiming managedFields',
    'PATCH',
    `${VM}?fieldManager=hostile`,
    `${applyBody}  managedFields: [{manager: hostile, operation: Apply}]\n`,
    APPLY_CT,
    badRequest('metadata.managedFields'),
  );
  add('Content-Type', 'patch without a Content-Type', 'PATCH', VM, j({ metadata: { labels: { a: 'b' } } }), {}, unsupported);

  // ── wrong types for every field of the VirtualMachine schema ────────────────────────────────
  const spots = fieldSpots(vmKind.schema).filter((f) => !(f.path[0] === 'metadata' && SERVER_SET_METADATA.has(String(f.path[1]))));
  const base = newVm('typed');
  for (const spot of spots) {
    const field = fieldName(spot.path);
    const values = wrongValues(spot.type);
    if (spot.path[0] === 'apiVersion' || spot.path[0] === 'kind') {
      for (const v of values) add('wrong types', `create ${field}=${j(v)}`, 'POST', VMS, setAt(base, spot.path, v), JSON_CT, badRequest(field));
      continue;
    }
    if (spot.path[0] === 'status') {
      // Status is the server's on create (dropped); a wrong type goes through /status.
      for (const v of r.sample(values, 2))
        add('wrong types', `status ${field}=${j(v)}`, 'PUT', `${VM}/status`, setAt(current(), spot.path, v), JSON_CT, invalid(field));
      continue;
    }
    for (const v of r.sample(values, 3)) {
      const body = setAt({ ...base, metadata: { name: fresh() } }, spot.path, v);
      add('wrong types', `create ${field}=${j(v)}`, 'POST', VMS, body, JSON_CT, invalid(field));
    }
    if (spot.path[0] === 'spec') {
      const v = r.pick(values);
      add('wrong types', `update ${field}=${j(v)}`, 'PUT', VM, setAt(current(), spot.path, v), JSON_CT, invalid(field));
      const w = r.pick(values);
      add('wrong types', `merge patch ${field}=${j(w)}`, 'PATCH', VM, mergePatchAt(spot.path, w), MERGE, invalid(field));
    }
  }
  // Values of the right type the schema still refuses.
  const outOfRange: [(string | number)[], unknown][] = [
    [['spec', 'resources', 'vcpus'], 0],
    [['spec', 'resources', 'vcpus'], 65],
    [['spec', 'resources', 'vcpus'], -1],
    [['spec', 'resources', 'vcpus'], 2 ** 53],
    [['spec', 'resources', 'memoryMiB'], 31],
    [['spec', 'resources', 'memoryMiB'], 1e300],
    [['spec', 'runStrategy'], 'Sometimes'],
    [['spec', 'runStrategy'], 'always'],
    [['spec', 'network', 'mode'], 'bridge'],
    [['spec', 'evictionStrategy'], 'Teleport'],
    [['spec', 'image'], 'x'.repeat(254)],
    [['spec', 'priority'], 1001],
    [['spec', 'priority'], -5],
    [['metadata', 'labels'], { 'bad key!': 'v' }],
    [['metadata', 'labels'], { ok: 'bad value!' }],
    [['metadata', 'labels'], { ok: 'v'.repeat(64) }],
    [['metadata', 'labels'], { ['k'.repeat(64)]: 'v' }],
    [['metadata', 'finalizers', 0], 'has space'],
    [['metadata', 'finalizers'], Array(33).fill('a/b')],
    [['metadata', 'annotations'], { '../../etc/passwd': 'x' }],
  ];
  for (const [path, v] of outOfRange) {
    const field = path[1] === 'labels' || path[1] === 'annotations' ? undefined : fieldName(path);
    add(
      'wrong types',
      `create ${fieldName(path)}=${j(v).slice(0, 40)}`,
      'POST',
      VMS,
      setAt({ ...base, metadata: { name: fresh() } }, path, v),
      JSON_CT,
      invalid(field),
    );
  }

  // ── oversized bodies ────────────────────────────────────────────────────────────────────────
  const tooLarge = bad(413, 'RequestEntityTooLarge');
  const over = s.maxRequestBytes + 1 + r.int(4096);
  add(
    'oversized',
    `create of ${over} bytes`,
    'POST',
    VMS,
    j(newVm(fresh(), { spec: { resources: { vcpus: 1, memoryMiB: 64 }, cmdline: 'x'.repeat(over) } })),
    JSON_CT,
    tooLarge,
  );
  add(
    'oversized',
    `update of ${over} bytes`,
    'PUT',
    VM,
    j({ ...current(), metadata: { ...current().metadata, annotations: { a: 'x'.repeat(over) } } }),
    JSON_CT,
    tooLarge,
  );
  add('oversized', `merge patch of ${over} bytes`, 'PATCH', VM, j({ metadata: { annotations: { a: 'x'.repeat(over) } } }), MERGE, tooLarge);
  add('oversized', `YAML of ${over} bytes`, 'POST', VMS, `${yamlVm}  cmdline: ${'x'.repeat(over)}\n`, YAML_CT, tooLarge);
  add('oversized', `garbage of ${over} bytes`, 'POST', VMS, 'x'.repeat(over), JSON_CT, tooLarge);
  add('oversized', `DeleteOptions of ${over} bytes`, 'DELETE', VM, j({ preconditions: { uid: 'x'.repeat(over) } }), JSON_CT, tooLarge);
  add('oversized', `${over} bytes as text/plain`, 'POST', VMS, 'x'.repeat(over), { 'content-type': 'text/plain' }, { code: 0 });
  // Just over the limit: a server may stop reading a body it refuses and close, so far larger ones can end in EPIPE before the answer is read.
  for (let i = 0; i < 4; i++) {
    const size = s.maxRequestBytes + 1 + r.int(65_536);
    add('oversized', `create of ${size} bytes`, 'POST', VMS, Buffer.alloc(size, 0x20), JSON_CT, tooLarge);
  }
  // Within the body limit but over what etcd stores for one object (1.4 MB): six 256 KiB annotations.
  const bigAnnotations = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`a${i}`, 'x'.repeat(262_000)]));
  if (s.maxRequestBytes > 1_700_000) {
    add(
      'oversized',
      'object over the store limit (create)',
      'POST',
      VMS,
      newVm(fresh(), { metadata: { name: fresh(), annotations: bigAnnotations } }),
      JSON_CT,
      tooLarge,
    );
    add('oversized', 'object over the store limit (merge patch)', 'PATCH', VM, { metadata: { annotations: bigAnnotations } }, MERGE, tooLarge);
  }
  add(
    'oversized',
    'a field over its maxLength',
    'POST',
    VMS,
    newVm(fresh(), { spec: { resources: { vcpus: 1, memoryMiB: 64 }, cmdline: 'x'.repeat(5000) } }),
    JSON_CT,
    invalid('spec.cmdline'),
  );
  add(
    'oversized',
    '100,000 labels',
    'POST',
    VMS,
    newVm(fresh(), { metadata: { name: fresh(), labels: Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 'v!'])) } }),
    JSON_CT,
    invalid(),
  );
  add(
    'oversized',
    '200,000-element array',
    'POST',
    VMS,
    newVm(fresh(), { spec: { resources: { vcpus: 1, memoryMiB: 64 }, command: Array(200_000).fill(1) } }),
    JSON_CT,
    invalid(),
  );

  // ── deep nesting ─────────────────────────────────────────────────────────────────────────────
  for (const depth of [65, 100, 1000, 10_000, 100_000, 1_000_000]) {
    if (depth * 5 > s.maxRequestBytes) continue;
    add('deep nesting', `array ${depth} deep`, 'POST', VMS, nest(depth, '[', ']'), JSON_CT, badRequest());
    add('deep nesting', `object ${depth} deep`, 'POST', VMS, nest(depth, '{"a":', '}'), JSON_CT, badRequest());
    add(
      'deep nesting',
      `${depth} deep inside spec`,
      'POST',
      VMS,
      j(newVm(fresh())).replace('"spec":{', `"spec":{"x":${nest(depth, '[', ']')},`),
      JSON_CT,
      badRequest(),
    );
    add(
      'deep nesting',
      `merge patch ${depth} deep`,
      'PATCH',
      VM,
      `{"metadata":{"annotations":{"a":${nest(depth, '{"a":', '}', '"x"')}}}}`,
      MERGE,
      badRequest(),
    );
    add(
      'deep nesting',
      `JSON patch value ${depth} deep`,
      'PATCH',
      VM,
      `[{"op":"add","path":"/metadata/annotations/a","value":${nest(depth, '[', ']')}}]`,
      JSONPATCH,
      badRequest(),
    );
    add('deep nesting', `YAML flow ${depth} deep`, 'POST', VMS, nest(depth, '[', ']'), YAML_CT, badRequest());
    add('deep nesting', `unclosed array ${depth} deep`, 'POST', VMS, '['.repeat(depth), JSON_CT, badRequest());
  }
  for (const depth of [65, 1000, 5000]) {
    const block = Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + ' 1\n';
    if (block.length < s.maxRequestBytes) add('deep nesting', `YAML block mapping ${depth} deep`, 'POST', VMS, block, YAML_CT, badRequest());
  }
  add(
    'deep nesting',
    'nested 64 deep is fine but unknown (Strict)',
    'POST',
    VMS,
    j(newVm(fresh())).replace('"spec":{', `"spec":{"x":${nest(60, '[', ']')},`),
    JSON_CT,
    badRequest('spec.x'),
  );

  // ── names, in the URL and in the body ───────────────────────────────────────────────────────
  const badNames = [
    '..',
    '.',
    'a/b',
    'a%2Fb',
    '%2e%2e',
    'a\u0000b',
    '\u202eevil',
    'vm-\u{1F600}',
    'x'.repeat(254),
    'UPPER',
    '-lead',
    'trail-',
    ' space',
    'a b',
    'a..b',
    'a_b',
    'tab\tx',
    'new\nline',
    '\u0430dmin',
    'a;rm -rf',
    '${jndi:x}',
    '<script>',
    'a\\b',
    '..%2F..%2Fnodes',
    '*',
    '?',
  ];
  for (const name of badNames) {
    add('names', `create with metadata.name ${j(name).slice(0, 30)}`, 'POST', VMS, newVm(name), JSON_CT, invalid('metadata.name'));
    add(
      'names',
      `Node with metadata.name ${j(name).slice(0, 30)}`,
      'POST',
      `${G}/nodes`,
      { apiVersion: 'shoal.dev/v1alpha1', kind: 'Node', metadata: { name } },
      JSON_CT,
      invalid('metadata.name'),
    );
  }
  add('names', 'create with an empty name', 'POST', VMS, newVm(''), JSON_CT, invalid('metadata.name'));
  add('names', 'generateName with a bad prefix', 'POST', VMS, { ...newVm(''), metadata: { generateName: 'UP/../' } }, JSON_CT, invalid());
  // In the URL: a name that is not a valid path segment ('.', '..', or containing '/' or '%' once decoded) is refused as Kubernetes does (400); other bad names name nothing (404).
  const urlNames: [string, Expectation][] = [
    ['..', badRequest()],
    ['.', badRequest()],
    ['%2e%2e', badRequest()],
    ['%2E', badRequest()],
    ['a%2Fb', badRequest()],
    ['..%2F..%2Fnodes%2Fnode-a', badRequest()],
    ['%2F', badRequest()],
    ['a%25b', badRequest()],
    ['%00', notFound()],
    ['a%00b', notFound()],
    ['%E2%80%AEevil', notFound()],
    ['vm-%F0%9F%98%80', notFound()],
    ['x'.repeat(254), notFound()],
    ['UPPER', notFound()],
    ['%20space', notFound()],
    [encodeURIComponent('\u0430dmin'), notFound()],
    [`${vmName}%20`, notFound()],
    [`${vmName.toUpperCase()}`, notFound()],
  ];
  for (const [seg, expect] of urlNames) {
    add('names', `GET item ${seg.slice(0, 30)}`, 'GET', `${VMS}/${seg}`, undefined, undefined, expect);
    add('names', `PUT item ${seg.slice(0, 30)}`, 'PUT', `${VMS}/${seg}`, current(), JSON_CT, expect);
    add('names', `PATCH item ${seg.slice(0, 30)}`, 'PATCH', `${VMS}/${seg}`, { metadata: { labels: { a: 'b' } } }, MERGE, expect);
    add('names', `DELETE item ${seg.slice(0, 30)}`, 'DELETE', `${VMS}/${seg}`, undefined, undefined, expect);
    add('names', `DELETE node ${seg.slice(0, 30)}`, 'DELETE', `${G}/nodes/${seg}`, undefined, undefined, expect);
    add('names', `GET status ${seg.slice(0, 30)}`, 'GET', `${VMS}/${seg}/status`, undefined, undefined, expect);
    // The same segment as the namespace.
    add('names', `GET in namespace ${seg.slice(0, 30)}`, 'GET', `${G}/namespaces/${seg}/virtualmachines/${vmName}`, undefined, undefined, expect);
    add('names', `DELETE in namespace ${seg.slice(0, 30)}`, 'DELETE', `${G}/namespaces/${seg}/virtualmachines/${vmName}`, undefined, undefined, expect);
    add(
      'names',
      `POST in namespace ${seg.slice(0, 30)}`,
      'POST',
      `${G}/namespaces/${seg}/virtualmachines`,
      newVm(fresh()),
      JSON_CT,
      expect.code === 400 ? expect : invalid('metadata.namespace'),
    );
  }
  add('names', 'raw "/" in the name (another path)', 'GET', `${VMS}/a/b`, undefined, undefined, notFound());
  add('names', 'raw "/.." after the name', 'DELETE', `${VM}/..`, undefined, undefined, notFound());
  add('names', 'raw ".." as the namespace', 'DELETE', `${G}/namespaces/../virtualmachines/${vmName}`, undefined, undefined, badRequest());
  // Name and namespace in the body that differ from the URL.
  add(
    'names',
    'update: body name differs from the URL',
    'PUT',
    VM,
    { ...current(), metadata: { ...current().metadata, name: 'someone-else' } },
    JSON_CT,
    badRequest('metadata.name'),
  );
  add(
    'names',
    'update: body namespace differs from the URL',
    'PUT',
    VM,
    { ...current(), metadata: { ...current().metadata, namespace: s.otherNamespace } },
    JSON_CT,
    badRequest('metadata.namespace'),
  );
  add(
    'names',
    'create: body namespace differs from the URL',
    'POST',
    VMS,
    { ...newVm(fresh()), metadata: { name: fresh(), namespace: s.otherNamespace } },
    JSON_CT,
    badRequest('metadata.namespace'),
  );
  add(
    'names',
    'create: body namespace is "../kube-system"',
    'POST',
    VMS,
    { ...newVm(fresh()), metadata: { name: fresh(), namespace: '../kube-system' } },
    JSON_CT,
    badRequest('metadata.namespace'),
  );
  add('names', 'patch: name changed to another object', 'PATCH', VM, { metadata: { name: 'someone-else' } }, MERGE, badRequest('metadata.name'));
  add('names', 'patch: namespace changed', 'PATCH', VM, { metadata: { namespace: s.otherNamespace } }, MERGE, badRequest('metadata.namespace'));
  add(
    'names',
    'JSON patch: replace /metadata/namespace',
    'PATCH',
    VM,
    [{ op: 'replace', path: '/metadata/namespace', value: s.otherNamespace }],
    JSONPATCH,
    badRequest('metadata.namespace'),
  );
  add(
    'names',
    'cluster-scoped Node with a namespace',
    'POST',
    `${G}/nodes`,
    { apiVersion: 'shoal.dev/v1alpha1', kind: 'Node', metadata: { name: fresh(), namespace: ns } },
    JSON_CT,
    invalid('metadata.namespace'),
  );
  add('names', 'wrong kind in the body', 'POST', VMS, { ...newVm(fresh()), kind: 'Node' }, JSON_CT, badRequest('kind'));
  add('names', 'wrong apiVersion in the body', 'POST', VMS, { ...newVm(fresh()), apiVersion: 'v1' }, JSON_CT, badRequest('apiVersion'));

  // ── unknown fields (fieldValidation Strict, the default) ────────────────────────────────────
  const unknownSpots: (string | number)[][] = [
    ['gpus'],
    ['spec', 'gpus'],
    ['spec', 'resources', 'gpus'],
    ['metadata', 'owner'],
    ['spec', 'network', 'bridge'],
    ['spec', 'rootDisk', 'encrypt'],
    ['spec', 'tolerations', 0, 'ttl'],
    ['spec', 'topologySpreadConstraints', 0, 'minDomains'],
    ['spec', '__proto__x'],
    ['spec', 'constructor'],
    ['spec', 'toString'],
    ['spec', 'hasOwnProperty'],
  ];
  for (const path of unknownSpots) {
    for (const q of ['', '?fieldValidation=Strict']) {
      let body = setAt({ ...base, metadata: { name: fresh() } }, path, r.pick([1, 'x', true, { a: 1 }]));
      if (path[1] === 'rootDisk') body = setAt(body, ['spec', 'rootDisk', 'baseImage'], '/img.qcow2');
      if (path[1] === 'topologySpreadConstraints')
        body = setAt(setAt(body, ['spec', 'topologySpreadConstraints', 0, 'maxSkew'], 1), ['spec', 'topologySpreadConstraints', 0, 'topologyKey'], 'zone');
      add('unknown fields', `create ${fieldName(path)}${q}`, 'POST', `${VMS}${q}`, body, JSON_CT, badRequest(fieldName(path)));
      if (path[0] !== 'metadata')
        add('unknown fields', `update ${fieldName(path)}${q}`, 'PUT', `${VM}${q}`, setAt(current(), path, 'x'), JSON_CT, badRequest(fieldName(path)));
      if (typeof path[2] !== 'number' && path[1] !== 'rootDisk')
        add('unknown fields', `merge patch ${fieldName(path)}${q}`, 'PATCH', `${VM}${q}`, setAt({}, path, 'x'), MERGE, badRequest(fieldName(path)));
    }
  }
  for (let i = 0; i < 40; i++) {
    const key = `f${r.int(1e6).toString(36)}${r.pick(['', '_x', '-y', '.z', '$'])}`;
    const where = r.pick([[key], ['spec', key], ['metadata', key], ['spec', 'resources', key]]);
    add(
      'unknown fields',
      `create random unknown ${fieldName(where)}`,
      'POST',
      VMS,
      setAt({ ...base, metadata: { name: fresh() } }, where, r.int(100)),
      JSON_CT,
      badRequest(fieldName(where)),
    );
  }
  add(
    'unknown fields',
    '__proto__ key in a create',
    'POST',
    VMS,
    j(newVm(fresh())).replace('"spec":{', '"spec":{"__proto__":{"polluted":true},'),
    JSON_CT,
    badRequest(),
  );
  add('unknown fields', '__proto__ key in a merge patch', 'PATCH', VM, '{"spec":{"__proto__":{"runStrategy":"Halted"}}}', MERGE, badRequest());
  add('unknown fields', 'constructor.prototype in a merge patch', 'PATCH', VM, '{"constructor":{"prototype":{"polluted":true}}}', MERGE, badRequest());
  add('unknown fields', 'fieldValidation=Bogus', 'POST', `${VMS}?fieldValidation=Bogus`, newVm(fresh()), JSON_CT, badRequest());
  add(
    'unknown fields',
    'fieldValidation given twice',
    'POST',
    `${VMS}?fieldValidation=Strict&fieldValidation=Ignore`,
    newVm(fresh(), { spec: { resources: { vcpus: 1, memoryMiB: 64 }, gpus: 1 } }),
    JSON_CT,
    badRequest(),
  );
  add('unknown fields', 'dryRun=Bogus', 'POST', `${VMS}?dryRun=Bogus`, newVm(fresh()), JSON_CT, badRequest());

  // ── immutable fields ────────────────────────────────────────────────────────────────────────
  const conflict = bad(409, 'Conflict');
  const cur = current();
  const pc = structuredClone(s.pc) as any;
  const PC = `${G}/priorityclasses/${pc.metadata.name}`;
  const withMeta = (o: any, m: object) => ({ ...o, metadata: { ...o.metadata, ...m } });
  const withSpec = (o: any, sp: object) => ({ ...o, spec: { ...o.spec, ...sp } });
  const unchanged = (what: (b: any) => string | undefined): Expectation => ({ code: 200, check: what });
  const sameAsSeeded = (b: any) =>
    b?.metadata?.resourceVersion !== rv
      ? `resourceVersion ${b?.metadata?.resourceVersion}, seeded ${rv}`
      : b.metadata.creationTimestamp !== cur.metadata.creationTimestamp
        ? 'creationTimestamp changed'
        : undefined;
  for (const uid of ['00000000-0000-0000-0000-000000000000', 'not-a-uid', cur.metadata.uid.toUpperCase()]) {
    add('immutable fields', `update metadata.uid=${uid}`, 'PUT', VM, withMeta(cur, { uid }), JSON_CT, conflict);
    add('immutable fields', `merge patch metadata.uid=${uid}`, 'PATCH', VM, { metadata: { uid } }, MERGE, conflict);
    add('immutable fields', `JSON patch metadata.uid=${uid}`, 'PATCH', VM, [{ op: 'replace', path: '/metadata/uid', value: uid }], JSONPATCH, conflict);
  }
  add('immutable fields', 'update metadata.name', 'PUT', VM, withMeta(cur, { name: `${vmName}-2` }), JSON_CT, badRequest('metadata.name'));
  add(
    'immutable fields',
    'JSON patch metadata.name',
    'PATCH',
    VM,
    [{ op: 'replace', path: '/metadata/name', value: `${vmName}-2` }],
    JSONPATCH,
    badRequest('metadata.name'),
  );
  // creationTimestamp, generation and deletionTimestamp are the server's: Kubernetes keeps its own values and ignores the client's (no error, no write).
  for (const [m, what] of [
    [{ creationTimestamp: '2001-01-01T00:00:00Z' }, 'creationTimestamp'],
    [{ generation: 999 }, 'generation'],
    [{ deletionTimestamp: '2001-01-01T00:00:00Z' }, 'deletionTimestamp'],
  ] as const) {
    add('immutable fields', `update metadata.${what} (kept, as Kubernetes does)`, 'PUT', VM, withMeta(cur, m), JSON_CT, unchanged(sameAsSeeded));
    add('immutable fields', `merge patch metadata.${what} (kept, as Kubernetes does)`, 'PATCH', VM, { metadata: m }, MERGE, unchanged(sameAsSeeded));
  }
  for (const [f, v] of [
    ['priority', 999],
    ['priority', 0],
    ['priorityClassName', 'other-class'],
    ['priorityClassName', ''],
    ['preemptionPolicy', cur.spec.preemptionPolicy === 'Never' ? 'PreemptLowerPriority' : 'Never'],
  ] as const) {
    add('immutable fields', `update spec.${f}=${j(v)}`, 'PUT', VM, withSpec(cur, { [f]: v }), JSON_CT, invalid(`spec.${f}`));
    add('immutable fields', `merge patch spec.${f}=${j(v)}`, 'PATCH', VM, { spec: { [f]: v } }, MERGE, invalid(`spec.${f}`));
    add('immutable fields', `JSON patch spec.${f}=${j(v)}`, 'PATCH', VM, [{ op: 'replace', path: `/spec/${f}`, value: v }], JSONPATCH, invalid(`spec.${f}`));
  }
  // Leaving the priority fields out keeps them (so an old manifest still applies): no error, no write.
  add(
    'immutable fields',
    'merge patch spec.priority=null (removal: kept)',
    'PATCH',
    VM,
    { spec: { priority: null, priorityClassName: null } },
    MERGE,
    unchanged(sameAsSeeded),
  );
  for (const v of [0, 1, 999, 1000]) {
    if (v === pc.spec.value) continue;
    add('immutable fields', `PriorityClass update spec.value=${v}`, 'PUT', PC, withSpec(pc, { value: v }), JSON_CT, invalid('spec.value'));
    add('immutable fields', `PriorityClass merge patch spec.value=${v}`, 'PATCH', PC, { spec: { value: v } }, MERGE, invalid('spec.value'));
  }
  add('immutable fields', 'PriorityClass JSON patch remove spec.value', 'PATCH', PC, [{ op: 'remove', path: '/spec/value' }], JSONPATCH, invalid('spec.value'));

  // ── resourceVersions: stale and bogus ───────────────────────────────────────────────────────
  const stale = ['1', String(Number(rv) - 1), '99999999999999999999', String(Number(rv) + 1)];
  const bogus = ['abc', '-1', '1e3', '0x10', ' 5', '5 ', '1.5', '+5', '٣', '\u0000', '{"$gt":0}', "1' OR '1'='1"];
  for (const v of stale) {
    add('resourceVersions', `update with stale ${v}`, 'PUT', VM, withMeta(cur, { resourceVersion: v }), JSON_CT, conflict);
    add('resourceVersions', `merge patch with stale ${v}`, 'PATCH', VM, { metadata: { resourceVersion: v, labels: { stale: 'yes' } } }, MERGE, conflict);
    add(
      'resourceVersions',
      `JSON patch with stale ${v}`,
      'PATCH',
      VM,
      [
        { op: 'replace', path: '/metadata/resourceVersion', value: v },
        { op: 'add', path: '/metadata/labels', value: { stale: 'yes' } },
      ],
      JSONPATCH,
      conflict,
    );
    add('resourceVersions', `delete precondition stale ${v}`, 'DELETE', VM, { preconditions: { resourceVersion: v } }, JSON_CT, conflict);
    add('resourceVersions', `status update with stale ${v}`, 'PUT', `${VM}/status`, withMeta(cur, { resourceVersion: v }), JSON_CT, conflict);
  }
  for (const v of bogus) {
    add('resourceVersions', `update with bogus ${j(v)}`, 'PUT', VM, withMeta(cur, { resourceVersion: v }), JSON_CT, invalid('metadata.resourceVersion'));
    add(
      'resourceVersions',
      `merge patch with bogus ${j(v)}`,
      'PATCH',
      VM,
      { metadata: { resourceVersion: v, labels: { bogus: 'yes' } } },
      MERGE,
      invalid('metadata.resourceVersion'),
    );
    add(
      'resourceVersions',
      `delete precondition bogus ${j(v)}`,
      'DELETE',
      VM,
      { preconditions: { resourceVersion: v } },
      JSON_CT,
      invalid('preconditions.resourceVersion'),
    );
    const q = encodeURIComponent(v);
    add('resourceVersions', `list resourceVersion=${j(v)}`, 'GET', `${VMS}?resourceVersion=${q}`, undefined, undefined, badRequest('resourceVersion'));
    add(
      'resourceVersions',
      `paged list resourceVersion=${j(v)}`,
      'GET',
      `${VMS}?limit=1&resourceVersion=${q}`,
      undefined,
      undefined,
      badRequest('resourceVersion'),
    );
    add(
      'resourceVersions',
      `watch resourceVersion=${j(v)}`,
      'GET',
      `${VMS}?watch=1&timeoutSeconds=1&resourceVersion=${q}`,
      undefined,
      undefined,
      badRequest('resourceVersion'),
    );
  }
  for (const v of ['99999999999999999999', '18446744073709551616', String(2 ** 63), '9'.repeat(400)]) {
    add(
      'resourceVersions',
      `list resourceVersion=${v.slice(0, 24)} (not a revision)`,
      'GET',
      `${VMS}?resourceVersion=${v}`,
      undefined,
      undefined,
      badRequest('resourceVersion'),
    );
    add(
      'resourceVersions',
      `watch resourceVersion=${v.slice(0, 24)} (not a revision)`,
      'GET',
      `${VMS}?watch=1&timeoutSeconds=1&resourceVersion=${v}`,
      undefined,
      undefined,
      badRequest('resourceVersion'),
    );
  }
  // A revision the store has not reached: Kubernetes waits briefly, then answers 504 "Too large resource version" with Retry-After.
  const future = String(Number(rv) + 1_000_000_000);
  add('resourceVersions', 'list at a future revision', 'GET', `${VMS}?resourceVersion=${future}`, undefined, undefined, {
    code: 504,
    reason: 'Timeout',
    retryAfter: true,
  });
  add('resourceVersions', 'paged list at a future revision', 'GET', `${VMS}?limit=1&resourceVersion=${future}`, undefined, undefined, {
    code: 504,
    reason: 'Timeout',
    retryAfter: true,
  });
  for (const pre of [{ uid: 'someone-else' }, { uid: cur.metadata.uid, resourceVersion: '1' }])
    add('resourceVersions', `delete precondition ${j(pre)}`, 'DELETE', VM, { preconditions: pre }, JSON_CT, conflict);
  for (const body of [
    '"x"',
    '[]',
    '5',
    '{"preconditions":"x"}',
    '{"preconditions":[]}',
    '{"preconditions":{"uid":5}}',
    '{"preconditions":{"resourceVersion":5}}',
    '{"dryRun":5}',
    '{"dryRun":"All"}',
    '{"dryRun":["Bogus"]}',
    '{"dryRun":[null]}',
    '{"propagationPolicy":"Bogus"}',
    '{"gracePeriodSeconds":-1}',
    '{"gracePeriodSeconds":"x"}',
    '{"kind":"Pod"}',
    '{"apiVersion":5}',
  ])
    add('resourceVersions', `DeleteOptions ${body}`, 'DELETE', VM, body, JSON_CT, {
      code: /^\{"(kind|apiVersion)"|^"|^\[|^5/.test(body) ? 400 : 422,
      reason: /^\{"(kind|apiVersion)"|^"|^\[|^5/.test(body) ? 'BadRequest' : 'Invalid',
    });
  add('resourceVersions', 'DeleteOptions as YAML, bogus', 'DELETE', VM, 'preconditions: [1, 2]\n', YAML_CT, invalid('preconditions'));
  add('resourceVersions', 'delete with propagationPolicy=Bogus', 'DELETE', `${VM}?propagationPolicy=Bogus`, undefined, undefined, badRequest());
  add('resourceVersions', 'delete with gracePeriodSeconds=-5', 'DELETE', `${VM}?gracePeriodSeconds=-5`, undefined, undefined, badRequest());

  // ── selectors ────────────────────────────────────────────────────────────────────────────────
  const labelSelectors = [
    'a=b,c)',
    'a=b)',
    '(a=b)',
    'a in (b',
    'a in b)',
    'a in (b,c',
    'a notin ()',
    'a in ()',
    'a=b=c',
    'a==b==c',
    '!',
    '!!a',
    '!a=b',
    '=b',
    '==b',
    '!=b',
    'a=b;c=d',
    'a=b||1',
    "a=b' OR '1'='1",
    'a=$(rm -rf /)',
    'a=`id`',
    'a=b\u0000c',
    'a=\u202eb',
    'a=\u{1F600}',
    'a b',
    'a=b c',
    'a in (b) c',
    `${'k'.repeat(64)}=v`,
    `k=${'v'.repeat(64)}`,
    `a=${'x'.repeat(5000)}`,
    'UPPER/a=b',
    '-a=b',
    'a/b/c=d',
    'a>1',
    'a<1',
    'a gt (1)',
    'a in ((b))',
    'metadata.name=x||1',
  ];
  const fieldSelectors = [
    'a=b,c)',
    'spec.bogus=x',
    'metadata.uid=x',
    'metadata.labels.a=b',
    'metadata.name',
    'metadata.name in (x)',
    '=x',
    '!=x',
    'metadata.name==x=y',
    'metadata.name=x!y',
    `metadata.name=${vmName}' OR '1'='1`,
    'metadata.name=x,spec',
    'metadata.name>x',
    'meta data.name=x',
    `metadata.name=${'x'.repeat(5000)}`,
    'METADATA.NAME=x',
    'metadata..name=x',
    '.metadata.name=x',
  ];
  for (const sel of labelSelectors) {
    const q = encodeURIComponent(sel);
    add('selectors', `list labelSelector=${j(sel).slice(0, 30)}`, 'GET', `${VMS}?labelSelector=${q}`, undefined, undefined, badRequest('labelSelector'));
    add(
      'selectors',
      `list all namespaces labelSelector=${j(sel).slice(0, 30)}`,
      'GET',
      `${G}/virtualmachines?labelSelector=${q}`,
      undefined,
      undefined,
      badRequest('labelSelector'),
    );
    add(
      'selectors',
      `watch labelSelector=${j(sel).slice(0, 30)}`,
      'GET',
      `${VMS}?watch=1&timeoutSeconds=1&labelSelector=${q}`,
      undefined,
      undefined,
      badRequest('labelSelector'),
    );
    add(
      'selectors',
      `deletecollection labelSelector=${j(sel).slice(0, 30)}`,
      'DELETE',
      `${VMS}?labelSelector=${q}`,
      undefined,
      undefined,
      badRequest('labelSelector'),
    );
  }
  for (const sel of fieldSelectors) {
    const q = encodeURIComponent(sel);
    add('selectors', `list fieldSelector=${j(sel).slice(0, 30)}`, 'GET', `${VMS}?fieldSelector=${q}`, undefined, undefined, badRequest('fieldSelector'));
    add(
      'selectors',
      `watch fieldSelector=${j(sel).slice(0, 30)}`,
      'GET',
      `${VMS}?watch=1&timeoutSeconds=1&fieldSelector=${q}`,
      undefined,
      undefined,
      badRequest('fieldSelector'),
    );
    add(
      'selectors',
      `deletecollection fieldSelector=${j(sel).slice(0, 30)}`,
      'DELETE',
      `${VMS}?fieldSelector=${q}`,
      undefined,
      undefined,
      badRequest('fieldSelector'),
    );
  }
  // A field selector's value is a literal, never an expression: these select nothing (Kubernetes answers the same).
  const selectsNothing = unchanged((b) =>
    b?.kind !== 'VirtualMachineList' ? `kind ${b?.kind}` : b.items.length ? `selected ${b.items.length} objects` : undefined,
  );
  for (const sel of [`metadata.name=${vmName}||1`, 'metadata.name=*', `metadata.name=${vmName}%`, 'status.phase=Running||1', `metadata.name=${vmName}\u0000`])
    add(
      'selectors',
      `literal fieldSelector=${j(sel).slice(0, 30)}`,
      'GET',
      `${VMS}?fieldSelector=${encodeURIComponent(sel)}`,
      undefined,
      undefined,
      selectsNothing,
    );
  add('selectors', 'labelSelector given twice', 'GET', `${VMS}?labelSelector=a&labelSelector=b`, undefined, undefined, badRequest());

  // ── patches ──────────────────────────────────────────────────────────────────────────────────
  const jsonPatches: [unknown, Expectation][] = [
    [[{ op: 'bogus', path: '/spec' }], badRequest()],
    [[{ op: 'replace' }], badRequest()],
    [[{ op: 'replace', path: 'spec' }], badRequest()],
    [[{ op: 'replace', path: '/spec/resources/vcpus' }], badRequest()],
    [[{ op: 'add', path: '/spec/nope/deeper', value: 1 }], badRequest()],
    [[{ op: 'remove', path: '/spec/nope' }], badRequest()],
    [[{ op: 'move', from: '/spec/nope', path: '/spec/x' }], badRequest()],
    [[{ op: 'copy', from: '/nope', path: '/spec/x' }], badRequest()],
    [[{ op: 'test', path: '/spec/resources/vcpus', value: 'not this' }], badRequest()],
    [[{ op: 'replace', path: '/spec/command/999', value: 'x' }], badRequest()],
    [[{ op: 'add', path: '/__proto__/polluted', value: true }], badRequest()],
    [[{ op: 'add', path: '/constructor/prototype/polluted', value: true }], badRequest()],
    [[{ op: 'add', path: '/spec/__proto__', value: { polluted: true } }], badRequest()],
    [[{ op: 'replace', path: '/spec/resources/vcpus', value: 'four' }], invalid('spec.resources.vcpus')],
    [[{ op: 'replace', path: '/kind', value: 'Node' }], badRequest('kind')],
    [[{ op: 'replace', path: '/apiVersion', value: 'v1' }], badRequest('apiVersion')],
    [[{ op: 'replace', path: '/spec/resources', value: { vcpus: 0 } }], invalid('spec.resources.vcpus')],
    [[{ op: 'replace', path: '', value: [] }], badRequest()],
    [[{ op: 'replace', path: '', value: 'x' }], badRequest()],
    [[{ op: 'replace', path: '/metadata', value: 'x' }], invalid('metadata')],
    [[1, 2, 3], badRequest()],
    [[null], badRequest()],
    [['replace'], badRequest()],
    [[{ op: 'replace', path: '/spec/resources/vcpus', value: 2 }, { op: 'bogus' }], badRequest()],
    [{ op: 'replace', path: '/spec/resources/vcpus', value: 2 }, badRequest()],
    ['"a string"', badRequest()],
    [5, badRequest()],
  ];
  for (const [p, expect] of jsonPatches) add('patches', `JSON patch ${j(p).slice(0, 50)}`, 'PATCH', VM, typeof p === 'string' ? p : p, JSONPATCH, expect);
  for (const p of ['[]', '[1]', '"x"', '5', 'null', 'true', '[{"op":"replace","path":"/spec","value":{}}]'])
    add('patches', `merge patch that is not an object: ${p.slice(0, 30)}`, 'PATCH', VM, p, MERGE, badRequest());
  add('patches', 'strategic merge patch that is not an object', 'PATCH', VM, '[1]', { 'content-type': 'application/strategic-merge-patch+json' }, badRequest());
  add(
    'patches',
    'merge patch spec.resources=null with a bad runStrategy',
    'PATCH',
    VM,
    { spec: { resources: null, runStrategy: 'Sometimes' } },
    MERGE,
    invalid('spec.runStrategy'),
  );
  add('patches', 'merge patch metadata=null', 'PATCH', VM, { metadata: null, spec: { resources: { vcpus: 'x' } } }, MERGE, invalid('spec.resources.vcpus'));
  add(
    'patches',
    'merge patch on status subresource with a bad phase',
    'PATCH',
    `${VM}/status`,
    { status: { phase: 'Exploded' } },
    MERGE,
    invalid('status.phase'),
  );
  add('patches', 'patch of a missing object', 'PATCH', `${VMS}/does-not-exist`, { metadata: { labels: { a: 'b' } } }, MERGE, notFound());
  // PatchOptions are checked before the body, as in Kubernetes: force belongs to apply alone.
  add('patches', 'patch with force=true and no apply', 'PATCH', `${VM}?force=true`, '[1]', MERGE, invalid('force'));

  // ── methods ──────────────────────────────────────────────────────────────────────────────────
  const notAllowed = bad(405, 'MethodNotAllowed');
  add('methods', 'PUT on a collection', 'PUT', VMS, newVm(fresh()), JSON_CT, notAllowed);
  add('methods', 'PATCH on a collection', 'PATCH', VMS, { metadata: {} }, MERGE, notAllowed);
  add('methods', 'POST on an item', 'POST', VM, newVm(vmName), JSON_CT, notAllowed);
  add('methods', 'POST on status', 'POST', `${VM}/status`, newVm(vmName), JSON_CT, notAllowed);
  add('methods', 'DELETE on status', 'DELETE', `${VM}/status`, undefined, undefined, notAllowed);
  add('methods', 'PUT on a cluster-scoped collection', 'PUT', `${G}/nodes`, {}, JSON_CT, notAllowed);
  add('methods', 'POST on /version', 'POST', '/version', {}, JSON_CT, notAllowed);
  add('methods', 'DELETE on /apis', 'DELETE', '/apis', undefined, undefined, notAllowed);
  add('methods', 'POST on /healthz', 'POST', '/healthz', {}, JSON_CT, notAllowed);
  add('methods', 'DELETE on /metrics', 'DELETE', '/metrics', undefined, undefined, notAllowed);
  add('methods', 'POST on all-namespaces list', 'POST', `${G}/virtualmachines`, newVm(fresh()), JSON_CT, notAllowed);
  add('methods', 'DELETE on all-namespaces list', 'DELETE', `${G}/virtualmachines`, undefined, undefined, notAllowed);
  for (const m of ['TRACE', 'PROPFIND', 'FOO']) add('methods', `${m} on an item`, m, VM, undefined, undefined, { code: 0 });

  // ── unknown resources, groups, versions ─────────────────────────────────────────────────────
  for (const p of [
    '/apis/shoal.dev/v1/virtualmachines',
    `/apis/shoal.dev/v1beta1/namespaces/${ns}/virtualmachines`,
    '/apis/shoal.dev/v1alpha1/widgets',
    `/apis/shoal.dev/v1alpha1/namespaces/${ns}/widgets`,
    `/apis/shoal.dev/v1alpha1/namespaces/${ns}/nodes`,
    '/apis/bogus.io/v1alpha1/virtualmachines',
    '/apis/shoal.dev.evil.com/v1alpha1/virtualmachines',
    '/api/v1/pods',
    `/api/v1/namespaces/${ns}/pods`,
    '/apis/apps/v1/deployments',
    '/apis/shoal.dev/v1alpha1/VirtualMachines',
    '/apis/shoal.dev/v1alpha1/vm',
    `${VM}/scale`,
    `${VM}/exec`,
    `${VM}/status/extra`,
    `${VM}/`,
    '/apis//v1alpha1/virtualmachines',
    '/apis/shoal.dev/../shoal.dev/v1alpha1/virtualmachines',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/apis/shoal.dev/v1alpha1/virtualmachines%00',
  ]) {
    add('unknown resources', `GET ${p}`, 'GET', p, undefined, undefined, notFound());
    add('unknown resources', `POST ${p}`, 'POST', p, newVm(fresh()), JSON_CT, notFound());
    add('unknown resources', `DELETE ${p}`, 'DELETE', p, undefined, undefined, notFound());
  }

  // ── paging ───────────────────────────────────────────────────────────────────────────────────
  for (const l of ['-1', 'abc', '1e30', '100001', '1.5', '99999999999999999999', '0x10', '[]', '1,2'])
    add('paging', `limit=${l}`, 'GET', `${VMS}?limit=${encodeURIComponent(l)}`, undefined, undefined, badRequest());
  const prefixOf = `/registry/shoal.dev/virtualmachines/${ns}/`;
  const token = (o: unknown) => Buffer.from(j(o)).toString('base64url');
  for (const t of [
    'garbage',
    '%%%',
    'eyJ2IjoxfQ',
    token({ v: 2, rv: 5, start: prefixOf }),
    token({ v: 1, rv: -5, start: prefixOf }),
    token({ v: 1, rv: 'abc', start: prefixOf }),
    token({ v: 1, rv: 5, start: '/registry/shoal.dev/nodes/' }),
    token({ v: 1, rv: 5, start: '/' }),
    token({ v: 1, rv: 5, start: `/registry/shoal.dev/virtualmachines/${s.otherNamespace}/x` }),
    token({ v: 1, rv: 5 }),
    token([1, 2]),
    token('x'),
    'x'.repeat(10_000),
  ])
    add('paging', `continue=${t.slice(0, 24)}`, 'GET', `${VMS}?limit=1&continue=${encodeURIComponent(t)}`, undefined, undefined, badRequest('continue'));
  add(
    'paging',
    'continue from the future',
    'GET',
    `${VMS}?limit=1&continue=${token({ v: 1, rv: Number(rv) + 1_000_000_000, start: prefixOf })}`,
    undefined,
    undefined,
    { code: 504, reason: 'Timeout', retryAfter: true },
  );
  add(
    'paging',
    'continue with a revision beyond int64',
    'GET',
    `${VMS}?limit=1&continue=${token({ v: 1, rv: 1e30, start: prefixOf })}`,
    undefined,
    undefined,
    badRequest('continue'),
  );

  // ── watch parameters ────────────────────────────────────────────────────────────────────────
  for (const q of [
    'timeoutSeconds=-5',
    'timeoutSeconds=abc',
    'timeoutSeconds=1e30',
    'timeoutSeconds=86401',
    'includeObject=Bogus',
    'limit=abc',
    'resourceVersion=abc',
    'resourceVersion=-1',
    'resourceVersion=1.5',
  ])
    add(
      'watch parameters',
      `watch with ${q}`,
      'GET',
      `${VMS}?watch=1&${q}${q.startsWith('timeoutSeconds') ? '' : '&timeoutSeconds=1'}`,
      undefined,
      undefined,
      badRequest(),
    );
  add(
    'watch parameters',
    'watch with timeoutSeconds given twice',
    'GET',
    `${VMS}?watch=1&timeoutSeconds=1&timeoutSeconds=2`,
    undefined,
    undefined,
    badRequest(),
  );
  add('watch parameters', 'watch of an unknown resource', 'GET', `${G}/widgets?watch=1`, undefined, undefined, notFound());
  add(
    'watch parameters',
    'watch in a bad namespace',
    'GET',
    `${G}/namespaces/%2e%2e/virtualmachines?watch=1&timeoutSeconds=1`,
    undefined,
    undefined,
    badRequest(),
  );

  return cases;
}
