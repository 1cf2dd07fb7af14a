/**
 * Readers for the oracle files beside each capture (captures/NAME.conntrack.xml / .txt),
 * written by conntrack-tools 1.4.7 (libnetfilter_conntrack 1.0.9). No dependencies: the XML
 * is small and regular (elements, attributes, text, self-closing tags), and the text output
 * is `conntrack`'s one-line-per-object format.
 */

export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

function unescape(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Parses an XML document into a tree (the prolog is skipped). Throws on unbalanced tags. */
export function parseXml(text: string): XmlNode {
  const root: XmlNode = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlNode[] = [root];
  const re = /<\?[^>]*\?>|<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const top = stack[stack.length - 1]!;
    if (m[0].startsWith('<?')) continue;
    if (m[5] !== undefined) {
      top.text += unescape(m[5]);
      continue;
    }
    const [, close, name, attrText, selfClose] = m;
    if (close) {
      if (top.name !== name) throw new Error(`XML: </${name}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (attrText ?? '').matchAll(/([\w.-]+)="([^"]*)"/g)) attrs[a[1]!] = unescape(a[2]!);
    const node: XmlNode = { name: name!, attrs, children: [], text: '' };
    top.children.push(node);
    if (!selfClose) stack.push(node);
  }
  if (stack.length !== 1) throw new Error(`XML: <${stack[stack.length - 1]!.name}> not closed`);
  return root;
}

export function child(n: XmlNode | undefined, name: string): XmlNode | undefined {
  return n?.children.find((c) => c.name === name);
}

function childText(n: XmlNode | undefined, name: string): string | undefined {
  const c = child(n, name);
  return c ? c.text.trim() : undefined;
}

function num(s: string | undefined): number | undefined {
  return s === undefined ? undefined : Number(s);
}

function big(s: string | undefined): bigint | undefined {
  return s === undefined ? undefined : BigInt(s);
}

/** One direction as conntrack printed it. */
export interface OracleTuple {
  l3?: number;
  src?: string;
  dst?: string;
  proto?: number;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  zone?: number;
  packets?: bigint;
  bytes?: bigint;
}

/** A conntrack entry or event as conntrack printed it (XML or text). */
export interface OracleFlow {
  /** 'new' | 'update' | 'destroy' for events; undefined for listings. */
  type?: string;
  orig: OracleTuple;
  reply: OracleTuple;
  state?: string;
  timeout?: number;
  mark?: number;
  secmark?: number;
  zone?: number;
  use?: number;
  id?: number;
  assured?: boolean;
  unreplied?: boolean;
  start?: bigint;
  stop?: bigint;
  deltatime?: number;
  helper?: string;
  labels?: string[];
  /** Text output: "[USERSPACE] portid=N" (the requester of a change). */
  portid?: number;
  /** Whether the "independent" meta block (status-derived flags) was printed (XML). */
  hasStatus?: boolean;
  /** The source line (text) for messages. */
  line?: string;
}

function xmlTuple(meta: XmlNode | undefined): OracleTuple {
  const t: OracleTuple = {};
  const l3 = child(meta, 'layer3');
  const l4 = child(meta, 'layer4');
  t.l3 = num(l3?.attrs.protonum);
  t.src = childText(l3, 'src');
  t.dst = childText(l3, 'dst');
  t.proto = num(l4?.attrs.protonum);
  t.sport = num(childText(l4, 'sport'));
  t.dport = num(childText(l4, 'dport'));
  t.zone = num(childText(meta, 'zone'));
  const counters = child(meta, 'counters');
  if (counters) {
    t.packets = big(childText(counters, 'packets'));
    t.bytes = big(childText(counters, 'bytes'));
  }
  return t;
}

/** A <flow> element of `conntrack -E/-L -o xml[,id,ktimestamp,labels]`. */
export function flowFromXml(flow: XmlNode): OracleFlow {
  const metas = flow.children.filter((c) => c.name === 'meta');
  const dir = (d: string) => metas.find((m) => m.attrs.direction === d);
  const ind = dir('independent');
  const f: OracleFlow = { orig: xmlTuple(dir('original')), reply: xmlTuple(dir('reply')) };
  if (flow.attrs.type !== undefined) f.type = flow.attrs.type;
  if (ind) {
    f.state = childText(ind, 'state');
    f.timeout = num(childText(ind, 'timeout'));
    f.mark = num(childText(ind, 'mark'));
    f.secmark = num(childText(ind, 'secmark'));
    f.zone = num(childText(ind, 'zone'));
    f.use = num(childText(ind, 'use'));
    f.id = num(childText(ind, 'id'));
    f.assured = child(ind, 'assured') !== undefined;
    f.unreplied = child(ind, 'unreplied') !== undefined;
    const ts = child(ind, 'timestamp');
    f.start = big(childText(ts, 'start'));
    f.stop = big(childText(ts, 'stop'));
    f.deltatime = num(childText(ind, 'deltatime'));
    const labels = child(ind, 'labels');
    if (labels) f.labels = labels.children.filter((c) => c.name === 'label').map((c) => c.text.trim());
  }
  f.helper = childText(flow, 'helper');
  return f;
}

/** An expectation as conntrack printed it. */
export interface OracleExpect {
  type?: string;
  l3?: number;
  proto?: number;
  expected: OracleTuple;
  mask: OracleTuple;
  master: OracleTuple;
  timeout?: number;
  helper?: string;
  class?: number;
  line?: string;
}

function xmlPart(l3: XmlNode | undefined, l4: XmlNode | undefined, name: string): OracleTuple {
  const a = child(l3, name);
  const p = child(l4, name);
  return { src: childText(a, 'src'), dst: childText(a, 'dst'), sport: num(childText(p, 'sport')), dport: num(childText(p, 'dport')) };
}

/** A <flow> element of `conntrack -L/-E expect -o xml`. */
export function expectFromXml(flow: XmlNode): OracleExpect {
  const l3 = child(flow, 'layer3');
  const l4 = child(flow, 'layer4');
  const meta = child(flow, 'meta');
  const e: OracleExpect = {
    l3: num(l3?.attrs.protonum),
    proto: num(l4?.attrs.protonum),
    expected: xmlPart(l3, l4, 'expected'),
    mask: xmlPart(l3, l4, 'mask'),
    master: xmlPart(l3, l4, 'master'),
    timeout: num(childText(meta, 'timeout')),
    helper: childText(meta, 'helper-name'),
    class: num(childText(meta, 'class')),
  };
  if (flow.attrs.type !== undefined) e.type = flow.attrs.type;
  return e;
}

/** A section of NAME.conntrack.xml: one conntrack command and what it printed. */
export interface XmlSection {
  tag: 'events' | 'list';
  command: string;
  seq?: number;
  expect: boolean;
  flows: XmlNode[];
}

/** Splits NAME.conntrack.xml into its <events>/<list> sections. */
export function xmlSections(text: string): XmlSection[] {
  const doc = parseXml(text);
  const capture = child(doc, 'capture');
  if (!capture) throw new Error('no <capture> element');
  return capture.children.map((s) => {
    const flows: XmlNode[] = [];
    const walk = (n: XmlNode) => {
      for (const c of n.children) {
        if (c.name === 'flow') flows.push(c);
        else walk(c);
      }
    };
    walk(s);
    const command = s.attrs.command ?? '';
    return {
      tag: s.name as 'events' | 'list',
      command,
      seq: s.attrs.seq !== undefined ? Number(s.attrs.seq) : undefined,
      expect: / expect\b/.test(command),
      flows,
    };
  });
}

/** A section of NAME.conntrack.txt: "## command [key=value...]" then output lines. */
export interface TextSection {
  command: string;
  seq?: number;
  lines: string[];
  /** "#> " lines: conntrack's stderr summary and exit status. */
  notes: string[];
}

export function textSections(text: string): TextSection[] {
  const out: TextSection[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('## ')) {
      const m = / seq=(\d+)$/.exec(line);
      out.push({ command: line.slice(3).replace(/ seq=\d+$/, ''), seq: m ? Number(m[1]) : undefined, lines: [], notes: [] });
    } else if (line.startsWith('#> ')) {
      out[out.length - 1]?.notes.push(line.slice(3));
    } else if (line.trim() !== '') {
      out[out.length - 1]?.lines.push(line);
    }
  }
  return out;
}

const EVENT_TAGS: Record<string, string> = { '[NEW]': 'new', '[UPDATE]': 'update', '[DESTROY]': 'destroy' };

/**
 * One line of `conntrack -E/-L -o extended,id,ktimestamp[,labels]` (default printer):
 * "[EVENT] l3name l3num l4name l4num [timeout] [STATE] src= dst= sport= dport=|type= code= id=
 * [zone-orig=] [packets= bytes=] [UNREPLIED] src= ... [ASSURED] mark= zone= use= id= labels=
 * [USERSPACE] portid= progname=".
 */
export function flowFromText(line: string): OracleFlow {
  let rest = line.trim();
  const f: OracleFlow = { orig: {}, reply: {}, line };
  const ev = /^(\[NEW\]|\[UPDATE\]|\[DESTROY\])\s+/.exec(rest);
  if (ev) {
    f.type = EVENT_TAGS[ev[1]!];
    rest = rest.slice(ev[0].length);
  }
  const start = /\[start=([^\]]+)\]/.exec(rest);
  const stop = /\[stop=([^\]]+)\]/.exec(rest);
  rest = rest.replace(/\[start=[^\]]+\]/, '').replace(/\[stop=[^\]]+\]/, '');
  if (start) f.start = BigInt(Date.parse(`${start[1]} UTC`)) * 1_000_000n;
  if (stop) f.stop = BigInt(Date.parse(`${stop[1]} UTC`)) * 1_000_000n;
  const tokens = rest.split(/\s+/).filter(Boolean);
  let i = 0;
  const l3name = tokens[i++];
  f.orig.l3 = Number(tokens[i++]);
  f.reply.l3 = f.orig.l3;
  if (l3name !== 'ipv4' && l3name !== 'ipv6') throw new Error(`expected -o extended output: ${line}`);
  i++; // l4 name
  f.orig.proto = Number(tokens[i++]);
  f.reply.proto = f.orig.proto;
  if (/^\d+$/.test(tokens[i] ?? '')) f.timeout = Number(tokens[i++]);
  if (/^[A-Z_0-9]+$/.test(tokens[i] ?? '')) f.state = tokens[i++];
  let tuple: OracleTuple | undefined;
  let prev = '';
  for (; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (tok === '[UNREPLIED]') f.unreplied = true;
    else if (tok === '[ASSURED]') f.assured = true;
    else if (tok === '[USERSPACE]') continue;
    else {
      const eq = tok.indexOf('=');
      if (eq < 0) continue;
      const k = tok.slice(0, eq);
      const v = tok.slice(eq + 1);
      if (k === 'src') tuple = tuple === undefined ? f.orig : f.reply;
      const t = tuple ?? f.orig;
      switch (k) {
        case 'src': t.src = v; break;
        case 'dst': t.dst = v; break;
        case 'sport': t.sport = Number(v); break;
        case 'dport': t.dport = Number(v); break;
        case 'type': t.icmpType = Number(v); break;
        case 'code': t.icmpCode = Number(v); break;
        case 'id':
          if (prev === 'code') t.icmpId = Number(v);
          else f.id = Number(v);
          break;
        case 'packets': t.packets = BigInt(v); break;
        case 'bytes': t.bytes = BigInt(v); break;
        case 'zone-orig': f.orig.zone = Number(v); break;
        case 'zone-reply': f.reply.zone = Number(v); break;
        case 'mark': f.mark = Number(v); break;
        case 'secmark': f.secmark = Number(v); break;
        case 'zone': f.zone = Number(v); break;
        case 'use': f.use = Number(v); break;
        case 'helper': f.helper = v; break;
        case 'labels': f.labels = v.split(','); break;
        case 'delta-time': f.deltatime = Number(v); break;
        case 'portid': f.portid = Number(v); break;
      }
      prev = k;
    }
  }
  return f;
}

/**
 * One line of `conntrack -L/-E expect` (default printer): "[EVENT] timeout proto=N src= dst=
 * sport= dport= mask-src= mask-dst= sport= dport= master-src= master-dst= sport= dport=
 * class=N helper=NAME".
 */
export function expectFromText(line: string): OracleExpect {
  let rest = line.trim();
  const e: OracleExpect = { expected: {}, mask: {}, master: {}, line };
  const ev = /^(\[NEW\]|\[UPDATE\]|\[DESTROY\])\s+/.exec(rest);
  if (ev) {
    e.type = EVENT_TAGS[ev[1]!];
    rest = rest.slice(ev[0].length);
  }
  const tokens = rest.split(/\s+/);
  if (/^\d+$/.test(tokens[0] ?? '')) e.timeout = Number(tokens.shift());
  let part: OracleTuple = e.expected;
  for (const tok of tokens) {
    const eq = tok.indexOf('=');
    if (eq < 0) continue;
    const k = tok.slice(0, eq);
    const v = tok.slice(eq + 1);
    switch (k) {
      case 'proto': e.proto = Number(v); break;
      case 'src': part = e.expected; part.src = v; break;
      case 'mask-src': part = e.mask; part.src = v; break;
      case 'master-src': part = e.master; part.src = v; break;
      case 'dst': case 'mask-dst': case 'master-dst': part.dst = v; break;
      case 'sport': part.sport = Number(v); break;
      case 'dport': part.dport = Number(v); break;
      case 'class': e.class = Number(v); break;
      case 'helper': e.helper = v; break;
    }
  }
  return e;
}

/** "cpu=0 found=0 invalid=0 ..." lines of `conntrack -S [expect]`. */
export function statsFromText(lines: string[]): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const line of lines) {
    const rec: Record<string, number> = {};
    for (const m of line.matchAll(/([\w]+)=(\d+)/g)) rec[m[1]!] = Number(m[2]);
    if (rec.cpu !== undefined) out.set(rec.cpu, rec);
  }
  return out;
}

/** connlabel.conf: "N name" lines → bit → name. */
export function parseConnlabel(text: string | null | undefined): Map<number, string> {
  const map = new Map<number, string>();
  for (const line of (text ?? '').split('\n')) {
    const m = /^\s*(\d+)\s+(\S+)/.exec(line);
    if (m) map.set(Number(m[1]), m[2]!);
  }
  return map;
}
