/** The client over HTTPS, through undici and through node:http: trusting a CA file, refusing an unknown CA, and the explicit opt-out. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { makeServerCertificates, startCluster, type TestCertificates, type TestCluster } from '@shoal/testing';
import { ShoalClient } from './client.js';
import type { HttpImplementation } from './http-sender.js';

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
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

async function namespaces(client: ShoalClient): Promise<string[]> {
  try {
    return (await client.list('ns')).items.map((n) => n.metadata.name!);
  } finally {
    await client.close();
  }
}

for (const http of ['undici', 'node'] as HttpImplementation[]) {
  test(`${http}: a client given the CA file (or its PEM) verifies the server`, async () => {
    assert.ok((await namespaces(new ShoalClient({ http, server: url, caFile: certs.caFile }))).includes('default'));
    assert.ok((await namespaces(new ShoalClient({ http, server: url, ca: await readFile(certs.caFile, 'utf8') }))).includes('default'));
  });

  test(`${http}: a server signed by an unknown CA is refused, and not retried as if it were down`, async () => {
    const started = Date.now();
    await assert.rejects(namespaces(new ShoalClient({ http, server: url })), /certificate/i);
    assert.ok(Date.now() - started < 2000, 'a certificate error is not a connection error to retry');
  });

  test(`${http}: insecureSkipTLSVerify accepts any certificate`, async () => {
    assert.ok((await namespaces(new ShoalClient({ http, server: url, insecureSkipTLSVerify: true }))).includes('default'));
  });
}
