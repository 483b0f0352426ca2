/** The pure parts of the git cache: ls-remote's output, semver picks, ref names, revision strings, messages without secrets, ssh and askpass commands. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { askpassScript, readCredentials, shellQuote, sshCommand } from './credentials.js';
import { firstErrorLine, redact } from './git-command.js';
import { InvalidRefError } from './git-errors.js';
import { checkRefName, describeRef, parseLsRemote, pickSemverTag, revisionString, tagCommits } from './refs.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

test('ls-remote output: refs, symbolic refs, and tags peeled to their commits', () => {
  const remote = parseLsRemote(
    [
      `ref: refs/heads/main\tHEAD`,
      `${A}\tHEAD`,
      `${A}\trefs/heads/main`,
      `${B}\trefs/tags/v1.0.0`,
      `${C}\trefs/tags/v1.0.0^{}`,
      `${A}\trefs/tags/light`,
      '',
    ].join('\n'),
  );
  assert.equal(remote.symrefs.get('HEAD'), 'refs/heads/main');
  assert.equal(remote.refs.get('refs/heads/main'), A);
  assert.deepEqual(
    [...tagCommits(remote)],
    [
      ['v1.0.0', C],
      ['light', A],
    ],
  );
});

test('semver: the highest tag in range, a leading v allowed, pre-releases only when the range names one, nonsense skipped', () => {
  const tags = ['v1.0.0', '1.2.0', 'v1.10.0-rc.1', 'v1.9.3', 'v2.0.0', 'latest', 'v1.9', 'release-1.11.0'];
  assert.equal(pickSemverTag(tags, '>=1.0.0 <2.0.0'), 'v1.9.3');
  assert.equal(pickSemverTag(tags, '^1.0.0'), 'v1.9.3');
  assert.equal(pickSemverTag(tags, '~1.2'), '1.2.0');
  assert.equal(pickSemverTag(tags, '*'), 'v2.0.0');
  assert.equal(pickSemverTag(tags, '>=1.10.0-rc.0 <2.0.0'), 'v1.10.0-rc.1');
  assert.equal(pickSemverTag(tags, '>=3.0.0'), undefined);
  // One version under two names: the same pick every time.
  assert.equal(pickSemverTag(['v1.0.0', '1.0.0'], '1.x'), '1.0.0');
  assert.throws(
    () => pickSemverTag(tags, 'not a range'),
    (err) => err instanceof InvalidRefError && err.field === 'spec.ref.semver' && /not a semantic version range/.test(err.message),
  );
});

test('ref names: what git accepts, and nothing a refspec or an option would read differently', () => {
  for (const ok of ['main', 'release/1.x', 'feature-a_b', 'v1.2.0']) checkRefName('spec.ref.branch', ok);
  for (const bad of ['-main', 'a:b', 'a b', 'a..b', 'a/', '/a', 'a.lock', 'a^', 'a~1', 'a*', 'a?', 'a[', 'a\\b', '@', 'a@{1}', '.hidden', 'a/.b'])
    assert.throws(() => checkRefName('spec.ref.branch', bad), InvalidRefError, bad);
});

test('revision strings as Flux writes them; refs as messages say them', () => {
  assert.equal(revisionString('main', A), `main@sha1:${A}`);
  assert.equal(revisionString('v1.2.0', A), `v1.2.0@sha1:${A}`);
  assert.equal(revisionString(undefined, A), `sha1:${A}`);
  assert.equal(revisionString('main', 'd'.repeat(64)), `main@sha256:${'d'.repeat(64)}`);
  assert.equal(describeRef({ branch: 'main' }), 'branch "main"');
  assert.equal(describeRef({ semver: '^1' }), 'the highest tag in "^1"');
  assert.equal(describeRef(undefined), "the remote's HEAD");
});

test("git's error line: the fatal one, past warnings; messages keep no credentials", () => {
  assert.equal(firstErrorLine('warning: redirecting to x\nfatal: repository not found\nmore\n'), 'fatal: repository not found');
  assert.equal(firstErrorLine('\nsomething odd\n'), 'something odd');
  assert.equal(firstErrorLine(''), undefined);
  assert.equal(
    redact("fatal: unable to access 'https://bob:hunter2@git.example.com/x.git/': 403, token hunter2 refused", ['hunter2']),
    "fatal: unable to access 'https://***@git.example.com/x.git/': 403, token *** refused",
  );
  // scp-like and plain URLs carry no password: left as they are.
  assert.equal(redact('git@github.com:team/x.git https://git.example.com/x', []), 'git@github.com:team/x.git https://git.example.com/x');
});

test('credentials: read from base64 Secret data; ssh runs with the key only and strict host keys; askpass prints from files', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  assert.deepEqual(readCredentials({ username: b64('bob'), password: b64('pw'), identity: '', other: b64('x') }), { username: 'bob', password: 'pw' });
  assert.deepEqual(readCredentials({ identity: b64('KEY'), known_hosts: b64('host ssh-ed25519 AAAA') }), {
    identity: 'KEY',
    knownHosts: 'host ssh-ed25519 AAAA',
  });

  assert.equal(
    sshCommand("/cache/.credentials/it's/identity", '/cache/kh'),
    "ssh -i '/cache/.credentials/it'\\''s/identity' -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile='/cache/kh' -o GlobalKnownHostsFile=/dev/null",
  );
  assert.doesNotMatch(sshCommand('/k'), /KnownHostsFile/);
  assert.equal(shellQuote('a b'), "'a b'");
  const script = askpassScript('/c/x');
  assert.match(script, /Username\*\) cat '\/c\/x\/username'/);
  assert.match(script, /\*\) cat '\/c\/x\/password'/);
});
