import { createServer } from 'node:net';

/** Asks the kernel for a free loopback port. The port is released before it is returned. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('could not read a listening port'));
        return;
      }
      server.close(() => { resolvePort(address.port); });
    });
  });
}

/** Distinct free ports for one component (asked for together so none repeats). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Whether a loopback port can be bound now (released before it returns). */
async function canBind(port: number): Promise<boolean> {
  return new Promise((resolveBind) => {
    const server = createServer();
    server.unref();
    server.once('error', () => { resolveBind(false); });
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolveBind(true); }); });
  });
}

/**
 * Distinct free loopback ports in [min, max], for programs that cannot take any port the
 * kernel hands out (its ephemeral range starts at 32768 on Linux): picked at random, each
 * checked by binding it.
 */
export async function freePortsInRange(count: number, min: number, max: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < count; tries++) {
    if (tries > 1000) throw new Error(`no ${String(count)} free ports in ${String(min)}..${String(max)}`);
    const candidate = min + Math.floor(Math.random() * (max - min + 1));
    if (!ports.has(candidate) && await canBind(candidate)) ports.add(candidate);
  }
  return [...ports];
}
