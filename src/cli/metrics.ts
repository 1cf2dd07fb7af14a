/**
 * `ctevents metrics`: a Prometheus exporter for the conntrack table of one or more network
 * namespaces. One ConntrackClient and TableSource (a ConntrackTable mirror and a
 * PressureSampler) per namespace; one HTTP server. Runs until
 * SIGINT / SIGTERM (or the given AbortSignal), then closes the server, the subscriptions
 * and the sockets, and exits 0.
 */
import { parseArgs } from 'node:util';
import { ConntrackClient } from '../client/client.js';
import { TableSource } from '../metrics/table-source.js';
import { MetricsServer } from '../metrics/server.js';
import { UsageError, usageFromParseArgs } from './args.js';
import type { Io } from './session.js';

export const METRICS_HELP = `Usage: ctevents metrics [options]

Serve the conntrack table's pressure to Prometheus: node_exporter's node_nf_conntrack_*
families (same names and values) and ctevents_* (per-CPU counters, entries by protocol,
TCP state, assured, zone, top sources and destination ports, events and losses, the
diagnosis). Every scrape is answered from memory: the live table mirror (events plus one
dump at start) and the pressure sampler.

Options:
  --listen HOST:PORT     address to serve on (default 127.0.0.1:9101; [::1]:9101 for IPv6)
  --netns NS             network namespace to follow (name, path or pid); repeat it to follow
                         several at once: samples then carry a netns label
  --top N                top-N sources and destination ports (default 10, at most 1000)
  --interval SECONDS     kernel counters sampling period (default 1)
  --buffer-size BYTES    event socket receive buffer (default 64 MiB)
  --max-connections N    open HTTP connections (default 512; the oldest idle one is evicted)
  -h, --help             show this help

Endpoints: /metrics (text 0.0.4, or OpenMetrics 1.0 on Accept), /healthz (200 when the
mirror is in sync, else 503), / (a page linking /metrics).
`;

export interface MetricsOptions {
  host: string;
  port: number;
  netns: string[];
  top: number;
  intervalMs: number;
  bufferSize?: number;
  maxConnections: number;
  help: boolean;
}

function int(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name}: not a number: ${v}`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name}: must be between ${min} and ${max}`);
  return n;
}

/** HOST:PORT, [IPV6]:PORT or :PORT (all of 127.0.0.1). */
export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v);
  if (!m) throw new UsageError(`--listen: expected HOST:PORT or [IPV6]:PORT, got ${JSON.stringify(v)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`--listen: port out of range: ${m[3]}`);
  const host = m[1] ?? (m[2] === '' ? '127.0.0.1' : m[2]!);
  return { host, port };
}

export function parseMetricsArgs(argv: readonly string[]): MetricsOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        netns: { type: 'string', multiple: true },
        top: { type: 'string' },
        interval: { type: 'string' },
        'buffer-size': { type: 'string' },
        'max-connections': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw usageFromParseArgs(e, 'metrics');
  }
  const { host, port } = parseListen(values.listen ?? '127.0.0.1:9101');
  const interval = values.interval === undefined ? 1 : Number(values.interval);
  if (!Number.isFinite(interval) || interval < 0.1 || interval > 3600) throw new UsageError('--interval: seconds between 0.1 and 3600');
  const netns = values.netns ?? [];
  if (new Set(netns).size !== netns.length) throw new UsageError('--netns: the same namespace twice');
  const bufferSize = int('buffer-size', values['buffer-size'], 4096, 2 ** 31 - 1);
  return {
    host,
    port,
    netns,
    top: int('top', values.top, 0, 1000) ?? 10,
    intervalMs: Math.round(interval * 1000),
    ...(bufferSize !== undefined ? { bufferSize } : {}),
    maxConnections: int('max-connections', values['max-connections'], 1, 100_000) ?? 512,
    help: values.help ?? false,
  };
}

/** Run the exporter until a signal (io.signals) or `stop`; returns the exit code. */
export async function metrics(argv: readonly string[], io: Io, stop?: AbortSignal): Promise<number> {
  const opts = parseMetricsArgs(argv);
  if (opts.help) {
    io.stdout.write(METRICS_HELP);
    return 0;
  }
  let lastError = '';
  let lastErrorAt = 0;
  const onError = (e: unknown) => {
    const msg = String((e as Error)?.message ?? e);
    const now = Date.now();
    if (msg === lastError && now - lastErrorAt < 10_000) return;
    lastError = msg;
    lastErrorAt = now;
    io.stderr.write(`ctevents metrics: ${msg}\n`);
  };
  const clients: ConntrackClient[] = [];
  const sources: TableSource[] = [];
  let server: MetricsServer | undefined;
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  if (io.signals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  stop?.addEventListener('abort', onSignal, { once: true });
  try {
    const targets: (string | undefined)[] = opts.netns.length > 0 ? opts.netns : [undefined];
    for (const ns of targets) {
      const client = await ConntrackClient.open({ ...(ns !== undefined ? { netns: ns } : {}), ...(opts.bufferSize !== undefined ? { receiveBufferSize: opts.bufferSize } : {}) });
      clients.push(client);
      const src = new TableSource(client, { ...(ns !== undefined ? { netns: ns } : {}), sampleIntervalMs: opts.intervalMs, onError });
      sources.push(src);
      await src.start();
    }
    server = new MetricsServer(sources, { top: opts.top, maxConnections: opts.maxConnections, onError });
    const addr = await server.listen(opts.host, opts.port);
    const shown = addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
    io.stderr.write(`ctevents metrics: serving http://${shown}/metrics${opts.netns.length ? ` for ${opts.netns.join(', ')}` : ''}\n`);
    if (!abort.signal.aborted) await new Promise<void>((res) => abort.signal.addEventListener('abort', () => res(), { once: true }));
    io.stderr.write(`ctevents metrics: stopped after ${server.stats.scrapes} scrapes\n`);
    return 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    stop?.removeEventListener('abort', onSignal);
    await server?.close();
    for (const s of sources) s.stop();
    for (const c of clients) await c.close();
  }
}
