#!/usr/bin/env node
// flotilla: the operator's command. GitOps verbs (apply, get, reconcile, …) talk to the hub's
// actors through Temporal; cluster verbs work on the hub's data directory (the embedded
// default runs hub and operator on one machine).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration, parseLabels } from '../core/registration.js';
import { RegistrationStore } from '../hub/registration.js';
import {
  applyCommand, bootstrapCommand, CommandFailed, deleteCommand, getCommand, gitopsUsage, helmHistoryCommand, helmRollbackCommand,
  parseTarget, reconcileCommand,
  suspendCommand, UsageError, type GlobalOptions,
} from './gitops.js';
import { isRolloutVerb, rolloutActionCommand, rolloutStatusCommand, rolloutUsage } from './rollout.js';

const usage = `usage: flotilla <command> [options]

${gitopsUsage}

${rolloutUsage}

Cluster commands:
  flotilla cluster token create [--ttl 1h] [--labels env=prod,region=eu] [--uses 1]
      prints a one-time registration token for an agent (the hub keeps only its hash);
      --uses N lets N clusters register with it
  flotilla cluster revoke <name>
      refuses the cluster's credential from now on; its agent must register again
  flotilla cluster list
      registered clusters with their labels

global options:
  --temporal <host:port>      the hub's Temporal (default: FLOTILLA_TEMPORAL or 127.0.0.1:7233)
  --temporal-namespace <ns>   (default: FLOTILLA_TEMPORAL_NAMESPACE or default)
  --task-queue <name>         the hub's task queue (default: flotilla-hub)
  --hub-data <dir>            the hub's data directory, for cluster commands, ConfigMaps and
                              Secrets (default: FLOTILLA_HUB_DATA)
  -n, --namespace <ns>        namespace of the object (default: flux-system)
  -A, --all-namespaces        get: every namespace
  -o, --output table|json     get: output format (default: table)
  -h, --help                  this help

exit codes: 0 success, 1 the operation failed (not ready, not found, unreachable), 2 usage error`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'hub-data': { type: 'string' }, ttl: { type: 'string' }, labels: { type: 'string' }, uses: { type: 'string' },
      temporal: { type: 'string' }, 'temporal-namespace': { type: 'string' }, 'task-queue': { type: 'string' },
      namespace: { type: 'string', short: 'n' }, 'all-namespaces': { type: 'boolean', short: 'A' },
      output: { type: 'string', short: 'o' }, file: { type: 'string', short: 'f', multiple: true },
      'dry-run': { type: 'boolean' }, 'with-source': { type: 'boolean' }, timeout: { type: 'string' },
      url: { type: 'string' }, path: { type: 'string' }, branch: { type: 'string' }, interval: { type: 'string' },
      'secret-ref': { type: 'string' }, cluster: { type: 'string' }, 'to-revision': { type: 'string' },
      watch: { type: 'boolean', short: 'w' }, reason: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) { console.log(usage); return; }
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') throw new UsageError(`-o must be table or json, got "${output}"`);
  const hubData = values['hub-data'] ?? process.env.FLOTILLA_HUB_DATA;
  const g: GlobalOptions = {
    temporal: values.temporal ?? process.env.FLOTILLA_TEMPORAL ?? '127.0.0.1:7233',
    temporalNamespace: values['temporal-namespace'] ?? process.env.FLOTILLA_TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: values['task-queue'] ?? 'flotilla-hub',
    ...(hubData ? { hubData } : {}),
    namespace: values.namespace ?? 'flux-system',
    allNamespaces: values['all-namespaces'] ?? false,
    output,
  };
  const timeoutMs = parseDuration(values.timeout ?? '5m');
  switch (command) {
    case 'cluster': clusterCommand(rest, values, hubData); return;
    case 'apply': return applyCommand(values.file ?? [], values['dry-run'] ?? false, g);
    case 'delete': return deleteCommand(parseTarget(rest, g.namespace), g);
    case 'suspend': return suspendCommand(parseTarget(rest, g.namespace), true, g);
    case 'resume': return suspendCommand(parseTarget(rest, g.namespace), false, g);
    case 'reconcile': return reconcileCommand(parseTarget(rest, g.namespace), values['with-source'] ?? false, timeoutMs, g);
    case 'get': {
      const [what, sub] = rest;
      if (what === 'sources' || what === 'source') {
        if (sub === 'git') return getCommand(['GitRepository'], g);
        if (sub === 'helm') return getCommand(['HelmRepository'], g);
        return getCommand(['GitRepository', 'HelmRepository'], g);
      }
      if (what === 'kustomizations' || what === 'kustomization' || what === 'ks') return getCommand(['Kustomization'], g);
      if (what === 'helmreleases' || what === 'helmrelease' || what === 'hr') return getCommand(['HelmRelease'], g);
      throw new UsageError(`get what? "sources", "kustomizations" or "helmreleases", got "${rest.join(' ')}"`);
    }
    case 'helm': {
      const [verb, release] = rest;
      if (!release) throw new UsageError('helm history|rollback needs a release name');
      if (!values.cluster) throw new UsageError(`helm ${verb ?? ''} needs --cluster <name>`);
      const target = parseTarget(['helmrelease', release], g.namespace);
      if (verb === 'history') return helmHistoryCommand(target, values.cluster, g);
      if (verb === 'rollback') {
        const to = values['to-revision'] === undefined ? undefined : Number(values['to-revision']);
        if (to !== undefined && (!Number.isInteger(to) || to < 1)) throw new UsageError('--to-revision must be a revision number >= 1');
        return helmRollbackCommand(target, values.cluster, to, timeoutMs, g);
      }
      throw new UsageError(`unknown command "helm ${verb ?? ''}" (history or rollback)`);
    }
    case 'rollout': {
      const [verb = '', ...what] = rest;
      if (!isRolloutVerb(verb)) throw new UsageError(`unknown command "rollout ${verb}" (status, approve, pause, resume, abort or retry)`);
      const target = parseTarget(what, g.namespace);
      if (target.kind !== 'Kustomization' && target.kind !== 'HelmRelease') throw new UsageError('rollouts belong to a kustomization or a helmrelease');
      if (verb === 'status') return rolloutStatusCommand(target, values.watch ?? false, g);
      return rolloutActionCommand(target, verb, values.reason, g);
    }
    case 'bootstrap': {
      if (!values.url || !values.path) throw new UsageError('bootstrap needs --url <git-url> and --path <dir>');
      return bootstrapCommand({
        url: values.url, path: values.path, branch: values.branch ?? 'main', interval: values.interval ?? '1m',
        ...(values['secret-ref'] ? { secretRef: values['secret-ref'] } : {}),
      }, g);
    }
    default: throw new UsageError(`unknown command "${command}"`);
  }
}

