/** A minimal QMP client: connect to a VM's monitor socket, negotiate, run one command. */
import { createConnection } from 'node:net';

export async function qmpCommand(socketPath: string, execute: string, args?: object, timeoutMs = 5_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buffer = '';
    let stage: 'greeting' | 'capabilities' | 'command' = 'greeting';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`QMP ${execute} on ${socketPath}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (err: Error | undefined, value?: unknown) => {
      clearTimeout(timer);
      sock.end();
      if (err) reject(err);
      else resolve(value);
    };
    sock.on('error', (err) => finish(err));
    sock.on('data', (chunk) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
        if (msg.event) continue;
        if (stage === 'greeting' && msg.QMP) {
          stage = 'capabilities';
          sock.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if (stage === 'capabilities') {
          stage = 'command';
          sock.write(JSON.stringify({ execute, ...(args ? { arguments: args } : {}) }) + '\n');
        } else if (stage === 'command') {
          if (msg.error) finish(new Error(`QMP ${execute}: ${msg.error.desc}`));
          else finish(undefined, msg.return);
        }
      }
    });
  });
}
