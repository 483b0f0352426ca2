/**
 * What a request asks to do, in the terms authorization speaks (Kubernetes' RequestInfo):
 * resource requests `/apis/{group}/{version}/[namespaces/{ns}/]{resource}[/{name}[/{subresource}]]`
 * get a verb (get, list, watch, create, update, patch, delete, deletecollection), the resource,
 * subresource, namespace and name; anything else is a non-resource request on a path.
 */
import { queryFlag } from '../http/query-flag.js';

export interface ResourceAttributes {
  resourceRequest: true;
  verb: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  /** The object's name; for lists and watches, from a `metadata.name=` field selector when there is one. */
  name: string;
  /** The raw field selector of a list or watch ('' when none). */
  fieldSelector: string;
  path: string;
}

export interface NonResourceAttributes {
  resourceRequest: false;
  verb: string;
  path: string;
}

export type RequestAttributes = ResourceAttributes | NonResourceAttributes;

/** Subresources of a namespace itself: /namespaces/{ns}/status is the namespace's status, not a resource named "status". */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export function requestAttributes(method: string, url: string): RequestAttributes {
  const parsed = new URL(url, 'http://x');
  const path = parsed.pathname;
  const httpVerb = method.toLowerCase();
  const parts = path.split('/').filter(Boolean).map(decode);
  const nonResource = (): NonResourceAttributes => ({ resourceRequest: false, verb: httpVerb === 'head' ? 'get' : httpVerb, path });

  let apiGroup: string;
  let apiVersion: string;
  let rest: string[];
  if (parts[0] === 'apis' && parts.length >= 4) [apiGroup, apiVersion, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  else if (parts[0] === 'api' && parts.length >= 3) [apiGroup, apiVersion, rest] = ['', parts[1]!, parts.slice(2)];
  else return nonResource();

  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1]!;
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  }
  const [resource = '', name = '', subresource = ''] = rest;
  if (rest.length > 3) return nonResource();

  const fieldSelector = parsed.searchParams.get('fieldSelector') ?? '';
  let verb: string;
  switch (method.toUpperCase()) {
    case 'GET':
    case 'HEAD':
      verb = name ? 'get' : queryFlag(parsed.searchParams.get('watch')) ? 'watch' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      verb = httpVerb;
  }
  // A list or watch of one object by field selector is about that name, so resourceNames rules can allow it.
  let effectiveName = name;
  if (!name && (verb === 'list' || verb === 'watch')) {
    const byName = fieldSelector
      .split(',')
      .map((r) => /^metadata\.name==?(.+)$/.exec(r.trim())?.[1])
      .find(Boolean);
    if (byName) effectiveName = byName;
  }
  return { resourceRequest: true, verb, apiGroup, apiVersion, resource, subresource, namespace, name: effectiveName, fieldSelector, path };
}

/** `resource` or `resource/subresource`, as rules and messages name it. */
export const resourceWithSubresource = (a: ResourceAttributes) => (a.subresource ? `${a.resource}/${a.subresource}` : a.resource);
