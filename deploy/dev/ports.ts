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
