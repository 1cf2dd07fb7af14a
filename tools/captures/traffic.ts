/**
 * Traffic generator for the capture scenarios. The recorder runs it inside a scenario's
 * network namespace (`ip netns exec NS node build/tools/captures/traffic.js MODE ...`), so every socket it opens
 * lives there. It uses only node:net / node:dgram and exits once its exchange is complete.
 *
 *   tcp HOST PORT                 listen, connect, exchange a line, client closes first
 *                                 (the client side ends up in TIME_WAIT), exit
 *   tcp-connect HOST PORT         connect to a server elsewhere (nat scenario), exchange, close
 *   tcp-serve HOST PORT           echo server for tcp-connect; runs until killed
 *   udp HOST PORT                 a flow that is answered (PORT) and one that is not (PORT+1)
 *   udp-send HOST PORT [COUNT]    COUNT datagrams to PORT, PORT+1, ... (nobody answers)
 *   udp-echo HOST PORT            echo server; runs until killed
 *   udp-ask HOST PORT             send one datagram, wait for the answer
 *   ftp                           FTP-like control connection on 127.0.0.1:21 (220, USER,
 *                                 331, PORT 127,0,0,1,39,16, 200); prints "expect-ready", waits for "go" on stdin,
 *                                 then opens the data connection and exits
 *
 * Progress goes to stderr; stdout carries only the lines the recorder waits for.
 */
import { createServer, connect, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';

const [mode = '', host = '127.0.0.1', portArg = '0', countArg = '1'] = process.argv.slice(2);
const port = Number(portArg);
const family: 'udp4' | 'udp6' = host.includes(':') ? 'udp6' : 'udp4';

function fail(err: unknown): never {
  process.stderr.write(`traffic ${mode}: ${(err as Error | undefined)?.stack ?? String(err)}\n`);
  process.exit(1);
}
process.on('uncaughtException', fail);
setTimeout(() => fail(new Error('timed out')), 20_000).unref();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connects, sends a line, waits for its echo, then closes our side first. */
async function tcpClient(h: string, p: number): Promise<void> {
  const c = connect({ host: h, port: p });
  await once(c, 'connect');
  c.write('hello\n');
  await once(c, 'data');
  await sleep(50);
  c.end();
  await once(c, 'close');
}

function echoServer(h: string, p: number): Server {
  const server = createServer((s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => setTimeout(() => s.end(), 50));
    s.on('error', () => {});
  });
  server.listen(p, h);
  return server;
}

async function udpPair(h: string, p: number): Promise<void> {
  const server = createSocket(family);
  server.bind(p, h);
  await once(server, 'listening');
  server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  const silent = createSocket(family);
  silent.bind(p + 1, h);
  await once(silent, 'listening');
  const client = createSocket(family);
  client.send('ping', p, h);
  await once(client, 'message');
  client.send('no answer', p + 1, h);
  await sleep(100);
  for (const s of [server, silent, client]) s.close();
}

async function udpSend(h: string, p: number, count: number): Promise<void> {
  const client = createSocket(family);
  for (let i = 0; i < count; i++) {
    client.send('x', p + i, h);
    if (i % 50 === 49) await sleep(5);
  }
  await sleep(100);
  client.close();
}

async function ftp(): Promise<void> {
  // The "client" listens for the data connection announced in PORT 127,0,0,1,39,16 (= 10000).
  const data = createServer((s) => {
    s.on('data', () => {});
    s.on('end', () => s.end());
  });
  data.listen(10000, '127.0.0.1');
  await once(data, 'listening');
  const server = createServer((s) => {
    s.write('220 hi\r\n');
    s.on('data', (line: Buffer) => {
      const text = line.toString();
      if (text.startsWith('USER')) s.write('331 ok\r\n');
      else if (text.startsWith('PORT')) s.write('200 ok\r\n');
    });
    s.on('end', () => s.end());
  });
  server.listen(21, '127.0.0.1');
  await once(server, 'listening');
  const c = connect({ host: '127.0.0.1', port: 21 });
  await once(c, 'data'); // 220
  // The helper parses a line only if it starts right after a newline it saw in that
  // direction, so the first client line is never parsed: send USER before PORT.
  c.write('USER anonymous\r\n');
  await once(c, 'data'); // 331
  c.write('PORT 127,0,0,1,39,16\r\n');
  await once(c, 'data'); // 200
  process.stdout.write('expect-ready\n');
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) if (String(chunk).includes('go')) break;
  // Active mode: the server opens the data connection from port 20 to the announced port.
  const d = connect({ host: '127.0.0.1', port: 10000, localAddress: '127.0.0.1', localPort: 20 });
  await once(d, 'connect');
  d.end('listing\r\n');
  await once(d, 'close');
  c.end();
  await once(c, 'close');
  server.close();
  data.close();
  process.stdout.write('done\n');
}

switch (mode) {
  case 'tcp': {
    const server = echoServer(host, port);
    await once(server, 'listening');
    await tcpClient(host, port);
    await sleep(200);
    server.close();
    break;
  }
  case 'tcp-connect':
    await tcpClient(host, port);
    break;
  case 'tcp-serve':
    await once(echoServer(host, port), 'listening');
    process.stdout.write('listening\n');
    await new Promise(() => {});
    break;
  case 'udp':
    await udpPair(host, port);
    break;
  case 'udp-send':
    await udpSend(host, port, Number(countArg));
    break;
  case 'udp-echo': {
    const s = createSocket(family);
    s.bind(port, host);
    await once(s, 'listening');
    s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
    process.stdout.write('listening\n');
    await new Promise(() => {});
    break;
  }
  case 'udp-ask': {
    const c = createSocket(family);
    c.send('question', port, host);
    await once(c, 'message');
    c.close();
    break;
  }
  case 'ftp':
    await ftp();
    break;
  default:
    fail(new Error(`unknown mode ${mode}`));
}
process.exit(0);

export {};
