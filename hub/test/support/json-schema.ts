// A small JSON Schema 2020-12 validator for the keywords z.toJSONSchema emits (type, properties, required,
// additionalProperties, propertyNames, items, prefixItems, enum, const, anyOf/oneOf/allOf, bounds, pattern,
// $ref into the same document): enough to check real API answers against the OpenAPI document's schemas.

type Schema = Record<string, unknown> | boolean;

export interface SchemaIssue {
  at: string;
  message: string;
}

/** Resolves a `#/a/b` pointer in `root`; throws when it does not resolve. */
export function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) throw new Error(`external $ref ${ref}`);
  let node = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) throw new Error(`$ref ${ref} does not resolve`);
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v);
const typeMatches = (v: unknown, t: string): boolean => {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
};
const equal = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Every way `value` breaks `schema` (empty: it conforms); `root` is where `$ref`s resolve. */
export function validate(schema: Schema, value: unknown, root: unknown, at = '$'): SchemaIssue[] {
  if (schema === true) return [];
  if (schema === false) return [{ at, message: 'no value allowed' }];
  const s = schema;
  const out: SchemaIssue[] = [];
  const fail = (message: string) => out.push({ at, message });
  if (typeof s.$ref === 'string') out.push(...validate(resolvePointer(root, s.$ref) as Schema, value, root, at));
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => typeMatches(value, t))) return [...out, { at, message: `expected ${types.join('|')}, got ${typeOf(value)} ${JSON.stringify(value)?.slice(0, 80)}` }];
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => equal(e, value))) fail(`not one of ${JSON.stringify(s.enum)}: ${JSON.stringify(value)}`);
  if ('const' in s && !equal(s.const, value)) fail(`expected ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.allOf)) for (const sub of s.allOf as Schema[]) out.push(...validate(sub, value, root, at));
  if (Array.isArray(s.anyOf) && !(s.anyOf as Schema[]).some((sub) => validate(sub, value, root, at).length === 0)) fail(`matches none of anyOf: ${JSON.stringify(value)?.slice(0, 120)}`);
  if (Array.isArray(s.oneOf) && (s.oneOf as Schema[]).filter((sub) => validate(sub, value, root, at).length === 0).length !== 1) fail('does not match exactly one of oneOf');
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) fail(`below minimum ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) fail(`above maximum ${s.maximum}`);
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) fail(`not above ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) fail(`not below ${s.exclusiveMaximum}`);
  }
  if (typeof value === 'string') {
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) fail(`does not match ${s.pattern}: ${JSON.stringify(value)}`);
    if (typeof s.minLength === 'number' && [...value].length < s.minLength) fail(`shorter than ${s.minLength}`);
    if (typeof s.maxLength === 'number' && [...value].length > s.maxLength) fail(`longer than ${s.maxLength}`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) fail(`fewer than ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) fail(`more than ${s.maxItems} items`);
    const prefix = Array.isArray(s.prefixItems) ? (s.prefixItems as Schema[]) : [];
    value.forEach((item, i) => {
      const sub = i < prefix.length ? prefix[i] : (s.items as Schema | undefined);
      if (sub !== undefined) out.push(...validate(sub, item, root, `${at}[${i}]`));
    });
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const key of (s.required ?? []) as string[]) if (!Object.hasOwn(obj, key)) fail(`missing required ${key}`);
    for (const [key, v] of Object.entries(obj)) {
      if (Object.hasOwn(props, key)) out.push(...validate(props[key]!, v, root, `${at}.${key}`));
      else if (s.additionalProperties !== undefined) {
        if (s.additionalProperties === false) fail(`undocumented property ${key}`);
        else out.push(...validate(s.additionalProperties as Schema, v, root, `${at}.${key}`));
      }
      if (s.propertyNames !== undefined) out.push(...validate(s.propertyNames as Schema, key, root, `${at}{${key}}`));
    }
  }
  return out;
}
