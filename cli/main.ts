#!/usr/bin/env node
// flotilla: the operator's command. GitOps verbs (apply, get, reconcile, …) talk to the hub's
// actors through Temporal; cluster verbs work on the hub's data directory (the embedded
// default runs hub and operator on one machine).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { scopedNamespace, splitScope } from '../core/declarations/scope.js';
import { parseDuration, parseLabels } from '../core/registration.js';
import { VERSION } from '../core/version.js';
import { buildCommand, checkPreCommand, type RepositoryOptions } from './build.js';
import { clusterCommand } from './cluster.js';
import { adoptClusterCommand, checkCommand, explainCommand, getAllCommand, getClustersCommand, traceCommand } from './fleet.js';
import {
  applyCommand, bootstrapCommand, CommandFailed, deleteCommand, getCommand, helmHistoryCommand, helmRollbackCommand,
  imageKindsOf, parseTarget, reconcileCommand,
  suspendCommand, UsageError, type GlobalOptions,
} from './gitops.js';
import { COMMAND_HELP, OVERVIEW } from './help.js';
import { HubTlsError, hubFetch, trustHubCa } from './hub-http.js';
import { eventsCommand, historyCommand } from './inspect.js';
import { getNotificationsCommand, notAKind, notificationKind, notificationTarget } from './notifications.js';
import { parseOutput } from './output.js';
import { isRolloutVerb, rolloutActionCommand, rolloutStatusCommand } from './rollout.js';


interface HubConnection {
  readonly url: string;
  readonly temporal: { readonly address: string; readonly namespace: string; readonly taskQueue: string; readonly uiUrl?: string };
}

