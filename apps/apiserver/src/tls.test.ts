/** The apiserver over HTTPS: verified by its CA with stock kubectl and with Node's TLS stack. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { makeServerCertificates, startCluster, type TestCertificates, type TestCluster } from '@shoal/testing';

let cluster: TestCluster;
let certs: TestCertificates;
let url: string;

before(async () => {
  certs = await makeServerCertificates();
  cluster = await startCluster({
    apiserverArgs: ['--tls-cert-file', certs.certFile, '--tls-private-key-file', certs.keyFile],
    client: { caFile: certs.caFile },
  });
  url = cluster.url;
});
after(async () => {
  await cluster?.stop();
});

test('the ready line names the https address', () => {
  assert.match(cluster.apiserver.readyLine, /listening on https:\/\/127\.0\.0\.1:\d+/);
});

test('a client that trusts the CA gets answers; one that does not is refused', async () => {
  const trusting = new Agent({ connect: { ca: await readFile(certs.caFile) } });
  const res = await request(`${url}/apis/shoal.dev/v1alpha1/namespaces`, { dispatcher: trusting });
  assert.equal(res.statusCode, 200);
  assert.equal(((await res.body.json()) as { kind: string }).kind, 'NamespaceList');
  await assert.rejects(request(`${url}/version`, { dispatcher: new Agent() }), /certificate/i);
});

test('stock kubectl works through a kubeconfig with the CA', async () => {
  const kubeconfig = join(certs.dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: shoal, cluster: {server: "${url}", certificate-authority: "${certs.caFile}"}}]
users: [{name: me, user: {token: not-checked-yet}}]
contexts: [{name: shoal, context: {cluster: shoal, user: me}}]
current-context: shoal
`,
  );
  const out = await execa('kubectl', ['get', 'namespaces', '-o', 'name'], { env: { KUBECONFIG: kubeconfig } });
  assert.deepEqual(out.stdout.split('\n').sort(), ['namespace.shoal.dev/default', 'namespace.shoal.dev/shoal-node-lease', 'namespace.shoal.dev/shoal-system']);
});
