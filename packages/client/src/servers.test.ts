/** The server list on its own: parsing, and moving on once per failure of the server in use. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseServers, ServerList } from './servers.js';

test('one URL, a comma-separated list or an array; path prefixes kept, trailing slashes dropped', () => {
  assert.deepEqual(
    parseServers('https://a:6443, https://b:6443/prefix/').map((s) => s.url),
    ['https://a:6443', 'https://b:6443/prefix'],
  );
  assert.deepEqual(
    parseServers(['http://x:1']).map((s) => [s.origin, s.basePath]),
    [['http://x:1', '']],
  );
  assert.throws(() => parseServers('https://a:6443,ftp://b'), /http or https URL, got "ftp:\/\/b"/);
  assert.throws(() => parseServers('https://a:6443,'), /http or https URL, got ""/);
  assert.throws(() => parseServers(''), /no API server URL/);
});

test('a failure moves to the next server once, however many requests saw it', () => {
  const list = new ServerList(parseServers('http://a:1,http://b:2,http://c:3'));
  assert.equal(list.current.url, 'http://a:1');
  assert.equal(list.failed(0), true);
  assert.equal(list.failed(0), true, 'a second request that failed on a: already moved on');
  assert.equal(list.current.url, 'http://b:2');
  assert.equal(list.failed(1), true);
  assert.equal(list.failed(2), true);
  assert.equal(list.current.url, 'http://a:1', 'round-robin');
  const single = new ServerList(parseServers('http://a:1'));
  assert.equal(single.failed(0), false, 'nowhere else to go');
});
