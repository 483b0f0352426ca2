/**
 * A GitRepository's credentials: read from the Secret its spec.secretRef names, and handed to git
 * for one operation only, in files of a private directory that is removed when the operation
 * ends. They never go into a URL, a command line, an environment variable or a log line:
 *
 *   https   username and password (a token works as the password; username defaults to `git`):
 *           GIT_ASKPASS names a small script that prints them from those files when git asks,
 *           which git does only when the server answers 401
 *   ssh     identity (a private key) and known_hosts: GIT_SSH_COMMAND runs ssh with that key
 *           only, and with only those host keys trusted; without known_hosts, the host keys
 *           ssh already trusts on this machine. Never a host key accepted unseen.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError, type GitRepository, type Secret } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { CredentialsError } from './git-errors.js';

export interface GitCredentials {
  username?: string;
  password?: string;
  /** An SSH private key (OpenSSH or PEM). */
  identity?: string;
  /** Lines of an OpenSSH known_hosts file: the host keys to trust. */
  knownHosts?: string;
}

/** The Secret keys each credential is read from. */
const KEYS = { username: 'username', password: 'password', identity: 'identity', knownHosts: 'known_hosts' } as const;

/** Reads the Secret of spec.secretRef; undefined when the repository names none. */
export async function credentialsFor(client: ShoalClient, repo: GitRepository): Promise<GitCredentials | undefined> {
  const ref = repo.spec.secretRef;
  if (!ref) return undefined;
  const namespace = repo.metadata.namespace!;
  let secret: Secret;
  try {
    secret = await client.get<Secret>('secret', ref.name, { namespace });
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) throw new CredentialsError(`spec.secretRef: Secret ${namespace}/${ref.name} not found`);
    if (err instanceof ApiError && err.code === 403)
      throw new CredentialsError(`spec.secretRef: Secret ${namespace}/${ref.name} cannot be read: ${err.message}`);
    throw err;
  }
  const credentials = readCredentials(secret.data ?? {});
  if (!credentials.password && !credentials.identity)
    throw new CredentialsError(
      `spec.secretRef: Secret ${namespace}/${ref.name} has neither "${KEYS.password}" (https, with "${KEYS.username}") nor "${KEYS.identity}" (ssh)`,
    );
  return credentials;
}

/** The credentials in a Secret's data (base64 values); keys that are absent or empty are left out. */
export function readCredentials(data: Record<string, string>): GitCredentials {
  const out: GitCredentials = {};
  for (const [field, key] of Object.entries(KEYS) as [keyof GitCredentials, string][]) {
    const value = data[key] === undefined ? '' : Buffer.from(data[key]!, 'base64').toString('utf8');
    if (value !== '') out[field] = value;
  }
  return out;
}

/** What git runs with for one operation: its environment, and the values to keep out of messages. */
export interface GitAuth {
  env: Record<string, string>;
  secrets: string[];
}

/**
 * Runs `fn` with the environment that gives git these credentials, in files under `dir`
 * (made private, and removed afterwards whatever happens).
 */
export async function withCredentials<T>(dir: string, credentials: GitCredentials | undefined, fn: (auth: GitAuth) => Promise<T>): Promise<T> {
  if (!credentials) return fn({ env: {}, secrets: [] });
  const secrets = [credentials.password, credentials.identity].filter((s): s is string => !!s);
  const scratch = join(dir, randomBytes(8).toString('hex'));
  await mkdir(scratch, { recursive: true, mode: 0o700 });
  try {
    const env: Record<string, string> = {};
    if (credentials.password !== undefined) {
      await writeFile(join(scratch, 'username'), credentials.username ?? 'git', { mode: 0o600 });
      await writeFile(join(scratch, 'password'), credentials.password, { mode: 0o600 });
      const script = join(scratch, 'askpass');
      await writeFile(script, askpassScript(scratch), { mode: 0o700 });
      env.GIT_ASKPASS = script;
    }
    if (credentials.identity !== undefined) {
      const key = join(scratch, 'identity');
      // ssh refuses a key file that does not end with a newline, or that others may read.
      await writeFile(key, credentials.identity.endsWith('\n') ? credentials.identity : `${credentials.identity}\n`, { mode: 0o600 });
      let knownHosts: string | undefined;
      if (credentials.knownHosts !== undefined) {
        knownHosts = join(scratch, 'known_hosts');
        await writeFile(knownHosts, credentials.knownHosts, { mode: 0o600 });
      }
      env.GIT_SSH_COMMAND = sshCommand(key, knownHosts);
      env.GIT_SSH_VARIANT = 'ssh';
    }
    return await fn({ env, secrets });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A path as one word of a POSIX shell command (git runs GIT_SSH_COMMAND through sh). */
export const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The script git runs to ask for a username (prompt `Username for ...`) or a password: prints the one asked for, from its file. */
export function askpassScript(dir: string): string {
  return [
    '#!/bin/sh',
    '# Answers git credential prompts from files beside this script (removed after the fetch).',
    'case "$1" in',
    `  Username*) cat ${shellQuote(join(dir, 'username'))} ;;`,
    `  *) cat ${shellQuote(join(dir, 'password'))} ;;`,
    'esac',
    '',
  ].join('\n');
}

/**
 * ssh with this key only (not an agent's nor ~/.ssh's), never prompting, and trusting only the
 * host keys of `knownHosts` when given (else the machine's own known hosts); strict either way.
 */
export function sshCommand(keyFile: string, knownHostsFile?: string): string {
  const opts = [
    `-i ${shellQuote(keyFile)}`,
    '-o IdentitiesOnly=yes',
    '-o IdentityAgent=none',
    '-o BatchMode=yes',
    '-o StrictHostKeyChecking=yes',
    ...(knownHostsFile ? [`-o UserKnownHostsFile=${shellQuote(knownHostsFile)}`, '-o GlobalKnownHostsFile=/dev/null'] : []),
  ];
  return `ssh ${opts.join(' ')}`;
}