/** Asks the hub's API how to reach its Temporal; undefined when nothing answers at `url`. */
async function askHub(url: string, token: string | undefined, timeoutMs: number): Promise<HubConnection | undefined> {
  let res: Response;
  try {
    res = await hubFetch(`${url}/api/v1/info`, { signal: AbortSignal.timeout(timeoutMs), headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (err) {
    // Down is "not there" (the caller may fall back); untrusted or plain-vs-TLS is an answer to give.
    if (err instanceof HubTlsError) throw new CommandFailed(`cannot reach the hub API at ${url} (${err.message})`);
    return undefined;
  }
  if (res.status === 401) throw new CommandFailed(`the hub at ${url} wants its API token: --hub-token or FLOTILLA_HUB_TOKEN (the hub keeps it in <data-dir>/api-token)`);
  if (!res.ok) throw new CommandFailed(`the hub at ${url} answered HTTP ${res.status} to /api/v1/info`);
  const info = await res.json() as Partial<HubConnection>;
  if (typeof info.temporal?.address !== 'string') throw new CommandFailed(`${url} does not look like a flotilla hub API (no temporal.address in /api/v1/info)`);
  return { url, temporal: info.temporal };
}

type Values = Record<string, string | boolean | string[] | undefined>;

function opt(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** The global options: flags, then environment, then what the hub says, then defaults. */
async function globalOptions(values: Values, needsTemporal: boolean, hubOptional = false): Promise<GlobalOptions> {
  const output = parseOutput(opt(values, 'output'));
  if (!output) throw new UsageError(`-o must be table, json or yaml, got "${opt(values, 'output') ?? ''}"`);
  const hubData = opt(values, 'hub-data') ?? process.env.FLOTILLA_HUB_DATA;
  const explicitTemporal = opt(values, 'temporal') ?? process.env.FLOTILLA_TEMPORAL;
  const explicitHub = opt(values, 'hub') ?? process.env.FLOTILLA_HUB;
  const hubToken = opt(values, 'hub-token') ?? process.env.FLOTILLA_HUB_TOKEN;
  let hub: HubConnection | undefined;
  if (needsTemporal && explicitHub) {
    hub = await askHub(explicitHub.replace(/\/$/, ''), hubToken, 5000);
    if (!hub && !explicitTemporal && !hubOptional) throw new CommandFailed(`cannot reach the hub API at ${explicitHub} (is flotilla-hub serve running, and its --http there?)`);
  } else if (needsTemporal && !explicitTemporal) {
    hub = await askHub(DEFAULT_HUB, hubToken, 1500);
  }
  const temporalUi = process.env.FLOTILLA_TEMPORAL_UI ?? hub?.temporal.uiUrl;
  const given = opt(values, 'namespace');
  const scope = opt(values, 'scope');
  return {
    temporal: explicitTemporal ?? hub?.temporal.address ?? '127.0.0.1:7233',
    temporalNamespace: opt(values, 'temporal-namespace') ?? process.env.FLOTILLA_TEMPORAL_NAMESPACE ?? hub?.temporal.namespace ?? 'default',
    taskQueue: opt(values, 'task-queue') ?? hub?.temporal.taskQueue ?? 'flotilla-hub',
    ...(hubData ? { hubData } : {}),
    ...(hub ? { hubUrl: hub.url } : explicitHub ? { hubUrl: explicitHub } : {}),
    ...(hubToken ? { hubToken } : {}),
    ...(temporalUi ? { temporalUi } : {}),
    namespace: scopedNamespaceOf(given ?? 'flux-system', scope),
    ...(scope !== undefined ? { scope } : {}),
    namespaceGiven: given !== undefined,
    allNamespaces: values['all-namespaces'] === true,
    output,
  };
}

/** `-n flux-system --scope staging` → flux-system@staging; a -n naming another scope is refused. */
function scopedNamespaceOf(namespace: string, scope: string | undefined): string {
  if (scope === undefined) return namespace;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(scope)) throw new UsageError(`--scope must be a DNS label (a cluster name), got "${scope}"`);
  const named = splitScope(namespace).scope;
  if (named !== undefined && named !== scope) throw new UsageError(`-n ${namespace} is in scope ${named}, not --scope ${scope}: give one of them`);
  return scopedNamespace(namespace, scope);
}

const DEFAULT_HUB = 'http://127.0.0.1:7480';
const LOCAL_COMMANDS = new Set(['cluster', 'help', 'version']);

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'hub-data': { type: 'string' }, ttl: { type: 'string' }, labels: { type: 'string' }, uses: { type: 'string' },
      hub: { type: 'string' }, 'hub-token': { type: 'string' }, 'ca-file': { type: 'string' },
      temporal: { type: 'string' }, 'temporal-namespace': { type: 'string' }, 'task-queue': { type: 'string' },
      namespace: { type: 'string', short: 'n' }, 'all-namespaces': { type: 'boolean', short: 'A' },
      output: { type: 'string', short: 'o' }, file: { type: 'string', short: 'f', multiple: true },
      'dry-run': { type: 'boolean' }, 'with-source': { type: 'boolean' }, timeout: { type: 'string' },
      url: { type: 'string' }, path: { type: 'string' }, branch: { type: 'string' }, interval: { type: 'string' },
      'secret-ref': { type: 'string' }, cluster: { type: 'string' }, 'to-revision': { type: 'string' },
      'cluster-selector': { type: 'string' }, name: { type: 'string' }, scope: { type: 'string' },
      watch: { type: 'boolean', short: 'w' }, reason: { type: 'string' },
      since: { type: 'string' }, revision: { type: 'string' }, for: { type: 'string' },
      pre: { type: 'boolean' }, 'repo-root': { type: 'string' }, kustomize: { type: 'string' },
      kubeconfig: { type: 'string' }, context: { type: 'string' }, 'hub-address': { type: 'string' }, 'hub-ca': { type: 'string' },
      image: { type: 'string' }, set: { type: 'string', multiple: true },
      'prune-missing': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (command === undefined || (command === 'help' && rest[0] === undefined)) { console.log(OVERVIEW); return; }
  if (command === 'help' || values.help) {
    const topic = command === 'help' ? rest[0] ?? '' : command;
    const text = COMMAND_HELP[topic];
    if (!text) throw new UsageError(`no command "${topic}"`);
    console.log(`usage: ${text}\n\nglobal options: see flotilla --help`);
    return;
  }
  if (command === 'version') { console.log(`flotilla ${VERSION}`); return; }
  trustHub(values);
  if (!LOCAL_COMMANDS.has(command) && !Object.hasOwn(COMMAND_HELP, command)) throw new UsageError(`unknown command "${command}"`);
  // build and check --pre work on a checkout alone: no Temporal, no hub.
  const offline = (LOCAL_COMMANDS.has(command) && !(command === 'cluster' && rest[0] === 'adopt')) || command === 'build' || (command === 'check' && values.pre === true);
  // apply --dry-run validates without a hub (and compares with the hub's state when it can).
  const g = await globalOptions(values, !offline, command === 'apply' && values['dry-run'] === true);
  const timeoutMs = parseDuration(values.timeout ?? '5m');
  const needCluster = (verb: string): string => {
    if (!values.cluster) throw new UsageError(`${verb} needs --cluster <name>`);
    return values.cluster;
  };
  switch (command) {
    case 'cluster': return rest[0] === 'adopt' ? adoptClusterCommand(rest.slice(1), values['prune-missing'] ?? false, g) : clusterCommand(rest, values);
    case 'apply': return applyCommand(values.file ?? [], values['dry-run'] ?? false, g, values.scope);
    case 'delete': return deleteCommand(notificationTarget(rest, g.namespace) ?? parseTarget(rest, g.namespace), g);
    case 'suspend': return suspendCommand(parseTarget(rest, g.namespace), true, g);
    case 'resume': return suspendCommand(parseTarget(rest, g.namespace), false, g);
    case 'reconcile': return reconcileCommand(parseTarget(rest, g.namespace), values['with-source'] ?? false, timeoutMs, g);
    case 'history': return historyCommand(rest, {
      ...(values.cluster ? { cluster: values.cluster } : {}), ...(values.since ? { since: values.since } : {}), ...(values.revision ? { revision: values.revision } : {}),
    }, g);
    case 'events': return eventsCommand({ ...(values.for ? { for: [values.for] } : {}), ...(values.since ? { since: values.since } : {}), watch: values.watch ?? false }, g);
    case 'trace': return traceCommand(rest, needCluster('trace'), values.namespace, g);
    case 'explain': return explainCommand(rest, needCluster('explain'), g);
    case 'check': {
      if (values.pre !== true) return checkCommand(g);
      return checkPreCommand(repositoryOptions('check --pre', rest, values), g);
    }
    case 'build': return buildCommand(repositoryOptions('build', rest, values), g);
    case 'get': {
      const [what, sub, third] = rest;
      if (what === 'all') return getAllCommand(g);
      if (what === 'clusters' || what === 'cluster') return getClustersCommand(g);
      if (what === 'sources' || what === 'source') {
        if (sub === 'git') return getCommand(['GitRepository'], g, third);
        if (sub === 'helm') return getCommand(['HelmRepository'], g, third);
        return getCommand(['GitRepository', 'HelmRepository'], g);
      }
      if (what === 'kustomizations' || what === 'kustomization' || what === 'ks') return getCommand(['Kustomization'], g, sub);
      if (what === 'helmreleases' || what === 'helmrelease' || what === 'hr') return getCommand(['HelmRelease'], g, sub);
      if (what === 'images' || what === 'image') {
        const kinds = imageKindsOf(sub);
        if (!kinds) throw new UsageError(`get images what? "all", "repository", "policy" or "update", got "${sub ?? ''}"`);
        return getCommand(kinds, g, sub === 'all' ? undefined : third);
      }
      const notifications = notificationKind(what);
      if (notifications) return getNotificationsCommand(notifications, g);
      throw notAKind(rest);
    }
    case 'helm': {
      const [verb, release] = rest;
      if (!release) throw new UsageError('helm history|rollback needs a release name');
      const cluster = needCluster(`helm ${verb ?? ''}`);
      const target = parseTarget(['helmrelease', release], g.namespace);
      if (verb === 'history') return helmHistoryCommand(target, cluster, g);
      if (verb === 'rollback') {
        const to = values['to-revision'] === undefined ? undefined : Number(values['to-revision']);
        if (to !== undefined && (!Number.isInteger(to) || to < 1)) throw new UsageError('--to-revision must be a revision number >= 1');
        return helmRollbackCommand(target, cluster, to, timeoutMs, g);
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
      const selector = values['cluster-selector'] === undefined ? undefined : parseLabels(values['cluster-selector']);
      if (selector !== undefined && Object.keys(selector).length === 0) throw new UsageError('--cluster-selector needs labels: key=value[,key=value]');
      return bootstrapCommand({
        url: values.url, path: values.path, branch: values.branch ?? 'main', interval: values.interval ?? '1m',
        ...(values['secret-ref'] ? { secretRef: values['secret-ref'] } : {}),
        ...(values.cluster ? { cluster: values.cluster } : {}),
        ...(selector ? { clusterSelector: selector } : {}),
        ...(values.name ? { name: values.name } : {}),
      }, timeoutMs, g);
    }
    default: throw new UsageError(`unknown command "${command}"`);
  }
}

/**
 * The CA an https hub URL is verified with, besides the system's: --ca-file, else
 * FLOTILLA_HUB_CA, else the hub's own CA in --hub-data / FLOTILLA_HUB_DATA when it is there.
 */
function trustHub(values: Values): void {
  const flag = opt(values, 'ca-file');
  const given = flag ?? process.env.FLOTILLA_HUB_CA;
  const hubData = opt(values, 'hub-data') ?? process.env.FLOTILLA_HUB_DATA;
  const own = hubData === undefined ? undefined : join(hubData, 'tls', 'hub.crt');
  try {
    if (given !== undefined && given !== '') trustHubCa(given, flag !== undefined ? '--ca-file' : 'FLOTILLA_HUB_CA');
    else if (own !== undefined && existsSync(own)) trustHubCa(own, '--hub-data');
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** `<path>` and the options of build and check --pre. */
function repositoryOptions(verb: string, words: readonly string[], values: Values): RepositoryOptions {
  const [path, ...extra] = words;
  if (path === undefined) throw new UsageError(`${verb} needs a <path>: a directory of the repository, as given to flotilla bootstrap --path`);
  if (extra.length > 0) throw new UsageError(`${verb} takes one <path>, got "${words.join(' ')}"`);
  const cluster = opt(values, 'cluster');
  const repoRoot = opt(values, 'repo-root');
  const kustomize = opt(values, 'kustomize');
  return {
    path, ...(cluster !== undefined ? { cluster } : {}), ...(repoRoot !== undefined ? { repoRoot } : {}), ...(kustomize !== undefined ? { kustomize } : {}),
  };
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    console.error(`flotilla: ${err.message}\n\nrun "flotilla --help" (or "flotilla <command> --help") for usage`);
    process.exit(2);
  }
  console.error(`flotilla: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
