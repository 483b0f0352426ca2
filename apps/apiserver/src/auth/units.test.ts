/** The pure parts of auth: the token file, request attributes, rule matching, the RBAC kinds' metadata schema. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMAS_DIR } from '@shoal/api';
import { parseTokenFile } from './token-file.js';
import { requestAttributes } from './request-attributes.js';
import { ruleAllows } from './rbac-authorizer.js';
import { CONTROLLER_MANAGER_RULES, CONTROLLER_RULES } from './bootstrap-policy.js';

test('the token file is Kubernetes CSV: token,user,uid,"group1,group2"', () => {
  const tokens = parseTokenFile('# comment\n\nt1,alice,42,"dev, qa"\nt2,bob,\nt3,"carol, jr",7,ops\n');
  assert.deepEqual(tokens.get('t1'), { name: 'alice', uid: '42', groups: ['dev', 'qa'] });
  assert.deepEqual(tokens.get('t2'), { name: 'bob', groups: [] });
  assert.deepEqual(tokens.get('t3'), { name: 'carol, jr', uid: '7', groups: ['ops'] });
  assert.throws(() => parseTokenFile('t1,alice'), /:1: want token,user,uid/);
  assert.throws(() => parseTokenFile('t1,a,1\nt1,b,2'), /:2: duplicate token/);
  assert.throws(() => parseTokenFile('t1,a,1,"g'), /unterminated quote/);
});

test('requests map to verb, resource, subresource, namespace and name', () => {
  const V = '/apis/shoal.dev/v1alpha1';
  const pick = (m: string, u: string) => {
    const a = requestAttributes(m, u);
    return a.resourceRequest ? [a.verb, a.resource, a.subresource, a.namespace, a.name].join('|') : `${a.verb} ${a.path}`;
  };
  assert.equal(pick('GET', `${V}/namespaces/prod/virtualmachines`), 'list|virtualmachines||prod|');
  assert.equal(pick('GET', `${V}/namespaces/prod/virtualmachines?watch=1`), 'watch|virtualmachines||prod|');
  assert.equal(pick('GET', `${V}/namespaces/prod/virtualmachines?watch=false`), 'list|virtualmachines||prod|');
  assert.equal(pick('GET', `${V}/virtualmachines?watch=true&fieldSelector=metadata.name%3Dweb`), 'watch|virtualmachines|||web');
  assert.equal(pick('GET', `${V}/namespaces/prod/virtualmachines/web`), 'get|virtualmachines||prod|web');
  assert.equal(pick('GET', `${V}/namespaces/prod/virtualmachines/web/log`), 'get|virtualmachines|log|prod|web');
  assert.equal(pick('POST', `${V}/namespaces/prod/virtualmachines/web/binding`), 'create|virtualmachines|binding|prod|web');
  assert.equal(pick('PUT', `${V}/namespaces/prod/virtualmachines/web/status`), 'update|virtualmachines|status|prod|web');
  assert.equal(pick('PATCH', `${V}/nodes/n1/status`), 'patch|nodes|status||n1');
  assert.equal(pick('DELETE', `${V}/namespaces/prod/virtualmachines`), 'deletecollection|virtualmachines||prod|');
  assert.equal(pick('DELETE', `${V}/namespaces/prod`), 'delete|namespaces||prod|prod');
  assert.equal(pick('PUT', `${V}/namespaces/prod/status`), 'update|namespaces|status|prod|prod');
  assert.equal(pick('GET', `${V}/clusterroles/system%3Ashoal-controller-manager`), 'get|clusterroles|||system:shoal-controller-manager');
  assert.equal(pick('GET', `${V}`), 'get /apis/shoal.dev/v1alpha1');
  assert.equal(pick('GET', '/metrics'), 'get /metrics');
});

test('rules: verbs, groups, resources with subresources, resourceNames, non-resource URLs', () => {
  const at = (m: string, u: string) => requestAttributes(m, `/apis/shoal.dev/v1alpha1${u}`);
  const rule = { apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['get'] };
  assert.ok(ruleAllows(rule, at('GET', '/namespaces/a/virtualmachines/x')));
  assert.ok(!ruleAllows(rule, at('GET', '/namespaces/a/virtualmachines/x/status')), 'a subresource is its own resource');
  assert.ok(!ruleAllows(rule, at('GET', '/namespaces/a/virtualmachines')), 'get is not list');
  assert.ok(!ruleAllows({ ...rule, apiGroups: ['other.dev'] }, at('GET', '/namespaces/a/virtualmachines/x')));
  assert.ok(ruleAllows({ ...rule, resources: ['*/status'] }, at('GET', '/namespaces/a/virtualmachines/x/status')));
  assert.ok(ruleAllows({ ...rule, resources: ['virtualmachines/*'] }, at('GET', '/namespaces/a/virtualmachines/x/log')));
  assert.ok(ruleAllows({ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }, at('DELETE', '/nodes')));
  assert.ok(ruleAllows({ ...rule, resourceNames: ['x'] }, at('GET', '/namespaces/a/virtualmachines/x')));
  assert.ok(!ruleAllows({ ...rule, resourceNames: ['x'] }, at('GET', '/namespaces/a/virtualmachines/y')));
  assert.ok(!ruleAllows({ ...rule, verbs: ['create'], resourceNames: ['x'] }, at('POST', '/namespaces/a/virtualmachines')), 'a create has no name to match');
  assert.ok(ruleAllows({ nonResourceURLs: ['/metrics'], verbs: ['get'] }, requestAttributes('GET', '/metrics')));
  assert.ok(ruleAllows({ nonResourceURLs: ['/openapi/*'], verbs: ['get'] }, requestAttributes('GET', '/openapi/v3/apis/x')));
  assert.ok(!ruleAllows({ nonResourceURLs: ['/metrics'], verbs: ['get'] }, requestAttributes('POST', '/metrics')));
  assert.ok(!ruleAllows(rule, requestAttributes('GET', '/metrics')), 'resource rules never match paths');
});

test("the RBAC kinds' metadata schema is the common one except for the name", () => {
  const common = JSON.parse(readFileSync(join(SCHEMAS_DIR, 'meta/object-meta.json'), 'utf8'));
  const rbac = JSON.parse(readFileSync(join(SCHEMAS_DIR, 'meta/rbac-object-meta.json'), 'utf8'));
  for (const doc of [common, rbac]) {
    delete doc.title;
    delete doc.description;
    delete doc.properties.name;
  }
  assert.deepEqual(rbac, common);
});

test("the controller-manager's role is the union of the controllers' roles: a process with one token may do all each controller does", () => {
  const missing: string[] = [];
  for (const [controller, rules] of Object.entries(CONTROLLER_RULES))
    for (const rule of rules)
      for (const group of rule.apiGroups ?? [])
        for (const resource of rule.resources ?? [])
          for (const verb of rule.verbs) {
            const [plural, subresource = ''] = resource.split('/');
            const attrs = {
              resourceRequest: true as const,
              verb,
              apiGroup: group,
              apiVersion: 'v1alpha1',
              resource: plural!,
              subresource,
              namespace: 'a',
              name: ['list', 'watch', 'create'].includes(verb) && !subresource ? '' : 'x',
              fieldSelector: '',
              path: '',
            };
            if (!CONTROLLER_MANAGER_RULES.some((r) => ruleAllows(r, attrs))) missing.push(`${controller}: ${verb} ${resource}`);
          }
  assert.deepEqual(missing, []);
});
