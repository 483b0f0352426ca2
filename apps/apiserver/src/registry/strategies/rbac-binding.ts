/**
 * RoleBindings and ClusterRoleBindings: a ServiceAccount subject must name a user RBAC can match,
 * system:serviceaccount:<namespace>:<name>, so its name and namespace are what Kubernetes
 * allows for a service account (no ':' to make the user name ambiguous). A ClusterRoleBinding
 * has no namespace to lend its subjects, so there the namespace is required; a RoleBinding's
 * subject without one is in the binding's namespace (the RBAC authorizer reads it so).
 */
import type { ClusterRoleBinding, RoleBinding, StatusCause } from '@shoal/api';
import { isNamespaceName, isServiceAccountName } from '../../auth/user.js';
import type { KindStrategy } from '../strategy.js';

function serviceAccountSubjectCauses(binding: RoleBinding | ClusterRoleBinding, namespaceRequired: boolean): StatusCause[] {
  const causes: StatusCause[] = [];
  (binding.subjects ?? []).forEach((s, i) => {
    if (s.kind !== 'ServiceAccount') return;
    const at = `subjects[${i}]`;
    if (!isServiceAccountName(s.name))
      causes.push({
        field: `${at}.name`,
        type: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(s.name)}: a ServiceAccount name is lower-case letters, digits, '-' and '.' (a DNS subdomain)`,
      });
    if (s.namespace === undefined || s.namespace === '') {
      if (namespaceRequired)
        causes.push({
          field: `${at}.namespace`,
          type: 'FieldValueRequired',
          message: 'Required value: a ServiceAccount subject of a ClusterRoleBinding names its namespace',
        });
    } else if (!isNamespaceName(s.namespace))
      causes.push({
        field: `${at}.namespace`,
        type: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(s.namespace)}: a namespace name is lower-case letters, digits and '-' (a DNS label)`,
      });
  });
  return causes;
}

export const roleBindingStrategy: KindStrategy = {
  validate: (object) => serviceAccountSubjectCauses(object as RoleBinding, false),
};

export const clusterRoleBindingStrategy: KindStrategy = {
  validate: (object) => serviceAccountSubjectCauses(object as ClusterRoleBinding, true),
};
