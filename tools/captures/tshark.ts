/**
 * Reduces `tshark -T json --no-duplicate-keys` output of a netlink capture to what the
 * capture tests compare: per frame, per netlink message, the header Wireshark read, the
 * nfgenmsg, the error code of NLMSG_ERROR (and the request header it echoes), and every
 * leaf field of the attribute tree under a path of attribute names.
 *
 * Nothing is re-interpreted: values are the strings tshark printed. Only structure is
 * dropped (attribute lengths, raw type words, the per-attribute "_tree" flag breakdowns,
 * except that an attribute Wireshark has no name for is named "#<type>").
 *
 * Shared by tools/captures/record.ts (writes NAME.tshark.json) and test/captures.test.ts (checks
 * that a live tshark run still agrees with the stored one on the message count).
 */

/** One netlink message of a frame as the capture tests compare it. */
export interface ReducedMessage {
  hdr: { len?: string; type?: string; flags?: string; seq?: string; pid?: string };
  nfgen?: { subsys?: string; family?: string; version?: string; resId?: string };
  error?: string;
  echo?: { len?: string; type?: string; flags?: string; seq?: string; pid?: string };
  fields?: Record<string, string | string[]>;
}

/** One frame: its number, tshark's protocol list, expert infos, and its messages. */
export interface ReducedFrame {
  frame: number;
  protocols: string;
  expert?: unknown[];
  messages: ReducedMessage[];
}

type Json = Record<string, any>;
type Header = ReducedMessage['hdr'];

const HEADER_FIELDS: Record<string, keyof Header> = {
  'netlink.hdr_len': 'len',
  'netlink.hdr_type': 'type',
  'netlink.hdr_flags': 'flags',
  'netlink.hdr_seq': 'seq',
  'netlink.hdr_pid': 'pid',
};

const NFGEN_FIELDS: Record<string, keyof NonNullable<ReducedMessage['nfgen']>> = {
  'netlink-netfilter.subsys': 'subsys',
  'netlink-netfilter.family': 'family',
  'netlink-netfilter.version': 'version',
  'netlink-netfilter.res_id': 'resId',
};

function first(v: any): string {
  return Array.isArray(v) ? v[0] : v;
}

function readHeader(obj: Json): Header {
  const h: Header = {};
  for (const [k, name] of Object.entries(HEADER_FIELDS)) if (k in obj) h[name] = first(obj[k]);
  return h;
}

function attrName(key: string, obj: Json): string {
  if (key !== 'Attribute') return key.replace(/^Attribute: /, '');
  const type = Number.parseInt(first(obj['netlink.attr_type']) ?? 'NaN', 16);
  return Number.isNaN(type) ? '#?' : `#${type & 0x3fff}`;
}

function put(fields: Record<string, string | string[]>, key: string, value: string): void {
  const had = fields[key];
  if (had === undefined) fields[key] = value;
  else if (Array.isArray(had)) had.push(value);
  else fields[key] = [had, value];
}

/** Collects the leaves of one attribute subtree under `path`. */
function collect(fields: Record<string, string | string[]>, path: string, obj: Json): void {
  for (const [k, v] of Object.entries(obj)) {
    if (k.endsWith('_tree') || k === 'netlink.attr_len' || k === 'netlink.attr_type') continue;
    if (k.startsWith('Attribute')) {
      for (const sub of Array.isArray(v) ? v : [v]) collect(fields, `${path}${attrName(k, sub)}/`, sub);
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      collect(fields, `${path}${k}/`, v);
    } else {
      for (const leaf of Array.isArray(v) ? v : [v]) put(fields, `${path}${shortField(k)}`, leaf);
    }
  }
}

/** Field names without their protocol prefix: "nfct_tuple.ip.ip_addr", "attr_data". */
function shortField(k: string): string {
  return k.replace(/^netlink-netfilter\./, '').replace(/^netlink\./, '');
}

/** One message unit: the object tshark made for one netlink message. */
function reduceMessage(unit: Json): ReducedMessage {
  const msg: ReducedMessage = { hdr: {} };
  let sawHeader = false;
  const fields: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(unit)) {
    if (k.startsWith('Netlink message header')) {
      const h = readHeader(Array.isArray(v) ? v[0] : v);
      if (!sawHeader) {
        msg.hdr = h;
        sawHeader = true;
      } else {
        msg.echo = h;
      }
    } else if (k in HEADER_FIELDS) {
      msg.hdr[HEADER_FIELDS[k]!] = first(v);
      sawHeader = true;
    } else if (k in NFGEN_FIELDS) {
      (msg.nfgen ??= {})[NFGEN_FIELDS[k]!] = first(v);
    } else if (k === 'netlink.error') {
      msg.error = first(v);
    } else if (k.startsWith('Attribute')) {
      for (const sub of Array.isArray(v) ? v : [v]) collect(fields, `${attrName(k, sub)}/`, sub);
    } else if (!k.endsWith('_tree')) {
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) collect(fields, `${k}/`, v);
      else for (const leaf of Array.isArray(v) ? v : [v]) put(fields, shortField(k), leaf);
    }
  }
  if (Object.keys(fields).length > 0) msg.fields = fields;
  return msg;
}

/**
 * `frames`: the parsed JSON array of `tshark -T json --no-duplicate-keys`.
 * Returns [{ frame, protocols, messages: [{ hdr, nfgen?, error?, echo?, fields? }] }].
 */
export function reduceTshark(frames: unknown[]): ReducedFrame[] {
  return (frames as Json[]).map((f) => {
    const layers: Json = f._source.layers;
    const frame: Json = layers.frame ?? {};
    const out: ReducedFrame = { frame: Number(frame['frame.number']), protocols: frame['frame.protocols'], messages: [] };
    for (const [name, value] of Object.entries(layers)) {
      if (name === 'frame' || name === 'netlink' || name.startsWith('_ws')) {
        if (name.startsWith('_ws')) (out.expert ??= []).push({ [name]: value });
        continue;
      }
      for (const unit of Array.isArray(value) ? value : [value]) out.messages.push(reduceMessage(unit));
    }
    return out;
  });
}

/** The `tshark` arguments whose JSON output reduceTshark() expects. */
export function tsharkJsonArgs(pcapPath: string): string[] {
  return ['-r', pcapPath, '-T', 'json', '--no-duplicate-keys'];
}
