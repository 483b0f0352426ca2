import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capacityOf, firstFree, formatIpv4, gatewayOf, ipAddressName, macForNic, parseCidr, parseIpv4 } from './ipv4.js';

test('CIDRs a Network can have, and a sentence for each it cannot', () => {
  const s = parseCidr('10.40.0.0/24');
  assert.ok(typeof s !== 'string');
  assert.deepEqual([formatIpv4(s.base), s.prefixLength, s.size, capacityOf(s)], ['10.40.0.0', 24, 256, 253]);
  assert.equal(formatIpv4(gatewayOf(s)), '10.40.0.1');
  assert.equal(formatIpv4(gatewayOf(s, '10.40.0.254')), '10.40.0.254');
  assert.match(parseCidr('10.40.0.7/24') as string, /host bits set: the subnet is 10\.40\.0\.0\/24/);
  assert.match(parseCidr('10.0.0.0/15') as string, /\/16 to \/29, got \/15/);
  assert.match(parseCidr('10.0.0.0/30') as string, /\/16 to \/29, got \/30/);
  for (const bad of ['10.0.0/24', '10.0.0.256/24', '10.0.0.0', '10.0.0.0/24/1', '010.0.0.0/24', 'x/24'])
    assert.match(parseCidr(bad) as string, /not an IPv4 CIDR/, bad);
  assert.equal(parseIpv4('255.255.255.255'), 2 ** 32 - 1);
  assert.equal(formatIpv4(2 ** 32 - 1), '255.255.255.255');
});

test('the lowest free address: never the network, the gateway or the broadcast address', () => {
  const s = parseCidr('10.61.0.0/29');
  assert.ok(typeof s !== 'string');
  const gw = parseIpv4('10.61.0.1')!;
  const taken = new Set<number>();
  const got: string[] = [];
  for (let a = firstFree(s, gw, (x) => taken.has(x)); a !== undefined; a = firstFree(s, gw, (x) => taken.has(x))) {
    taken.add(a);
    got.push(formatIpv4(a));
  }
  assert.deepEqual(got, ['10.61.0.2', '10.61.0.3', '10.61.0.4', '10.61.0.5', '10.61.0.6']);
  assert.equal(got.length, capacityOf(s));
});

test('an IPAddress name per address; a MAC per VM and Network, stable, under 52:54:00', () => {
  assert.equal(ipAddressName('tenant-a', '10.40.0.2'), 'tenant-a.10-40-0-2');
  assert.equal(macForNic('uid-1', 'a'), macForNic('uid-1', 'a'));
  assert.notEqual(macForNic('uid-1', 'a'), macForNic('uid-1', 'b'));
  assert.match(macForNic('uid-1', 'a'), /^52:54:00(:[0-9a-f]{2}){3}$/);
});
