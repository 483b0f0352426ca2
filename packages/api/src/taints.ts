/** Well-known taint keys, set by Shoal's controllers. */

/** On a node whose lease has lapsed (health controller): new VMs are not placed there. */
export const UNREACHABLE_TAINT_KEY = 'node.shoal.dev/unreachable';
