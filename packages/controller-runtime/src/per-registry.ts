import type { Registry } from 'prom-client';

/**
 * A maker of metric objects, run once per registry: prom-client refuses a second metric of one
 * name in a registry, and a controller is built again each time its process wins leadership
 * anew, so every build after the first gets the objects the first made.
 */
export function perRegistry<T>(make: (registers: Registry[]) => T): (registry: Registry) => T {
  const made = new WeakMap<Registry, T>();
  return (registry) => {
    let set = made.get(registry);
    if (set === undefined) {
      set = make([registry]);
      made.set(registry, set);
    }
    return set;
  };
}
