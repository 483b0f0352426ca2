/**
 * Requests Node's HTTP parser refuses before fastify ever sees them — an unknown method such as
 * `FOO`, a malformed request line or header — still get a Kubernetes Status body, not fastify's
 * own JSON. The connection is closed afterwards: after a parse error the stream is not trusted.
 */
import type { Socket } from 'node:net';

export function answerClientError(err: NodeJS.ErrnoException & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const code = tooLarge ? 431 : 400;
  const status = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: tooLarge ? 'request headers too large' : `the request could not be parsed as HTTP: ${err.code ?? 'malformed request'}`,
    reason: tooLarge ? 'RequestHeaderFieldsTooLarge' : 'BadRequest',
    code,
  };
  const body = JSON.stringify(status);
  socket.end(
    `HTTP/1.1 ${code} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
