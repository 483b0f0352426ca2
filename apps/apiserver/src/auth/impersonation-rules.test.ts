/**
 * The pure parts of impersonation and ServiceAccount subjects: reading the Impersonate-* headers,
 * the rights they need, the user a request then acts as, and RBAC matching ServiceAccount
 * subjects (the RBAC authorizer over plain roles and bindings).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type ClusterRole, type ClusterRoleBinding, type PolicyRule, type Role, type RoleBinding } from '@shoal/api';
import { firstRefused, impersonatedUser, impersonationChecks, mentionsImpersonation, readImpersonationHeaders } from './impersonation.js';
import { RbacAuthorizer, ruleAllows, type RbacSource } from './rbac-authorizer.js';
import { requestAttributes } from './request-attributes.js';
import { serviceAccountOf, type UserInfo } from './user.js';

test('only a request with an Impersonate-* header, in any case, has its headers read for impersonation', () => {
  assert.equal(mentionsImpersonation(['Host', 'x', 'Authorization', 'Bearer t', 'X-Impersonate-User', 'bob']), false);
  assert.equal(mentionsImpersonation(['Host', 'x', 'Impersonate-User', 'bob']), true);
  assert.equal(mentionsImpersonation(['IMPERSONATE-EXTRA-scopes', 'view']), true);
  assert.equal(mentionsImpersonation(['impersonate-group', 'devs']), true, 'a group alone must still be read, to be refused');
  assert.equal(mentionsImpersonation(undefined), true);
});

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  assert.fail('expected an ApiError');
}

test('Impersonate-* headers: none is no impersonation; user, repeated groups, uid and percent-encoded extra keys are read', () => {
  assert.equal(readImpersonationHeaders({ authorization: ['Bearer x'] }), undefined);
  assert.equal(readImpersonationHeaders({ 'impersonate-user': [''] }), undefined, 'an empty user is no user, as in Kubernetes');
  assert.deepEqual(
    readImpersonationHeaders({
      'impersonate-user': ['alice'],
      'impersonate-group': ['devs', 'ops, eu', 'devs'],
      'impersonate-uid': ['42'],
      'impersonate-extra-scopes': ['view', 'edit'],
      'impersonate-extra-example.com%2fteam': ['a'],
    }),
    { user: 'alice', uid: '42', groups: ['devs', 'ops, eu'], extra: { scopes: ['view', 'edit'], 'example.com/team': ['a'] } },
  );
});

test('Impersonate-* headers that cannot be honoured as written are 400 BadRequest', () => {
  const groupsAlone = refusal(() => readImpersonationHeaders({ 'impersonate-group': ['devs'] }));
  assert.deepEqual([groupsAlone.code, groupsAlone.reason], [400, 'BadRequest']);
  assert.equal(groupsAlone.message, 'requested Impersonate-Group without impersonating a user (Impersonate-User)');
  assert.match(
    refusal(() => readImpersonationHeaders({ 'impersonate-uid': ['1'], 'impersonate-extra-a': ['b'] })).message,
    /Impersonate-Uid, Impersonate-Extra-/,
  );
  assert.match(refusal(() => readImpersonationHeaders({ 'impersonate-user': ['a', 'b'] })).message, /Impersonate-User may be given once/);
  assert.match(refusal(() => readImpersonationHeaders({ 'impersonate-user': ['a'], 'impersonate-uid': ['1', '2'] })).message, /once/);
  assert.match(refusal(() => readImpersonationHeaders({ 'impersonate-user': ['a'], 'impersonate-group': [''] })).message, /empty/);
});

test('service account user names: two valid parts after the prefix, else an ordinary user name', () => {
  assert.deepEqual(serviceAccountOf('system:serviceaccount:tenant-a:deployer'), { namespace: 'tenant-a', name: 'deployer' });
  assert.deepEqual(serviceAccountOf('system:serviceaccount:tenant-a:ci.bot'), { namespace: 'tenant-a', name: 'ci.bot' });
  for (const name of ['alice', 'system:serviceaccount:tenant-a', 'system:serviceaccount:a:b:c', 'system:serviceaccount:Tenant:x', 'system:serviceaccount::x'])
    assert.equal(serviceAccountOf(name), undefined, name);
});

test('the rights an impersonation needs, in order: the user (or its service account), groups, extras, uid', () => {
  const describe = (user: string, more: { groups?: string[]; uid?: string; extra?: Record<string, string[]> } = {}) =>
    impersonationChecks({ user, groups: more.groups ?? [], extra: more.extra ?? {}, ...(more.uid ? { uid: more.uid } : {}) }).map(
      (c) =>
        `${c.attrs.verb} ${c.attrs.resource}${c.attrs.subresource ? `/${c.attrs.subresource}` : ''} "${c.attrs.name}" ns=${c.attrs.namespace} in ${c.apiGroups.map((g) => JSON.stringify(g)).join('|')}`,
    );
  assert.deepEqual(describe('alice', { groups: ['devs'], uid: '7', extra: { scopes: ['view'] } }), [
    'impersonate users "alice" ns= in ""|"shoal.dev"',
    'impersonate groups "devs" ns= in ""|"shoal.dev"',
    'impersonate userextras/scopes "view" ns= in "authentication.k8s.io"|""|"shoal.dev"',
    'impersonate uids "7" ns= in "authentication.k8s.io"|""|"shoal.dev"',
  ]);
  assert.deepEqual(describe('system:serviceaccount:tenant-a:deployer'), ['impersonate serviceaccounts "deployer" ns=tenant-a in ""|"shoal.dev"']);
});

test('a right to impersonate may be granted in the core group or in shoal.dev; the first value not granted is the refusal', async () => {
  const checks = impersonationChecks({ user: 'alice', groups: ['devs', 'ops'], extra: {} });
  const granting = (rules: PolicyRule[]) => (attrs: Parameters<typeof ruleAllows>[1]) => rules.some((r) => ruleAllows(r, attrs));
  const core: PolicyRule = { apiGroups: [''], resources: ['users', 'groups'], verbs: ['impersonate'] };
  assert.equal(await firstRefused(checks, granting([core])), undefined);
  assert.equal(await firstRefused(checks, granting([{ ...core, apiGroups: ['shoal.dev'] }])), undefined);
  const onlyDevs = await firstRefused(checks, granting([{ ...core, resourceNames: ['alice', 'devs'] }]));
  assert.deepEqual([onlyDevs?.attrs.resource, onlyDevs?.attrs.name, onlyDevs?.attrs.apiGroup], ['groups', 'ops', '']);
  const otherGroup = await firstRefused(checks, granting([{ ...core, apiGroups: ['other.dev'] }]));
  assert.equal(otherGroup?.attrs.resource, 'users');
  const wrongVerb = await firstRefused(checks, granting([{ ...core, verbs: ['get'] }]));
  assert.equal(wrongVerb?.attrs.name, 'alice');
});

test('the impersonated user: requested groups plus system:authenticated; service accounts also in theirs; anonymous stays unauthenticated', () => {
  assert.deepEqual(impersonatedUser({ user: 'alice', groups: ['devs'], extra: {} }), { name: 'alice', groups: ['devs', 'system:authenticated'] });
  assert.deepEqual(impersonatedUser({ user: 'system:serviceaccount:tenant-a:deployer', uid: '9', groups: ['ci'], extra: { scopes: ['x'] } }), {
    name: 'system:serviceaccount:tenant-a:deployer',
    uid: '9',
    groups: ['ci', 'system:serviceaccounts', 'system:serviceaccounts:tenant-a', 'system:authenticated'],
    extra: { scopes: ['x'] },
  });
  assert.deepEqual(impersonatedUser({ user: 'system:anonymous', groups: [], extra: {} }), { name: 'system:anonymous', groups: ['system:unauthenticated'] });
  assert.deepEqual(impersonatedUser({ user: 'bob', groups: ['system:authenticated'], extra: {} }).groups, ['system:authenticated'], 'no duplicate');
});

test('RBAC: a ServiceAccount subject matches its user; in a RoleBinding without a namespace, the one of the binding', async () => {
  const vmEditor: PolicyRule = { apiGroups: ['shoal.dev'], resources: ['virtualmachines'], verbs: ['create'] };
  const nodeReader: PolicyRule = { apiGroups: ['shoal.dev'], resources: ['nodes'], verbs: ['list'] };
  const roles: Role[] = ['tenant-a', 'tenant-b'].map((namespace) => ({
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Role',
    metadata: { name: 'vm-editor', namespace },
    rules: [vmEditor],
  }));
  const clusterRoles: ClusterRole[] = [{ apiVersion: 'shoal.dev/v1alpha1', kind: 'ClusterRole', metadata: { name: 'node-reader' }, rules: [nodeReader] }];
  const binding = (namespace: string, subjects: RoleBinding['subjects']): RoleBinding => ({
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'RoleBinding',
    metadata: { name: `b-${namespace}`, namespace },
    subjects,
    roleRef: { kind: 'Role', name: 'vm-editor' },
  });
  const roleBindings = [
    binding('tenant-a', [{ kind: 'ServiceAccount', name: 'deployer' }]),
    // A namespace named in the subject wins over the binding's.
    binding('tenant-b', [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'tenant-c' }]),
  ];
  const clusterRoleBindings: ClusterRoleBinding[] = [
    {
      apiVersion: 'shoal.dev/v1alpha1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'sa-reads-nodes' },
      subjects: [
        { kind: 'ServiceAccount', name: 'auditor', namespace: 'tenant-b' },
        { kind: 'ServiceAccount', name: 'no-namespace' },
      ],
      roleRef: { kind: 'ClusterRole', name: 'node-reader' },
    },
  ];
  const source: RbacSource = {
    roles: () => roles,
    clusterRoles: () => clusterRoles,
    roleBindings: () => roleBindings,
    clusterRoleBindings: () => clusterRoleBindings,
    catchUp: async () => false,
  };
  const rbac = new RbacAuthorizer(source);
  const sa = (namespace: string, name: string): UserInfo => ({
    name: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  });
  const createVm = (ns: string) => requestAttributes('POST', `/apis/shoal.dev/v1alpha1/namespaces/${ns}/virtualmachines`);
  const listNodes = requestAttributes('GET', '/apis/shoal.dev/v1alpha1/nodes');
  assert.equal((await rbac.authorize(sa('tenant-a', 'deployer'), createVm('tenant-a'))).decision, 'allow');
  assert.equal((await rbac.authorize(sa('tenant-a', 'deployer'), createVm('tenant-b'))).decision, 'no-opinion');
  assert.equal((await rbac.authorize(sa('tenant-b', 'deployer'), createVm('tenant-a'))).decision, 'no-opinion', 'same name, other namespace');
  assert.equal((await rbac.authorize(sa('tenant-b', 'deployer'), createVm('tenant-b'))).decision, 'no-opinion', 'the subject names tenant-c');
  assert.equal((await rbac.authorize(sa('tenant-c', 'deployer'), createVm('tenant-b'))).decision, 'allow');
  assert.equal((await rbac.authorize({ name: 'deployer', groups: [] }, createVm('tenant-a'))).decision, 'no-opinion', 'a user named like the account');
  assert.equal((await rbac.authorize(sa('tenant-b', 'auditor'), listNodes)).decision, 'allow');
  assert.equal((await rbac.authorize(sa('tenant-a', 'auditor'), listNodes)).decision, 'no-opinion');
  assert.equal((await rbac.authorize({ name: 'system:serviceaccount::no-namespace', groups: [] }, listNodes)).decision, 'no-opinion');
});
