// Loopback ports nobody listens on, checked by binding them (a random pick alone can collide with a
// server another test, or another CI run on the machine, has open). Below 32768: clear of Linux's
// ephemeral ports (the source ports of outgoing connections), and within what Temporal's Postgres schema
// keeps a membership port in (a smallint: a server on port 35923 dies at start).
import { createServer } from 'node:net';

const LOW = 20000;
const HIGH = 32768;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** `count` consecutive free ports on 127.0.0.1, lowest first (a server that takes a base port and the next ones). */
export async function freePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = LOW + Math.floor(Math.random() * (HIGH - LOW - count));
    const ports = Array.from({ length: count }, (_, k) => base + k);
    let free = true;
    for (const port of ports) if (!(free = await canListen(port))) break;
    if (free) return ports;
  }
  throw new Error(`no ${count} consecutive free ports on 127.0.0.1 between ${LOW} and ${HIGH}`);
}
