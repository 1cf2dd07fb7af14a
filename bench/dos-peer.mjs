/**
 * The legitimate side of the DoS testbed (bench/dos.ts), run inside its namespaces:
 *
 *   node bench/dos-peer.mjs server
 *       TCP :5000 answers "OK\n" to a request and closes; TCP :5001 echoes (long-lived flows).
 *   node bench/dos-peer.mjs client SERVER RATE FLOWS INTERVAL_MS
 *       opens FLOWS long-lived connections to SERVER:5001, each sending 8 bytes every
 *       INTERVAL_MS (staggered) and expecting the echo within 5 s (else, or on error or
 *       close, the flow is dead for good); prints {"ready":true} once all are up; then opens
 *       RATE new connections per second to SERVER:5000 (connect, "GET\n", "OK\n" within 1 s
 *       of the start = success). Once a second it prints the outcome of the attempts started
 *       two seconds earlier: {"t":MS,"attempts":N,"ok":N,"alive":N,"dead":N}. SIGTERM ends
 *       it after flushing.
 */
import { connect, createServer } from 'node:net';

const [mode, ...args] = process.argv.slice(2);

function server() {
  const req = createServer((c) => {
    c.on('data', () => c.end('OK\n'));
    c.on('error', () => {});
  });
  req.listen({ port: 5000, backlog: 4096 });
  const echo = createServer((c) => {
    c.on('data', (d) => c.write(d));
    c.on('error', () => {});
  });
  echo.listen({ port: 5001, backlog: 4096 });
  process.on('SIGTERM', () => process.exit(0));
}

function client(host, rate, flows, intervalMs) {
  let alive = 0;
  let dead = 0;
  let up = 0;
  const flowSockets = [];
  for (let i = 0; i < flows; i++) {
    const s = connect({ host, port: 5001 });
    flowSockets.push(s);
    let state = 'connecting';
    let pending;
    const die = () => {
      if (state === 'dead') return;
      if (state === 'alive') alive--;
      state = 'dead';
      dead++;
      clearTimeout(pending);
      s.destroy();
    };
    s.setNoDelay(true);
    s.on('connect', () => {
      state = 'alive';
      alive++;
      up++;
      if (up === flows) process.stdout.write('{"ready":true}\n');
      const tick = () => {
        if (state !== 'alive') return;
        s.write('ping1234');
        pending = setTimeout(die, 5000);
      };
      setTimeout(() => {
        tick();
        const iv = setInterval(() => (state === 'alive' ? tick() : clearInterval(iv)), intervalMs);
      }, Math.random() * intervalMs);
    });
    s.on('data', () => clearTimeout(pending));
    s.on('error', die);
    s.on('close', die);
  }
  const seconds = new Map();
  const attempt = () => {
    const start = Date.now();
    const sec = Math.floor(start / 1000) * 1000;
    let rec = seconds.get(sec);
    if (!rec) seconds.set(sec, (rec = { attempts: 0, ok: 0 }));
    rec.attempts++;
    const r = rec;
    const c = connect({ host, port: 5000 });
    const timer = setTimeout(() => c.destroy(), 1000);
    c.on('connect', () => c.write('GET\n'));
    c.on('data', (d) => {
      if (d.toString().includes('OK') && Date.now() - start <= 1000) r.ok++;
      clearTimeout(timer);
      c.destroy();
    });
    c.on('error', () => clearTimeout(timer));
  };
  let started = false;
  const begin = () => {
    if (started) return;
    started = true;
    // Attempts at RATE per second, evenly spaced (catching up if the loop was late).
    const t0 = Date.now();
    let n = 0;
    setInterval(() => {
      const want = Math.floor(((Date.now() - t0) * rate) / 1000);
      while (n < want) {
        n++;
        attempt();
      }
    }, 5);
  };
  const flush = (all) => {
    const limit = Date.now() - 2000;
    for (const [t, r] of [...seconds].sort((a, b) => a[0] - b[0])) {
      if (!all && t >= limit) break;
      process.stdout.write(JSON.stringify({ t, ...r, alive, dead }) + '\n');
      seconds.delete(t);
    }
  };
  setInterval(() => flush(false), 1000);
  // Start new connections once the long-lived ones are up (or after 10 s regardless).
  const wait = setInterval(() => {
    if (up === flows) {
      clearInterval(wait);
      begin();
    }
  }, 50);
  setTimeout(begin, 10_000);
  process.on('SIGTERM', () => {
    setTimeout(() => {
      flush(true);
      process.stdout.write(JSON.stringify({ final: true, alive, dead }) + '\n', () => process.exit(0));
    }, 1100);
  });
}

if (mode === 'server') server();
else if (mode === 'client') client(args[0], Number(args[1]), Number(args[2]), Number(args[3]));
else {
  process.stderr.write('usage: dos-peer server | client SERVER RATE FLOWS INTERVAL_MS\n');
  process.exit(2);
}
