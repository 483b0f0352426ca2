/**
 * Networks: the subnet must be one a Network can be (IPv4, /16 to /29, host bits zero), its
 * gateway inside it; neither changes once VMs may hold addresses of it. IPAddresses never
 * change: each is the record that one address is taken.
 */
import { capacityOf, contains, formatIpv4, gatewayOf, parseCidr, parseIpv4, type IPAddress, type Network, type StatusCause } from '@shoal/api';
import type { KindStrategy } from '../strategy.js';
import { immutableFieldChanges } from './immutable-fields.js';

const invalid = (field: string, message: string): StatusCause => ({ field, type: 'FieldValueInvalid', message });

export const networkStrategy: KindStrategy = {
  prepareForCreate(object) {
    const n = object as Network;
    const subnet = parseCidr(n.spec.cidr);
    if (typeof subnet === 'string') return;
    n.status = { gateway: formatIpv4(gatewayOf(subnet, n.spec.gateway)), capacity: capacityOf(subnet), allocated: 0 };
  },

  validate(object) {
    const { spec } = object as Network;
    const subnet = parseCidr(spec.cidr);
    if (typeof subnet === 'string') return [invalid('spec.cidr', subnet)];
    if (spec.gateway !== undefined) {
      const gw = parseIpv4(spec.gateway);
      if (gw === undefined || !contains(subnet, gw)) return [invalid('spec.gateway', `${spec.gateway} is not a host address of ${spec.cidr}`)];
    }
    return [];
  },

  validateUpdate(next, current) {
    return immutableFieldChanges((current as Network).spec, (next as Network).spec, ['cidr', 'gateway']);
  },
};

export const ipAddressStrategy: KindStrategy = {
  validateUpdate(next, current) {
    return immutableFieldChanges((current as IPAddress).spec, (next as IPAddress).spec, ['network', 'address', 'vmName', 'vmUID']);
  },
};
