import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { OpenAPIObject, ResponseObject } from 'openapi3-ts/oas31';

// ajv-formats is CommonJS: its default export arrives as the function itself or wrapped in { default }.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

export interface ObservedResponse {
  method: 'get' | 'post';
  /** OpenAPI path template, e.g. /admin/devices/{did}/revoke */
  path: string;
  status: number;
  contentType: string | null;
  text: string;
}

const DOC_ID = 'urn:assetgate:openapi';
const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/**
 * Checks real responses against the OpenAPI document: the operation and status must be documented,
 * and a JSON body must validate against the documented schema (JSON Schema 2020-12, as OAS 3.1 says).
 */
export function conformanceChecker(doc: OpenAPIObject) {
  // strict: false because the schemas live inside an OpenAPI document whose other members are not keywords.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc as object, DOC_ID);

  return function problemsOf(observed: ObservedResponse): string[] {
    const where = `${observed.method.toUpperCase()} ${observed.path} -> ${observed.status}`;
    const operation = doc.paths?.[observed.path]?.[observed.method];
    if (!operation) return [`${where}: operation not documented`];
    const response = operation.responses?.[String(observed.status)] as ResponseObject | undefined;
    if (!response) return [`${where}: status not documented`];
    if (observed.text === '') return [];
    const mediaType = observed.contentType?.split(';')[0]?.trim() ?? '';
    const media = response.content?.[mediaType];
    if (!media) return [`${where}: body of type ${mediaType} not documented`];
    if (!media.schema) return [];
    const ref = `${DOC_ID}#/${pointer('paths', observed.path, observed.method, 'responses', String(observed.status), 'content', mediaType, 'schema')}`;
    const validate = ajv.getSchema(ref);
    if (!validate) return [`${where}: schema ${ref} not found`];
    let body: unknown;
    try {
      body = JSON.parse(observed.text);
    } catch {
      return [`${where}: body is not JSON`];
    }
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `${where}: ${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  };
}
