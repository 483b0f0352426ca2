/** Both senders against one local server: bodies both ways, streams, and timeouts that read as the same connection errors. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isConnectionError, isNeverConnectedError } from './connection-errors.js';
import type { HttpImplementation, SendOptions } from './http-sender.js';
import { lazySender } from './lazy-sender.js';

let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () =>
        res
          .writeHead(201, { 'x-method': req.method, 'content-type': 'text/plain' })
          .end(`${req.headers['content-length']}:${Buffer.concat(chunks).toString()}`),
      );
    } else if (req.url === '/stream') {
      res.writeHead(200);
      res.write('one,');
      setTimeout(() => res.end('two'), 50);
    } else if (req.url === '/stall-headers') {
      setTimeout(() => res.end(), 2000);
    } else if (req.url === '/stall-body') {
      res.writeHead(200);
      res.write('start');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const get: SendOptions = { method: 'GET', headers: {}, headersTimeoutMs: 5000, bodyTimeoutMs: 0 };

for (const http of ['undici', 'node'] as HttpImplementation[]) {
  test(`${http}: sends a body and reads the answer's status, headers and text`, async () => {
    const sender = lazySender(http, { rejectUnauthorized: true });
    try {
      const res = await sender.send(`${base}/echo`, { ...get, method: 'POST', body: 'héllo' });
      assert.equal(res.statusCode, 201);
      assert.equal(res.headers['x-method'], 'POST');
      assert.equal(await res.body.text(), '6:héllo');
    } finally {
      await sender.close();
    }
  });

  test(`${http}: a streamed answer iterates as Buffers`, async () => {
    const sender = lazySender(http, { rejectUnauthorized: true });
    try {
      const res = await sender.send(`${base}/stream`, get);
      const chunks: string[] = [];
      for await (const chunk of res.body) {
        assert.ok(Buffer.isBuffer(chunk));
        chunks.push(chunk.toString());
      }
      assert.equal(chunks.join(''), 'one,two');
    } finally {
      await sender.close();
    }
  });

  test(`${http}: headers and body timeouts are connection errors, but not never-connected ones`, async () => {
    const sender = lazySender(http, { rejectUnauthorized: true });
    try {
      const headers = await sender.send(`${base}/stall-headers`, { ...get, headersTimeoutMs: 100 }).catch((err: unknown) => err);
      assert.equal((headers as { code?: string }).code, 'UND_ERR_HEADERS_TIMEOUT');
      assert.equal((headers as Error).message, 'Headers Timeout Error', 'people read the same message from either');
      assert.ok(isConnectionError(headers) && !isNeverConnectedError(headers));
      const res = await sender.send(`${base}/stall-body`, { ...get, bodyTimeoutMs: 100 });
      const body = await res.body.text().catch((err: unknown) => err);
      assert.equal((body as { code?: string }).code, 'UND_ERR_BODY_TIMEOUT');
      assert.equal((body as Error).message, 'Body Timeout Error');
      assert.ok(isConnectionError(body));
    } finally {
      await sender.close();
    }
  });

  test(`${http}: a refused connection is a never-connected error`, async () => {
    const sender = lazySender(http, { rejectUnauthorized: true });
    try {
      const err = await sender.send('http://127.0.0.1:1/', get).catch((e: unknown) => e);
      assert.ok(isNeverConnectedError(err));
      assert.match((err as Error).message, /ECONNREFUSED/);
    } finally {
      await sender.close();
    }
  });
}
