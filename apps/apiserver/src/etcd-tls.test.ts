/**
 * TLS to etcd: a real etcd serving clients only over https and only to clients with a certificate
 * its CA signed (--client-cert-auth), and the real apiserver with --etcd-cafile, --etcd-certfile
 * and --etcd-keyfile. With the right certificate create, get and watch work; without one, with
 * one from another CA, or trusting another CA, the apiserver never becomes ready and exits
 * saying that etcd did not answer, and why.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import {
  freePort,
  http,
  makeClientCertificate,
  makeServerCertificates,
  openWatch,
  startApiserver,
  startEtcd,
  startProcess,
  waitFor,
  type ApiserverProcess,
  type EtcdMember,
  type TestCertificates,
  type TestClientCertificate,
} from '@shoal/testing';

const V = '/apis/shoal.dev/v1alpha1';
let certs: TestCertificates;
let client: TestClientCertificate;
let etcd: EtcdMember;
let server: ApiserverProcess | undefined;

before(async () => {
  certs = await makeServerCertificates();
  client = await makeClientCertificate(certs, 'shoal-apiserver-etcd-client');
  etcd = await startEtcd({ tls: { certFile: certs.certFile, keyFile: certs.keyFile, caFile: certs.caFile, clientCertAuth: true, client } });
});

after(async () => {
  await server?.stop();
  await etcd?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

/** A request to etcd's HTTP endpoints with Node's TLS stack: status and body, or the error that stopped it. */
async function etcdHttps(path: string, opts: { cert?: Buffer; key?: Buffer; body?: unknown } = {}): Promise<{ status: number; body: string } | string> {
  const ca = await readFile(certs.caFile);
  return new Promise((resolve) => {
    const req = httpsRequest(`${etcd.endpoint}${path}`, { ca, cert: opts.cert, key: opts.key, method: opts.body ? 'POST' : 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (err) => resolve(err.message));
    req.end(opts.body ? JSON.stringify(opts.body) : undefined);
  });
}
const withClientCert = async () => ({ cert: await readFile(client.certFile), key: await readFile(client.keyFile) });

/** Starts the apiserver with these etcd flags and expects it to exit before it is ready; returns its output. */
async function failsToStart(etcdFlags: string[]): Promise<string> {
  const started = Date.now();
  const err = await startProcess(
    'shoal-apiserver',
    ['--etcd-servers', etcd.endpoint, '--port', String(await freePort()), '--etcd-startup-timeout', '2', ...etcdFlags],
    { ready: /listening on/, timeoutMs: 30_000 },
  ).then(
    async (p) => {
      await p.stop();
      return undefined;
    },
    (e: Error) => e,
  );
  assert.ok(err, 'the apiserver became ready without a usable etcd connection');
  assert.match(err.message, /exited \(1\) before it was ready/, err.message);
  assert.ok(Date.now() - started < 25_000, `took ${Date.now() - started} ms to give up with --etcd-startup-timeout 2`);
  return err.message;
}

test('etcd itself serves only https, and only to clients with a certificate its CA signed', async () => {
  assert.match(etcd.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
  const healthy = await etcdHttps('/health', await withClientCert());
  assert.equal(typeof healthy === 'object' && healthy.status, 200, JSON.stringify(healthy));
  const without = await etcdHttps('/health');
  assert.equal(typeof without, 'string', `etcd answered a client without a certificate: ${JSON.stringify(without)}`);
  const plain = await fetch(etcd.endpoint.replace('https:', 'http:') + '/health').then(
    (r) => r.status,
    () => 'refused',
  );
  assert.notEqual(plain, 200, 'etcd answered plain http');
});

test('with --etcd-cafile, --etcd-certfile and --etcd-keyfile the apiserver creates, gets and watches through TLS', async () => {
  server = await startApiserver({
    etcd: etcd.endpoint,
    port: await freePort(),
    args: ['--etcd-cafile', certs.caFile, '--etcd-certfile', client.certFile, '--etcd-keyfile', client.keyFile, '--etcd-startup-timeout', '10'],
  });
  const watch = await openWatch(server.url, `${V}/namespaces/default/virtualmachines?watch=1`);
  try {
    const vm = { metadata: { name: 'over-tls' }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 64 } } };
    const made = await http(server.url, 'POST', `${V}/namespaces/default/virtualmachines`, vm);
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const got = await http(server.url, 'GET', `${V}/namespaces/default/virtualmachines/over-tls`);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.equal(got.body.metadata.uid, made.body.metadata.uid);
    const added = await waitFor(() => watch.events.find((e) => e.type === 'ADDED' && e.object.metadata.name === 'over-tls'), {
      message: 'the watch to see the VM',
    });
    assert.equal(added.object.metadata.resourceVersion, made.body.metadata.resourceVersion);
  } finally {
    watch.close();
    await watch.ended;
  }
  // The object really is in that etcd: read back through etcd's JSON gateway with the same client certificate.
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const range = await etcdHttps('/v3/kv/range', {
    ...(await withClientCert()),
    body: { key: b64('/registry/'), range_end: b64('/registry0'), keys_only: true },
  });
  assert.ok(typeof range === 'object' && range.status === 200, JSON.stringify(range));
  const keys = ((JSON.parse(range.body) as { kvs?: { key: string }[] }).kvs ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString());
  assert.ok(
    keys.some((k) => k.includes('over-tls')),
    keys.join('\n'),
  );
  await server.stop();
  server = undefined;
});

