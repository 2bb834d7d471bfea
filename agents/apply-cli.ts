#!/usr/bin/env node
// flotilla-apply: the agent's apply engine as a command, for one cluster and one
// directory of manifests. The gRPC agent drives the same engine from the hub.
import { parseArgs } from 'node:util';
import { Applier, type ApplyReport } from './apply/applier.js';
import { ClusterClient } from './apply/cluster-client.js';
import { waitForHealth, type HealthReport } from './apply/health.js';
import { loadManifests } from './apply/load.js';
import { DEFAULT_LIMITS } from './apply/rate-limit.js';

const usage = `usage: flotilla-apply --kubeconfig <file> --name <deployment> [options] <dir|file>

Applies every manifest under <dir> (*.yaml, *.yml, *.json; kustomization.yaml files are
build instructions and are skipped: render with kustomize first) to the cluster with server-side apply (field manager
"flotilla"), records the set as deployment <name> in the cluster, and prunes what a previous
apply of <name> created that is no longer in the set.

options:
  --generation <n>        generation of the deployment (default 1)
  --namespace <ns>        namespace for namespaced objects that name none (default "default")
  --no-prune              keep objects that left the set
  --force                 take over fields owned by other field managers
  --no-drift-correction   report changes made behind Flotilla's back, do not revert them
  --wait <seconds>        wait until every object is healthy (kstatus), at most this long
  --delete                delete the deployment: its objects (unless --no-prune) and inventory
  --qps <n> --burst <n> --concurrency <n>
                          client-side limits on the API server (default ${DEFAULT_LIMITS.qps}/${DEFAULT_LIMITS.burst}/${DEFAULT_LIMITS.concurrency})
  -o json                 print the report as JSON
  -h, --help              this help`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

class UsageError extends Error {}

function printReport(report: ApplyReport, health: HealthReport | undefined): void {
  for (const e of report.errors) console.log(`error   ${e.object}: ${e.message}`);
  for (const o of report.objects) {
    const drift = o.drift ? `  (drift: ${o.drift.slice(0, 5).join(', ')}${o.drift.length > 5 ? ', …' : ''})` : '';
    console.log(`${o.action.padEnd(10)} ${o.object}${drift}`);
  }
  for (const p of report.pruned) console.log(`${p.action === 'deleted' ? 'pruned' : 'kept'}     ${p.object}${p.reason ? `  (${p.reason})` : ''}`);
  for (const h of health?.objects ?? []) if (h.status !== 'Current') console.log(`${h.status.padEnd(10)} ${h.object}: ${h.reason ?? ''} ${h.message}`);
  const c = report.counts;
  console.log(`${report.deployment}@${report.generation}: ${report.phase}; ${c.created} created, ${c.configured} configured, ${c.unchanged} unchanged, ${c.skipped} skipped, ${c.pruned} pruned${health ? `; ${health.healthy ? 'healthy' : 'NOT healthy'}` : ''}`);
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      kubeconfig: { type: 'string' }, name: { type: 'string' }, generation: { type: 'string' },
      namespace: { type: 'string' }, 'no-prune': { type: 'boolean' }, force: { type: 'boolean' },
      'no-drift-correction': { type: 'boolean' }, wait: { type: 'string' }, delete: { type: 'boolean' },
      qps: { type: 'string' }, burst: { type: 'string' }, concurrency: { type: 'string' },
      output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { console.log(usage); return 0; }
  const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG;
  if (!kubeconfig) throw new UsageError('--kubeconfig (or KUBECONFIG) is required');
  if (!values.name) throw new UsageError('--name is required: the deployment this set of objects belongs to');
  if (values.output !== undefined && values.output !== 'json') throw new UsageError(`-o supports only "json", got "${values.output}"`);
  const limits = {
    qps: positiveInt('qps', values.qps, DEFAULT_LIMITS.qps),
    burst: positiveInt('burst', values.burst, DEFAULT_LIMITS.burst),
    concurrency: positiveInt('concurrency', values.concurrency, DEFAULT_LIMITS.concurrency),
  };
  const client = ClusterClient.fromKubeconfigFile(kubeconfig, limits);
  const applier = new Applier(client);

  if (values.delete) {
    const pruned = await applier.delete(values.name, { prune: !values['no-prune'] });
    if (values.output === 'json') console.log(JSON.stringify({ deployment: values.name, pruned }, null, 2));
    else console.log(`${values.name}: deleted; ${pruned.filter((p) => p.action === 'deleted').length} objects pruned`);
    return 0;
  }
  const dir = positionals[0];
  if (!dir || positionals.length > 1) throw new UsageError('give exactly one directory or file of manifests');
  const loaded = loadManifests(dir);
  if (loaded.errors.length > 0) {
    for (const e of loaded.errors) console.error(`error   ${e.source}${e.object ? ` ${e.object}` : ''}${e.field ? ` (${e.field})` : ''}: ${e.message}`);
    console.error(`${loaded.errors.length} invalid document(s): nothing was applied`);
    return 1;
  }
  const report = await applier.apply(
    { name: values.name, generation: positiveInt('generation', values.generation, 1), objects: loaded.objects },
    { prune: !values['no-prune'], force: values.force ?? false, correctDrift: !values['no-drift-correction'], defaultNamespace: values.namespace ?? 'default' },
  );
  let health: HealthReport | undefined;
  if (report.phase === 'Applied' && values.wait !== undefined) {
    const live = report.objects.map((o) => o.live).filter((o) => o !== undefined);
    health = await waitForHealth(client, live, positiveInt('wait', values.wait, 60) * 1000);
  }
  if (values.output === 'json') {
    const usage = process.resourceUsage();
    const stats = { ...applier.stats, maxRssMiB: usage.maxRSS / 1024, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6, heapUsedMiB: process.memoryUsage().heapUsed / 2 ** 20 };
    console.log(JSON.stringify({ ...report, objects: report.objects.map(({ live: _live, ...o }) => o), health, stats }, null, 2));
  } else printReport(report, health);
  client.close();
  return report.phase === 'Applied' && (health?.healthy ?? true) ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }).catch((err: unknown) => {
  if (err instanceof UsageError) {
    console.error(`flotilla-apply: ${err.message}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  console.error(`flotilla-apply: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
