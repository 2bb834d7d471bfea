#!/usr/bin/env node
// flotilla: the operator's command. For now the cluster verbs, working on the hub's data
// directory (the embedded default runs hub and operator on one machine).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration, parseLabels } from '../core/registration.js';
import { RegistrationStore } from '../hub/registration.js';

const usage = `usage: flotilla cluster <verb> [options]

  flotilla cluster token create [--ttl 1h] [--labels env=prod,region=eu] [--uses 1]
      prints a one-time registration token for an agent (the hub keeps only its hash);
      --uses N lets N clusters register with it
  flotilla cluster revoke <name>
      refuses the cluster's credential from now on; its agent must register again
  flotilla cluster list
      registered clusters with their labels

global options:
  --hub-data <dir>   the hub's data directory (default: FLOTILLA_HUB_DATA)
  -h, --help         this help`;

class UsageError extends Error {}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'hub-data': { type: 'string' }, ttl: { type: 'string' }, labels: { type: 'string' }, uses: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [noun, verb, ...rest] = positionals;
  if (values.help || noun === undefined) { console.log(usage); return; }
  if (noun !== 'cluster') throw new UsageError(`unknown command "${noun}"`);
  const dataDir = values['hub-data'] ?? process.env.FLOTILLA_HUB_DATA;
  if (!dataDir) throw new UsageError('--hub-data (or FLOTILLA_HUB_DATA) is required: the directory given to flotilla-hub serve --data-dir');
  const store = new RegistrationStore(join(dataDir, 'registration.json'));
  if (verb === 'token' && rest[0] === 'create') {
    const uses = Number(values.uses ?? '1');
    if (!Number.isInteger(uses) || uses < 1) throw new UsageError('--uses must be a whole number >= 1');
    const { token, id, expiresAt } = store.createToken({ ttlMs: parseDuration(values.ttl ?? '1h'), labels: parseLabels(values.labels ?? ''), uses });
    console.error(`token ${id} expires ${new Date(expiresAt).toISOString()}; it is shown once:`);
    console.log(token);
  } else if (verb === 'revoke' && rest[0]) {
    if (!store.revoke(rest[0])) throw new UsageError(`no registered cluster "${rest[0]}"`);
    console.log(`cluster ${rest[0]}: credential revoked`);
  } else if (verb === 'list') {
    for (const c of store.clusters()) {
      const labels = Object.entries(c.labels).map(([k, v]) => `${k}=${v}`).join(',');
      console.log(`${c.name.padEnd(24)} ${c.revokedAt === undefined ? 'registered' : 'revoked   '} ${new Date(c.registeredAt).toISOString()}  ${labels}`);
    }
  } else {
    throw new UsageError(`unknown command "cluster ${[verb, ...rest].join(' ')}"`);
  }
}

try {
  main();
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`flotilla: ${err.message}\n\n${usage}`);
    process.exit(2);
  }
  console.error(`flotilla: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
