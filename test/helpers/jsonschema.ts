/**
 * A validator for the subset of JSON Schema (2020-12) that schema/ctevents.schema.json
 * uses: $ref to #/$defs/..., type (one or a list), enum, const, properties, required,
 * additionalProperties (boolean or schema), items, pattern, minimum, maximum, allOf,
 * if/then. Any other keyword in the schema is an error, so the schema cannot silently
 * rely on something this validator ignores. Returns the list of problems (empty = valid).
 */
type Schema = { [k: string]: unknown };

const KNOWN = new Set([
  '$schema', '$id', '$ref', '$defs', 'title', 'description', 'type', 'enum', 'const', 'properties', 'required',
  'additionalProperties', 'items', 'pattern', 'minimum', 'maximum', 'allOf', 'if', 'then',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(want: string, v: unknown): boolean {
  const t = typeOf(v);
  return want === t || (want === 'number' && t === 'integer');
}

export function validate(root: Schema, value: unknown): string[] {
  const errors: string[] = [];
  const resolve = (ref: string): Schema => {
    const m = /^#\/\$defs\/(.+)$/.exec(ref);
    const s = m ? (root.$defs as Record<string, Schema>)?.[m[1]!] : undefined;
    if (!s) throw new Error(`unresolvable $ref ${ref}`);
    return s;
  };
  const check = (s: Schema, v: unknown, path: string, out: string[]): void => {
    for (const k of Object.keys(s)) if (!KNOWN.has(k)) throw new Error(`schema keyword not supported by the test validator: ${k} at ${path}`);
    if (typeof s.$ref === 'string') check(resolve(s.$ref), v, path, out);
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((t) => typeMatches(t, v))) {
        out.push(`${path}: expected ${types.join('|')}, got ${typeOf(v)}`);
        return;
      }
    }
    if (s.enum !== undefined && !(s.enum as unknown[]).some((e) => e === v)) out.push(`${path}: ${JSON.stringify(v)} not in ${JSON.stringify(s.enum)}`);
    if ('const' in s && s.const !== v) out.push(`${path}: expected ${JSON.stringify(s.const)}`);
    if (typeof s.pattern === 'string' && typeof v === 'string' && !new RegExp(s.pattern, 'u').test(v)) out.push(`${path}: ${JSON.stringify(v)} does not match ${s.pattern}`);
    if (typeof s.minimum === 'number' && typeof v === 'number' && v < s.minimum) out.push(`${path}: ${v} < ${s.minimum}`);
    if (typeof s.maximum === 'number' && typeof v === 'number' && v > s.maximum) out.push(`${path}: ${v} > ${s.maximum}`);
    if (Array.isArray(v) && s.items !== undefined) v.forEach((x, i) => check(s.items as Schema, x, `${path}[${i}]`, out));
    if (typeOf(v) === 'object') {
      const o = v as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const r of (s.required ?? []) as string[]) if (!(r in o)) out.push(`${path}: missing ${r}`);
      for (const [k, x] of Object.entries(o)) {
        if (k in props) check(props[k]!, x, `${path}.${k}`, out);
        else if (s.additionalProperties === false) out.push(`${path}: unexpected key ${k}`);
        else if (typeof s.additionalProperties === 'object') check(s.additionalProperties as Schema, x, `${path}.${k}`, out);
      }
    }
    for (const sub of (s.allOf ?? []) as Schema[]) check(sub, v, path, out);
    if (s.if !== undefined) {
      const probe: string[] = [];
      check(s.if as Schema, v, path, probe);
      if (probe.length === 0 && s.then !== undefined) check(s.then as Schema, v, path, out);
    }
  };
  check(root, value, '$', errors);
  return errors;
}
