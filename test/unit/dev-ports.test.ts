// deploy/dev/ports.ts: loopback ports for the local infrastructure. freePortsInRange exists for
// the Temporal server on PostgreSQL, whose schema cannot store a port above 32767.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { freePortsInRange } from '../../deploy/dev/ports.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolveListen, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { resolveListen(server); });
  });
}

describe('freePortsInRange', () => {
  it('gives distinct ports inside the range that can be bound', async () => {
    const ports = await freePortsInRange(11, 20_000, 32_767);
    assert.equal(new Set(ports).size, 11);
    for (const p of ports) assert.ok(p >= 20_000 && p <= 32_767, `${String(p)} in range`);
    const servers = await Promise.all(ports.map(listen));
    await Promise.all(servers.map((s) => new Promise((r) => { s.close(r); })));
  });

  it('never gives a port that is taken', async () => {
    const [taken] = await freePortsInRange(1, 20_000, 32_767);
    assert.ok(taken !== undefined);
    const holder = await listen(taken);
    try {
      await assert.rejects(freePortsInRange(1, taken, taken), /no 1 free ports/);
    } finally {
      await new Promise((r) => { holder.close(r); });
    }
  });

  it('fails rather than loop when the range cannot hold the count', async () => {
    await assert.rejects(freePortsInRange(3, 20_000, 20_001), /no 3 free ports/);
  });
});
