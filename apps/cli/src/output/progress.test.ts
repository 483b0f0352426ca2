import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eta, fitToWidth, formatBytes, formatDuration, formatRate, formatSeconds, fractionDone, progressBar, RateMeter } from './progress.js';

const MiB = 1024 * 1024;

test('bytes in binary units, one decimal from KiB up', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1024), '1.0 KiB');
  assert.equal(formatBytes(48 * MiB), '48.0 MiB');
  assert.equal(formatBytes(256 * MiB), '256.0 MiB');
  assert.equal(formatBytes(1.5 * 1024 * MiB), '1.5 GiB');
  assert.equal(formatBytes(1024 * MiB - 1), '1.0 GiB', 'rounds up into the next unit, never 1024.0 MiB');
  assert.equal(formatBytes(-1), '?');
  assert.equal(formatRate(12 * MiB), '12.0 MiB/s');
});

test('durations are precise while short', () => {
  assert.equal(formatDuration(0), '0ms');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(8_240), '8.2s');
  assert.equal(formatDuration(9_990), '10s');
  assert.equal(formatDuration(42_400), '42s');
  assert.equal(formatDuration(60_000), '1m');
  assert.equal(formatDuration(80_000), '1m20s');
  assert.equal(formatDuration(2 * 3_600_000 + 5 * 60_000), '2h5m');
  assert.equal(formatDuration(Number.NaN), '?');
  assert.equal(formatSeconds(999), '0s');
  assert.equal(formatSeconds(9_990), '9s');
  assert.equal(formatSeconds(80_500), '1m20s');
});

test('the bar fills with the fraction done, within its width', () => {
  assert.equal(progressBar(0, 10), '[>         ]');
  assert.equal(progressBar(0.5, 10), '[=====>    ]');
  assert.equal(progressBar(1, 10), '[==========]');
  assert.equal(progressBar(1.7, 4), '[====]', 'more than all is all');
  assert.equal(progressBar(Number.NaN, 4), '[>   ]');
  assert.equal(fractionDone(48, 256), 0.1875);
  assert.equal(fractionDone(300, 256), 1);
  assert.equal(fractionDone(1, 0), undefined);
  assert.equal(fractionDone(1, undefined), undefined);
});

test('ETA from what remains and the rate; unknown without a rate', () => {
  assert.equal(eta(208 * MiB, 12 * MiB), '18s');
  assert.equal(eta(10 * MiB, 4 * MiB), '3s', 'rounded up');
  assert.equal(eta(0, 12 * MiB), '0s');
  assert.equal(eta(100, 0), undefined);
  assert.equal(eta(undefined, 5), undefined);
});

test('lines are cut to the terminal, one column spare', () => {
  assert.equal(fitToWidth('abcdef', 10), 'abcdef');
  assert.equal(fitToWidth('abcdefghij', 10), 'abcdefgh…');
  assert.equal(fitToWidth('abcdefghij', undefined), 'abcdefghij');
});

test('the rate is measured over the window, and starts over when the count goes down', () => {
  const meter = new RateMeter(10_000);
  meter.add(0, 0);
  assert.equal(meter.rate(), undefined, 'one sample is no rate');
  meter.add(200, 1 * MiB);
  assert.equal(meter.rate(), undefined, 'too close together');
  meter.add(1000, 10 * MiB);
  assert.equal(meter.rate(), 10 * MiB);
  for (let t = 2000; t <= 20_000; t += 1000) meter.add(t, 10 * MiB + ((t - 1000) / 1000) * 2 * MiB);
  assert.equal(meter.rate(), 2 * MiB, 'the old, faster start has left the window');
  meter.add(21_000, 5 * MiB);
  assert.equal(meter.rate(), undefined, 'a count that went down starts over');
  meter.add(22_000, 6 * MiB);
  assert.equal(meter.rate(), 1 * MiB);
});
