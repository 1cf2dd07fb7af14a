/// <reference types="node" />
/**
 * Output formats of ctevents, one line per message (no trailing newline):
 *
 *   conntrack  byte-identical to conntrack-tools 1.4.7 (`conntrack -E` / `-L` / `-S` / `-C`)
 *   text       the default: aligned, readable, one line for every kind of message
 *   json       one object per line, the stable schema documented in json.ts
 *
 * Each module exports `formatMessage(m, ctx)` with default options and a factory for
 * other options; `undefined` means "nothing to print for this message in this format".
 */
import type { Message } from '../ctnetlink/model.js';
import { createConntrackFormatter, type ConntrackFormatOptions } from './conntrack.js';
import { createJsonFormatter, type JsonFormatOptions } from './json.js';
import { createTextFormatter, type TextFormatOptions } from './text.js';

/** What a formatter knows besides the message. */
export interface FormatContext {
  /** Receive or capture time of the message, ns since the epoch. */
  timestampNs?: bigint;
}

/** One line for a message, or undefined when the format prints nothing for it. */
export type LineFormatter = (m: Message, ctx?: FormatContext) => string | undefined;

export type FormatName = 'conntrack' | 'text' | 'json';

export const FORMAT_NAMES: readonly FormatName[] = ['text', 'json', 'conntrack'];

export interface FormatOptions {
  conntrack?: ConntrackFormatOptions;
  text?: TextFormatOptions;
  json?: JsonFormatOptions;
}

/** The line formatter for `name`, with that format's options from `options`. */
export function createFormatter(name: FormatName, options: FormatOptions = {}): LineFormatter {
  switch (name) {
    case 'conntrack': return createConntrackFormatter(options.conntrack);
    case 'text': return createTextFormatter(options.text);
    case 'json': return createJsonFormatter(options.json);
  }
}

export {
  createConntrackFormatter,
  ctime,
  familyName,
  formatConntrackEntry,
  formatCountConntrack,
  formatCpuStatsConntrack,
  formatExpectCpuStatsConntrack,
  formatExpectationConntrack,
  formatMessage as formatConntrackMessage,
  protoName,
  type ConntrackFormatOptions,
  type CtEventName,
} from './conntrack.js';
export { createTextFormatter, formatMessage as formatTextMessage, localTime, type TextFormatOptions } from './text.js';
export {
  createJsonFormatter,
  formatMessage as formatJsonMessage,
  isoTime,
  stringifyJson,
  toJson,
  type JsonFormatOptions,
  type JsonObject,
  type JsonValue,
} from './json.js';
// Host providers for the conntrack format's options (they read files; the formatters do not).
export { CONNLABEL_CONF, loadConnlabels, parseConnlabelConf } from '../host/connlabel.js';
export { procPortidResolver } from '../host/progname.js';
