/** A VirtualMachine's spec.volumes: each names one Volume, once. */
import { ownedVolumeName, ROOT_DISK_NAME, type StatusCause, type VirtualMachine } from '@shoal/api';
import { volumeSpecCauses } from './volume-spec-rules.js';

/** Object names are at most 253 characters; an owned Volume is named <vm name>-<disk name>. */
const MAX_NAME = 253;

export function vmVolumeCauses(vm: VirtualMachine): StatusCause[] {
  const causes: StatusCause[] = [];
  const names = new Set(vm.spec.rootDisk ? [ROOT_DISK_NAME] : []);
  const volumes = new Set<string>();
  for (const [i, v] of (vm.spec.volumes ?? []).entries()) {
    const at = `spec.volumes[${i}]`;
    if (names.has(v.name))
      causes.push({
        field: `${at}.name`,
        type: 'FieldValueDuplicate',
        message: `Duplicate value: ${JSON.stringify(v.name)}${v.name === ROOT_DISK_NAME && vm.spec.rootDisk ? ' (spec.rootDisk is the disk named root)' : ''}`,
      });
    names.add(v.name);
    if (Boolean(v.volumeName) === Boolean(v.volumeTemplate)) {
      causes.push({ field: at, type: 'FieldValueInvalid', message: 'Invalid value: exactly one of volumeName and volumeTemplate must be given' });
      continue;
    }
    if (v.volumeTemplate) {
      causes.push(...volumeSpecCauses(v.volumeTemplate, `${at}.volumeTemplate`));
      const owned = ownedVolumeName(vm.metadata.name ?? '', v.name);
      if (owned.length > MAX_NAME)
        causes.push({
          field: `${at}.name`,
          type: 'FieldValueInvalid',
          message: `Invalid value: the Volume made for it, ${owned}, would be longer than ${MAX_NAME} characters`,
        });
    }
    const volume = v.volumeName ?? ownedVolumeName(vm.metadata.name ?? '', v.name);
    if (volumes.has(volume))
      causes.push({ field: `${at}.volumeName`, type: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(volume)}: a Volume is attached once` });
    volumes.add(volume);
  }
  return causes;
}