function clusterCommand(words: readonly string[], values: { ttl?: string; labels?: string; uses?: string }, dataDir: string | undefined): void {
  const [verb, ...rest] = words;
  if (!dataDir) throw new UsageError('--hub-data (or FLOTILLA_HUB_DATA) is required: the directory given to flotilla-hub serve --data-dir');
  const store = new RegistrationStore(join(dataDir, 'registration.json'));
  if (verb === 'token' && rest[0] === 'create') {
    const uses = Number(values.uses ?? '1');
    if (!Number.isInteger(uses) || uses < 1) throw new UsageError('--uses must be a whole number >= 1');
    const { token, id, expiresAt } = store.createToken({ ttlMs: parseDuration(values.ttl ?? '1h'), labels: parseLabels(values.labels ?? ''), uses });
    console.error(`token ${id} expires ${new Date(expiresAt).toISOString()}; it is shown once:`);
    console.log(token);
  } else if (verb === 'revoke' && rest[0]) {
    if (!store.revoke(rest[0])) throw new CommandFailed(`no registered cluster "${rest[0]}"`);
    console.log(`cluster ${rest[0]}: credential revoked`);
  } else if (verb === 'list') {
    for (const c of store.clusters()) {
      const labels = Object.entries(c.labels).map(([k, v]) => `${k}=${v}`).join(',');
      console.log(`${c.name.padEnd(24)} ${c.revokedAt === undefined ? 'registered' : 'revoked   '} ${new Date(c.registeredAt).toISOString()}  ${labels}`);
    }
  } else {
    throw new UsageError(`unknown command "cluster ${words.join(' ')}"`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    console.error(`flotilla: ${err.message}\n\nrun "flotilla --help" for usage`);
    process.exit(2);
  }
  console.error(`flotilla: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
