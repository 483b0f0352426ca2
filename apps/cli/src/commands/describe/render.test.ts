import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventsAbout, kinds, withDefaults, type Event, type KubeObject, type Manifest } from '@shoal/api';
import { LAST_APPLIED_ANNOTATION } from '@shoal/client';
import { renderDescription } from './render.js';

const vmKind = kinds().find('vm')!;
const now = Date.parse('2024-01-01T01:00:00Z');
const vm: KubeObject = {
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: {
    name: 'web',
    namespace: 'prod',
    uid: 'u1',
    labels: { app: 'web', tier: 'front' },
    annotations: { [LAST_APPLIED_ANNOTATION]: '{}', note: 'hi' },
    creationTimestamp: '2024-01-01T00:00:00Z',
  },
  spec: { resources: { vcpus: 2 } },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True', reason: 'Booted', message: 'guest is up', lastTransitionTime: '2024-01-01T00:55:00Z' }],
  },
};

const event = (name: string, involved: Event['involvedObject'], extra: Manifest<Event> = {}): Event =>
  withDefaults('Event', {
    metadata: { name, namespace: 'prod' },
    involvedObject: involved,
    reason: 'Scheduled',
    message: `msg ${name}`,
    type: 'Normal',
    lastTimestamp: '2024-01-01T00:58:00Z',
    source: { component: 'scheduler' },
    ...extra,
  });

test('events are matched by kind, name, namespace and uid', () => {
  const events = [
    event('mine', { kind: 'VirtualMachine', name: 'web', namespace: 'prod', uid: 'u1' }),
    event('old-incarnation', { kind: 'VirtualMachine', name: 'web', namespace: 'prod', uid: 'u0' }),
    event('other-kind', { kind: 'Node', name: 'web' }),
    event('other-name', { kind: 'VirtualMachine', name: 'db', namespace: 'prod' }),
  ];
  assert.deepEqual(
    eventsAbout(events, vmKind, vm).map((e) => e.metadata.name),
    ['mine'],
  );
});

test('the description shows metadata, spec, status, conditions and events', () => {
  const text = renderDescription(vmKind, vm, [event('e', { kind: 'VirtualMachine', name: 'web' }, { count: 3, firstTimestamp: '2024-01-01T00:40:00Z' })], now);
  assert.match(text, /^Name:\s+web$/m);
  assert.match(text, /^Namespace:\s+prod$/m);
  assert.match(text, /^Labels:\s+app=web\n\s+tier=front$/m);
  assert.match(text, /^Annotations:\s+note: hi$/m);
  assert.doesNotMatch(text, /last-applied/);
  assert.match(text, /^Created:\s+2024-01-01T00:00:00Z \(60m ago\)$/m);
  assert.match(text, /^Spec:\n  resources:\n    vcpus: 2$/m);
  assert.match(text, /^Status:\s*\n  phase: Running$/m);
  assert.match(text, /^Conditions:\n  Type\s+Status\s+Reason\s+Age\s+Message\n.*\n  Ready\s+True\s+Booted\s+5m\s+guest is up$/m);
  assert.match(text, /^Events:\n  Type\s+Reason\s+Age\s+From\s+Message\n.*\n  Normal\s+Scheduled\s+2m \(x3 over 20m\)\s+scheduler\s+msg e$/m);
});

test('no events, or events that could not be read, say so', () => {
  assert.match(renderDescription(vmKind, vm, [], now), /^Events:\s+<none>$/m);
  assert.match(renderDescription(vmKind, vm, new Error('forbidden'), now), /^Events:\s+<unable to list events: forbidden>$/m);
});
