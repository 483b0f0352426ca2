/**
 * Real git repositories for the gitops tests: a bare repository that plays the remote, a work
 * clone that commits and pushes to it, and an HTTP server in front of such remotes that runs
 * git's own `git http-backend` behind basic authentication (a git host that wants a password).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

/** Who commits in tests: set on the command line, so no git config of the machine is needed. */
const IDENTITY = ['-c', 'user.name=Shoal Test', '-c', 'user.email=test@shoal.invalid', '-c', 'commit.gpgsign=false', '-c', 'tag.gpgsign=false'];

export interface GitRemote {
  /** The temporary directory holding both repositories. */
  dir: string;
  /** The bare repository: what a GitRepository's url points at. */
  bare: string;
  /** A clone with a work tree, where tests commit. */
  work: string;
  /** Runs git in the work clone; answers its trimmed standard output. */
  git(...args: string[]): Promise<string>;
  /** Writes the files (path → content) in the work clone, commits them all, pushes the branch; answers the commit's SHA. */
  commit(files: Record<string, string>, message: string, branch?: string): Promise<string>;
  /** Tags HEAD (annotated with a message, else lightweight) and pushes the tag; answers the commit's SHA. */
  tag(name: string, message?: string): Promise<string>;
  remove(): Promise<void>;
}

/** A bare repository whose HEAD names `branch`, and a work clone of it. */
export async function makeGitRemote(opts: { branch?: string; name?: string } = {}): Promise<GitRemote> {
  const branch = opts.branch ?? 'main';
  const dir = await mkdtemp(join(tmpdir(), 'shoal-git-'));
  const bare = join(dir, `${opts.name ?? 'remote'}.git`);
  const work = join(dir, 'work');
  await execa('git', ['init', '--quiet', '--bare', '--initial-branch', branch, bare]);
  await execa('git', ['init', '--quiet', '--initial-branch', branch, work]);
  const git = async (...args: string[]) => (await execa('git', [...IDENTITY, ...args], { cwd: work })).stdout.trim();
  await git('remote', 'add', 'origin', bare);
  return {
    dir,
    bare,
    work,
    git,
    async commit(files, message, onBranch) {
      if (onBranch) await git('checkout', '--quiet', '-B', onBranch);
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(work, path)), { recursive: true });
        await writeFile(join(work, path), content);
      }
      await git('add', '--all');
      await git('commit', '--quiet', '--allow-empty', '-m', message);
      await git('push', '--quiet', 'origin', `HEAD:refs/heads/${onBranch ?? (await git('symbolic-ref', '--short', 'HEAD'))}`);
      return git('rev-parse', 'HEAD');
    },
    async tag(name, message) {
      await git('tag', ...(message ? ['-a', '-m', message] : []), name);
      await git('push', '--quiet', 'origin', `refs/tags/${name}`);
      return git('rev-parse', 'HEAD');
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface GitHttpServer {
  /** `http://127.0.0.1:PORT`: a repository `<root>/x.git` is at `${url}/x.git`. */
  url: string;
  /** Requests that carried the right credentials, and those refused. */
  served: number;
  refused: number;
  close(): Promise<void>;
}

/**
 * Serves the bare repositories under `root` over HTTP with `git http-backend`, to clients that
 * send `username`/`password` as basic authentication (401 otherwise, as git hosts answer).
 * `beforeServing` runs for each authenticated request while the client waits for its answer:
 * a test can look at the client's processes then.
 */
export async function startGitHttpServer(opts: {
  root: string;
  username: string;
  password: string;
  beforeServing?: (req: IncomingMessage) => Promise<void>;
}): Promise<GitHttpServer> {
  const expected = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  const state = { served: 0, refused: 0 };
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.headers.authorization !== expected) {
        state.refused++;
        req.resume();
        res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end('Unauthorized\n');
        return;
      }
      state.served++;
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      await opts.beforeServing?.(req);
      const url = new URL(req.url!, 'http://x');
      const cgi = await execa('git', ['http-backend'], {
        input: Buffer.concat(chunks),
        encoding: 'buffer',
        reject: false,
        env: {
          GIT_PROJECT_ROOT: opts.root,
          GIT_HTTP_EXPORT_ALL: '1',
          PATH_INFO: decodeURIComponent(url.pathname),
          QUERY_STRING: url.search.slice(1),
          REQUEST_METHOD: req.method!,
          CONTENT_TYPE: req.headers['content-type'] ?? '',
          REMOTE_USER: opts.username,
          REMOTE_ADDR: '127.0.0.1',
          ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
          ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
        },
      });
      const out = Buffer.from(cgi.stdout as Uint8Array);
      const split = out.indexOf('\r\n\r\n') >= 0 ? { at: out.indexOf('\r\n\r\n'), len: 4 } : { at: out.indexOf('\n\n'), len: 2 };
      if (cgi.exitCode !== 0 || split.at < 0) {
        res.writeHead(500).end(Buffer.from(cgi.stderr as Uint8Array));
        return;
      }
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of out.subarray(0, split.at).toString('latin1').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const [name, value] = [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
        if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else headers[name] = value;
      }
      res.writeHead(status, headers).end(out.subarray(split.at + split.len));
    })().catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500).end(err.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get served() {
      return state.served;
    },
    get refused() {
      return state.refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