test('without a client certificate the apiserver does not become ready and says etcd did not answer: bad certificate', async () => {
  const out = await failsToStart(['--etcd-cafile', certs.caFile]);
  assert.match(out, new RegExp(`shoal-apiserver: etcd at ${etcd.endpoint.replace(/[.]/g, '\\.')} did not answer within 2 s: .*bad certificate`), out);
});

test('with a client certificate from another CA the apiserver does not become ready and says etcd did not answer', async () => {
  const stranger = await makeClientCertificate(certs, 'stranger', { untrusted: true });
  const out = await failsToStart(['--etcd-cafile', certs.caFile, '--etcd-certfile', stranger.certFile, '--etcd-keyfile', stranger.keyFile]);
  // etcd refuses the handshake: TLS alert 42, bad_certificate.
  assert.match(out, /etcd at \S+ did not answer within 2 s: .*bad certificate/, out);
});

test("trusting another CA than the one that signed etcd's certificate, the apiserver does not become ready", async () => {
  const stranger = await makeClientCertificate(certs, 'stranger-ca', { untrusted: true });
  const out = await failsToStart(['--etcd-cafile', stranger.caFile, '--etcd-certfile', client.certFile, '--etcd-keyfile', client.keyFile]);
  // This time the apiserver refuses etcd's certificate.
  assert.match(out, /etcd at \S+ did not answer within 2 s: .*unable to verify the first certificate/, out);
});

test('--etcd-certfile and --etcd-keyfile without --etcd-cafile: etcd is verified by the default trust store, and the client certificate is still presented', async () => {
  // The test CA stands in for the default trust store (grpc's own override of it, as NODE_EXTRA_CA_CERTS is not what grpc-js reads).
  const p = await startProcess(
    'shoal-apiserver',
    [
      '--etcd-servers',
      etcd.endpoint,
      '--port',
      String(await freePort()),
      '--etcd-startup-timeout',
      '5',
      '--etcd-certfile',
      client.certFile,
      '--etcd-keyfile',
      client.keyFile,
    ],
    { ready: /listening on/, timeoutMs: 30_000, env: { GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: certs.caFile } },
  );
  try {
    const url = p.readyLine.match(/(http:\/\/\S+)/)![1]!;
    const r = await http(url, 'GET', `${V}/namespaces/default/virtualmachines/over-tls`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  } finally {
    await p.stop();
  }
});

test('flags that cannot work are refused at once: a client certificate without its key, TLS files with an http:// etcd URL', async () => {
  const refused = async (args: string[]) => {
    const err = await startProcess('shoal-apiserver', ['--port', String(await freePort()), ...args], { ready: /listening on/ }).then(
      async (p) => (await p.stop(), undefined),
      (e: Error) => e,
    );
    assert.ok(err, `started with ${args.join(' ')}`);
    assert.match(err.message, /exited \(2\) before it was ready/, err.message);
    return err.message;
  };
  const plain = etcd.endpoint.replace('https:', 'http:');
  // Each an apiserver that exits at once: all started together.
  const [noKey, noCert, httpEtcd] = await Promise.all([
    refused(['--etcd-servers', etcd.endpoint, '--etcd-cafile', certs.caFile, '--etcd-certfile', client.certFile]),
    refused(['--etcd-servers', etcd.endpoint, '--etcd-keyfile', client.keyFile]),
    refused(['--etcd-servers', plain, '--etcd-cafile', certs.caFile, '--etcd-certfile', client.certFile, '--etcd-keyfile', client.keyFile]),
  ]);
  assert.match(noKey, /--etcd-certfile and --etcd-keyfile go together/);
  assert.match(noCert, /--etcd-certfile and --etcd-keyfile go together/);
  assert.match(httpEtcd, new RegExp(`--etcd-cafile, --etcd-certfile and --etcd-keyfile need https:// etcd URLs, got "${plain.replace(/[.]/g, '\\.')}"`));
});
