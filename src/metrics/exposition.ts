/**
 * A writer for the two text exposition formats Prometheus scrapes, without a dependency:
 *
 *   Prometheus text 0.0.4   Content-Type: text/plain; version=0.0.4; charset=utf-8
 *     # HELP name text            (text escapes \ and newline)
 *     # TYPE name counter|gauge   (a counter's family name is its sample name: foo_total)
 *     name{label="value"} 1       (label values escape \ " and newline)
 *
 *   OpenMetrics 1.0.0       Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8
 *     # TYPE foo counter          (the family name has no _total; its samples do)
 *     # UNIT foo_bytes bytes      (the family name ends with _<unit>)
 *     # HELP foo text             (escapes \ " and newline)
 *     foo_total{...} 1
 *     # EOF                       (mandatory last line)
 *
 * Families are written whole, one after another (both formats require a family's samples
 * to be contiguous). Values: numbers (integers printed exactly, NaN, +Inf, -Inf) or
 * bigints (64-bit counters, printed exactly).
 */

export type ExpositionFormat = 'prometheus' | 'openmetrics';
export type MetricType = 'counter' | 'gauge';
export type Labels = Readonly<Record<string, string>>;

export const CONTENT_TYPE: Record<ExpositionFormat, string> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

export class ExpositionError extends Error {
  override readonly name = 'ExpositionError';
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface FamilySpec {
  /** For counters: the name WITHOUT `_total` (the writer adds it to samples). */
  name: string;
  type: MetricType;
  help: string;
  /** OpenMetrics unit (`bytes`, `seconds`, `ratio`); the name must end with `_<unit>`. */
  unit?: string;
}

export function escapeLabelValue(v: string): string {
  if (!/[\\"\n]/.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string, om: boolean): string {
  let s = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  if (om) s = s.replace(/"/g, '\\"');
  return s;
}

export function formatValue(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * Collects families and renders one body. Usage:
 *   const w = new ExpositionWriter('prometheus');
 *   w.family({ name: 'x_events', type: 'counter', help: '...' });
 *   w.sample({ type: 'new' }, 5);
 *   const body = w.finish();
 */
export class ExpositionWriter {
  readonly format: ExpositionFormat;
  private readonly parts: string[] = [];
  private current: FamilySpec | undefined;
  private sampleName = '';
  private readonly seen = new Set<string>();
  private finished = false;
  /** Labels added to every sample (e.g. netns). */
  private readonly constLabels: string;

  constructor(format: ExpositionFormat, constLabels: Labels = {}) {
    this.format = format;
    this.constLabels = renderLabelPairs(constLabels);
  }

  /** Start a family: HELP, TYPE and (OpenMetrics) UNIT lines. */
  family(spec: FamilySpec): this {
    if (this.finished) throw new ExpositionError('writer already finished');
    const { name, type, help, unit } = spec;
    if (!NAME_RE.test(name)) throw new ExpositionError(`invalid metric name: ${JSON.stringify(name)}`);
    if (type === 'counter' && name.endsWith('_total')) throw new ExpositionError(`counter family ${name}: give the name without _total`);
    if (unit !== undefined && !name.endsWith(`_${unit}`)) throw new ExpositionError(`family ${name}: the name must end with _${unit}`);
    if (this.seen.has(name)) throw new ExpositionError(`family ${name} written twice`);
    this.seen.add(name);
    this.current = spec;
    this.sampleName = type === 'counter' ? `${name}_total` : name;
    const om = this.format === 'openmetrics';
    const familyName = om ? name : this.sampleName;
    this.parts.push(`# HELP ${familyName} ${escapeHelp(help, om)}\n# TYPE ${familyName} ${type}\n`);
    if (om && unit !== undefined) this.parts.push(`# UNIT ${familyName} ${unit}\n`);
    return this;
  }

  /** One sample of the current family. */
  sample(labels: Labels | undefined, value: number | bigint): this {
    if (this.current === undefined) throw new ExpositionError('sample() before family()');
    if (typeof value === 'number' && this.current.type === 'counter' && !(value >= 0)) {
      throw new ExpositionError(`counter ${this.current.name}: negative or NaN value ${value}`);
    }
    const own = labels === undefined ? '' : renderLabelPairs(labels);
    const all = own === '' ? this.constLabels : this.constLabels === '' ? own : `${this.constLabels},${own}`;
    this.parts.push(all === '' ? `${this.sampleName} ${formatValue(value)}\n` : `${this.sampleName}{${all}} ${formatValue(value)}\n`);
    return this;
  }

  /** The whole body; OpenMetrics ends with `# EOF`. */
  finish(): string {
    if (!this.finished) {
      this.finished = true;
      if (this.format === 'openmetrics') this.parts.push('# EOF\n');
    }
    return this.parts.join('');
  }
}

function renderLabelPairs(labels: Labels): string {
  let out = '';
  for (const k in labels) {
    if (!LABEL_RE.test(k) || k.startsWith('__')) throw new ExpositionError(`invalid label name: ${JSON.stringify(k)}`);
    const v = labels[k]!;
    out += `${out === '' ? '' : ','}${k}="${escapeLabelValue(v)}"`;
  }
  return out;
}

/**
 * Content negotiation on the Accept header, as client_golang does: OpenMetrics when the
 * scraper prefers `application/openmetrics-text` (q-values honoured; version 1.0.0, 0.0.1 or
 * none), otherwise the text format 0.0.4 (also for a missing or unparsable header).
 */
export function negotiate(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'prometheus';
  let bestOm = -1;
  let bestText = -1;
  for (const part of accept.split(',')) {
    const [typeRaw, ...params] = part.split(';');
    const type = (typeRaw ?? '').trim().toLowerCase();
    let q = 1;
    let version: string | undefined;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim().toLowerCase();
      const v = p.slice(eq + 1).trim().replace(/^"|"$/g, '');
      if (k === 'q') {
        const n = Number(v);
        q = Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : 0;
      } else if (k === 'version') version = v;
    }
    if (q <= 0) continue;
    if (type === 'application/openmetrics-text') {
      if (version === undefined || version === '1.0.0' || version === '0.0.1') bestOm = Math.max(bestOm, q);
    } else if (type === 'text/plain' || type === '*/*' || type === 'text/*') {
      bestText = Math.max(bestText, q);
    }
  }
  return bestOm > 0 && bestOm >= bestText ? 'openmetrics' : 'prometheus';
}
