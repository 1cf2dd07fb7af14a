/**
 * The HTTP side of `ctevents metrics`, on node:http only:
 *
 *   GET|HEAD /metrics   the exposition (OpenMetrics 1.0 when Accept asks for it, else text 0.0.4)
 *   GET|HEAD /          a small HTML page linking /metrics
 *   GET|HEAD /healthz   200 "ok" when every mirror is in sync, 503 otherwise
 *   other paths 404; other methods 405 (Allow: GET, HEAD)
 *
 * Abusive clients cannot stall the event loop or exhaust memory: headers are limited
 * (maxHeaderSize, default 8 KiB: 431), a request must be complete within headersTimeout /
 * requestTimeout (checked every second), idle keep-alive sockets close after
 * keepAliveTimeout, and at most maxConnections sockets are open: a new connection over the
 * limit evicts the oldest socket that is not answering a request (a slowloris' half-sent
 * headers, an idle keep-alive), so a real scraper always gets in. Request bodies are never
 * read into memory. The body of a scrape is rendered from memory (MetricsSource), never
 * from the kernel.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CONTENT_TYPE, negotiate } from './exposition.js';
import { renderMetrics, type RenderOptions } from './render.js';
import type { MetricsSource } from './source.js';

export interface MetricsServerOptions extends RenderOptions {
  maxConnections?: number;
  maxHeaderSize?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Called when rendering fails (the client gets a 500). */
  onError?: (e: unknown) => void;
}

export interface ServerStats {
  scrapes: number;
  connections: number;
  evicted: number;
}

const INDEX = `<!doctype html>
<html><head><meta charset="utf-8"><title>ctevents metrics</title></head>
<body><h1>ctevents metrics</h1>
<p>Linux conntrack table pressure for Prometheus.</p>
<ul><li><a href="/metrics">/metrics</a></li><li><a href="/healthz">/healthz</a></li></ul>
</body></html>
`;

export class MetricsServer {
  private readonly server: Server;
  private readonly sources: readonly MetricsSource[];
  private readonly opts: MetricsServerOptions;
  /** Open sockets in arrival order; true while a request is being answered. */
  private readonly sockets = new Map<Socket, boolean>();
  readonly stats: ServerStats = { scrapes: 0, connections: 0, evicted: 0 };

  constructor(sources: readonly MetricsSource[], opts: MetricsServerOptions = {}) {
    this.sources = sources;
    this.opts = opts;
    this.server = createServer(
      {
        maxHeaderSize: opts.maxHeaderSize ?? 8192,
        headersTimeout: opts.headersTimeoutMs ?? 5000,
        requestTimeout: opts.requestTimeoutMs ?? 10_000,
        keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5000,
        connectionsCheckingInterval: 1000,
      },
      (req, res) => this.handle(req, res),
    );
    this.server.maxRequestsPerSocket = 1000;
    this.server.timeout = 30_000;
    this.server.on('connection', (s: Socket) => this.admit(s));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable || (err.code === 'ECONNRESET')) {
        socket.destroy();
        return;
      }
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroySoon?.();
    });
  }

  private admit(s: Socket): void {
    const max = this.opts.maxConnections ?? 512;
    if (this.sockets.size >= max) {
      let victim: Socket | undefined;
      for (const [sock, busy] of this.sockets) {
        if (!busy) {
          victim = sock;
          break;
        }
      }
      if (!victim) {
        s.destroy();
        return;
      }
      this.sockets.delete(victim);
      victim.destroy();
      this.stats.evicted++;
    }
    this.stats.connections++;
    this.sockets.set(s, false);
    s.once('close', () => this.sockets.delete(s));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const sock = req.socket;
    if (this.sockets.has(sock)) {
      this.sockets.set(sock, true);
      res.once('close', () => this.sockets.has(sock) && this.sockets.set(sock, false));
    }
    req.resume(); // never buffer a body
    const method = req.method ?? '';
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (method !== 'GET' && method !== 'HEAD') {
      this.send(res, method, 405, 'text/plain; charset=utf-8', 'method not allowed: use GET or HEAD\n', { Allow: 'GET, HEAD' });
      return;
    }
    switch (path) {
      case '/metrics': {
        const format = negotiate(req.headers.accept);
        let body: string;
        try {
          body = renderMetrics(this.sources, format, this.opts);
        } catch (e) {
          this.opts.onError?.(e);
          this.send(res, method, 500, 'text/plain; charset=utf-8', 'internal error while rendering metrics\n');
          return;
        }
        this.stats.scrapes++;
        this.send(res, method, 200, CONTENT_TYPE[format], body);
        return;
      }
      case '/':
        this.send(res, method, 200, 'text/html; charset=utf-8', INDEX);
        return;
      case '/healthz': {
        const out = this.sources.filter((s) => !s.inSync());
        if (out.length === 0) this.send(res, method, 200, 'text/plain; charset=utf-8', 'ok: in sync\n');
        else this.send(res, method, 503, 'text/plain; charset=utf-8', `not in sync: ${out.map((s) => s.netns ?? '(own namespace)').join(', ')}\n`);
        return;
      }
      default:
        this.send(res, method, 404, 'text/plain; charset=utf-8', 'not found: try /metrics\n');
    }
  }

  private send(res: ServerResponse, method: string, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
    const buf = Buffer.from(body, 'utf8');
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': buf.length, 'Cache-Control': 'no-store', ...extra });
    res.end(method === 'HEAD' ? undefined : buf);
  }

  /** Listen; resolves with the bound address. Errors (EADDRINUSE, EACCES) reject. */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stop listening and drop every connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      for (const s of this.sockets.keys()) s.destroy();
      this.sockets.clear();
    });
  }
}
