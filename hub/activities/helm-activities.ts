// The hub's Helm activities: fetch a HelmRepository's index, resolve and download (or, for a
// chart in git, package) the chart, and render a release for one cluster with that
// cluster's Kubernetes version and API list. Values from ConfigMaps and Secrets are merged
// here, inside the activity: workflows only ever see their digest. Failures are also recorded
// as error events for notifications (retries too: the notifications throttle drops duplicates).
import { declarationQuery } from '../../api/actor.js';
import { clusterStatusQuery, clusterWorkflowId } from '../../api/cluster.js';
import type { HelmReleaseActivities, HookStepPlan, RenderReleaseInput } from '../../api/helm-release.js';
import type { HelmRepositoryActivities } from '../../api/helm-repository.js';
import { objectField, type SourcePolicy } from '../../core/source-policy.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { stringify, parse as parseYaml } from 'yaml';
import { ChartResolutionError, HOOK_EVENTS, hookSteps, resolveChartVersion, type HelmIndex } from '../../core/helm-chart.js';
import { digestOf } from '../../core/digest.js';
import { failureEvent } from '../../core/notifications/hub-events.js';
import { isRecord } from '../../core/manifests.js';
import type { KubeObject } from '../../core/objects.js';
import type { ArtifactStore } from '../artifact-store.js';
import type { DataObjectStore } from '../data-objects.js';
import type { EventSink } from '../events.js';
import {
  ChartRenderError, fetchChart, fetchHelmIndex, HelmChartError, HelmRepositoryError, packageChartDirectory, readChartMetadata, renderChart,
  type BasicAuth,
} from '../../activities/helm-chart.js';
import { RenderLimitError } from '../../core/render-limits.js';
import type { EngineConfig } from '../../activities/limited-exec.js';
import { extractLimits, extractTarball } from '../../activities/tarball.js';

export interface HelmActivityContext {
  readonly client: Client;
  readonly artifacts: ArtifactStore;
  readonly data: DataObjectStore;
  /** Where events for notifications go (none: not recorded). */
  readonly events?: EventSink;
  /** The kustomize and helm binaries (tools.*) and what one source or render may cost (limits.render.*, limits.untar.*). */
  readonly engines: EngineConfig;
  /** The hub's source policy (settings sources.*, docs/security.md). */
  readonly sourcePolicy: SourcePolicy;
}

/** What the Helm actors call (contracts in api/helm-repository.ts and api/helm-release.ts). */
export type HelmActivities = HelmRepositoryActivities & HelmReleaseActivities;

/** Failures that are not the object's own (the cluster's agent never connected; a store hiccup). */
const NOT_NOTIFIED = new Set(['ClusterUnknown', 'ArtifactNotFound']);

export function createHelmActivities(ctx: HelmActivityContext): HelmActivities {
  const activities = helmActivities(ctx);
  const recorded = async <T>(id: string, metadata: Record<string, string>, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      if (err instanceof ApplicationFailure && !NOT_NOTIFIED.has(err.type ?? '')) {
        const event = failureEvent(id, err.type ?? 'ReconciliationFailed', err.message, metadata, Date.now());
        if (event) ctx.events?.record(event);
      }
      throw err;
    }
  };
  return {
    fetchHelmRepository: (input) => recorded(input.id, {}, () => activities.fetchHelmRepository(input)),
    prepareChart: (input) => recorded(input.id, {}, () => activities.prepareChart(input)),
    renderRelease: (input) => recorded(input.id, { cluster: input.cluster }, () => activities.renderRelease(input)),
  };
}

function helmActivities(ctx: HelmActivityContext): HelmActivities {
  const { limits } = ctx.engines;
  const auth = async (namespace: string, secretRef: string | undefined): Promise<BasicAuth | undefined> => {
    if (secretRef === undefined) return undefined;
    const secret = await ctx.data.get('Secret', namespace, secretRef);
    if (!secret) throw nonRetryable('AuthenticationFailed', `secret '${namespace}/${secretRef}' not found (apply it to the hub: flotilla apply -f secret.yaml)`);
    const { username, password } = secret;
    if (username === undefined || password === undefined) throw nonRetryable('AuthenticationFailed', `secret '${namespace}/${secretRef}' must hold "username" and "password"`);
    return { username, password };
  };

  return {
    async fetchHelmRepository(input) {
      try {
        const { index } = await fetchHelmIndex(input.url, await auth(input.namespace, input.secretRef), {
          timeoutMs: input.timeoutSeconds * 1000, policy: ctx.sourcePolicy, what: objectField(input.id, 'spec.url'),
        });
        // The parsed index (sorted, plain data) is the artifact; its digest is the revision.
        const indexDigest = await ctx.artifacts.put(JSON.stringify(index));
        return { indexDigest, charts: Object.keys(index.entries).length };
      } catch (err) {
        if (err instanceof HelmRepositoryError) throw ApplicationFailure.create({ type: 'IndexationFailed', message: err.message });
        throw err;
      }
    },

    async prepareChart(input) {
      const source = input.source;
      try {
        if (source.kind === 'HelmRepository') {
          const repo = await ctx.client.workflow.getHandle(source.repository).query(declarationQuery);
          if (repo.kind !== 'HelmRepository') throw nonRetryable('ChartPullError', `${source.repository} is a ${repo.kind}, not a HelmRepository`);
          const url = repo.spec.url;
          const indexBytes = await ctx.artifacts.get(source.indexDigest);
          if (!indexBytes) throw ApplicationFailure.create({ type: 'ArtifactNotFound', message: `index ${source.indexDigest} of ${url} is missing from the artifact store` });
          const index = JSON.parse(indexBytes.toString('utf8')) as HelmIndex;
          const entry = resolveChartVersion(index, input.chart, input.version);
          // The index's digest is the sha256 of the .tgz: a chart already stored is not downloaded again.
          const known = entry.digest !== undefined ? `sha256:${entry.digest}` : undefined;
          const chartDigest = known !== undefined && await ctx.artifacts.has(known)
            ? known
            : (await fetchChart(entry, url, ctx.artifacts, {
              auth: await auth(repo.namespace, repo.spec.secretRef), policy: ctx.sourcePolicy, what: objectField(source.repository, 'spec.url'),
            })).artifactDigest;
          return { chartName: entry.name, chartVersion: entry.version, ...(entry.appVersion !== undefined ? { appVersion: entry.appVersion } : {}), chartDigest };
        }
        const tarball = await ctx.artifacts.get(source.artifactDigest);
        if (!tarball) throw ApplicationFailure.create({ type: 'ArtifactNotFound', message: `source artifact ${source.artifactDigest} is missing from the artifact store` });
        const dir = await mkdtemp(join(tmpdir(), 'flotilla-chart-'));
        try {
          await extractTarball(tarball, dir, extractLimits(limits));
          const chartDir = join(dir, input.chart);
          if (!chartDir.startsWith(dir)) throw nonRetryable('ChartPullError', `chart path "${input.chart}" escapes the source`);
          const tgz = await packageChartDirectory(chartDir, { limits, helmBin: ctx.engines.helmBin });
          const meta = await readChartMetadata(tgz, limits);
          const chartDigest = await ctx.artifacts.put(tgz);
          return { chartName: meta.name, chartVersion: meta.version, ...(meta.appVersion !== undefined ? { appVersion: meta.appVersion } : {}), chartDigest };
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      } catch (err) {
        if (err instanceof ChartResolutionError) throw nonRetryable(err.reason, err.message);
        if (err instanceof RenderLimitError) throw nonRetryable('ChartPullError', err.message);
        if (err instanceof HelmChartError) throw ApplicationFailure.create({ type: err.reason, message: err.message });
        throw err;
      }
    },

    async renderRelease(input) {
      const chart = await ctx.artifacts.get(input.chartDigest);
      if (!chart) throw ApplicationFailure.create({ type: 'ArtifactNotFound', message: `chart ${input.chartDigest} is missing from the artifact store` });
      const values = await mergeValues(input, ctx.data);
      const cluster = await ctx.client.workflow.getHandle(clusterWorkflowId(input.cluster)).query(clusterStatusQuery);
      if (!cluster.kubernetesVersion) {
        throw ApplicationFailure.create({ type: 'ClusterUnknown', message: `cluster ${input.cluster} has not reported its Kubernetes version yet (its agent never connected)` });
      }
      let apiVersions: string[] = [];
      if (cluster.capabilitiesDigest !== undefined) {
        const caps = await ctx.artifacts.get(cluster.capabilitiesDigest);
        if (caps) apiVersions = (JSON.parse(caps.toString('utf8')) as { apiVersions: string[] }).apiVersions;
      }
      try {
        const rendered = await renderChart(chart, {
          releaseName: input.releaseName, namespace: input.targetNamespace, values,
          kubeVersion: cluster.kubernetesVersion.replace(/^v/, '').replace(/[-+].*$/, ''), apiVersions,
          isUpgrade: input.isUpgrade, includeCrds: input.includeCrds, limits, helmBin: ctx.engines.helmBin,
        });
        const resources: KubeObject[] = rendered.resources;
        const artifactDigest = await ctx.artifacts.put(toYaml(resources));
        // install.createNamespace: its own artifact, applied before any hook (as helm --create-namespace does).
        const namespaceDigest = input.createNamespace
          ? await ctx.artifacts.put(toYaml([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: input.targetNamespace } }]))
          : undefined;
        const hooks: Record<string, HookStepPlan[]> = {};
        for (const event of HOOK_EVENTS) {
          const steps = hookSteps(rendered.hooks, event);
          if (steps.length === 0) continue;
          hooks[event] = await Promise.all(steps.map(async (step) => ({
            weight: step.weight,
            artifactDigest: await ctx.artifacts.put(toYaml(step.hooks.map((h) => h.object))),
            deletePolicies: [...new Set(step.hooks.flatMap((h) => h.deletePolicies))].sort(),
            objects: step.hooks.map((h) => `${h.object.kind}/${h.object.metadata.name}`),
          })));
        }
        return {
          artifactDigest, valuesDigest: digestOf(JSON.stringify(values)), objectCount: resources.length, hooks, hooksDigest: digestOf(JSON.stringify(hooks)),
          ...(namespaceDigest !== undefined ? { namespaceDigest } : {}),
          kubernetesVersion: cluster.kubernetesVersion,
        };
      } catch (err) {
        if (err instanceof ChartRenderError || err instanceof RenderLimitError) throw nonRetryable('RenderFailed', err.message);
        throw err;
      }
    },
  };
}

/** valuesFrom in order, then spec.values over them, as helm-controller merges them. */
async function mergeValues(input: RenderReleaseInput, data: DataObjectStore): Promise<Record<string, unknown>> {
  let values: Record<string, unknown> = {};
  for (const ref of input.valuesFrom) {
    const where = `valuesFrom ${ref.kind} '${input.namespace}/${ref.name}'`;
    const source = await data.get(ref.kind, input.namespace, ref.name);
    if (!source) {
      if (ref.optional) continue;
      throw nonRetryable('ValuesError', `${where} not found (apply it to the hub, or mark it optional: true)`);
    }
    const text = source[ref.valuesKey];
    if (text === undefined) {
      if (ref.optional) continue;
      throw nonRetryable('ValuesError', `${where} has no key "${ref.valuesKey}"`);
    }
    if (ref.targetPath !== undefined) {
      values = setPath(values, ref.targetPath.split('.'), text);
      continue;
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      // The message names the key, never the content (it may be a secret).
      throw nonRetryable('ValuesError', `${where} key "${ref.valuesKey}" is not YAML: ${(err as Error).message.split('\n')[0] ?? ''}`);
    }
    if (parsed === null || parsed === undefined) continue;
    if (!isRecord(parsed)) throw nonRetryable('ValuesError', `${where} key "${ref.valuesKey}" is not a YAML map of values`);
    values = deepMerge(values, parsed);
  }
  return deepMerge(values, input.values);
}

/** Helm's coalescing: maps merge recursively, anything else replaces; null deletes a key. */
function deepMerge(base: Readonly<Record<string, unknown>>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out = new Map(Object.entries(base));
  for (const [k, v] of Object.entries(over)) {
    const prev = out.get(k);
    if (v === null) out.delete(k);
    else if (isRecord(v) && isRecord(prev)) out.set(k, deepMerge(prev, v));
    else out.set(k, v);
  }
  return Object.fromEntries(out);
}

function setPath(values: Record<string, unknown>, path: readonly string[], value: string): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return values;
  if (rest.length === 0) return { ...values, [head]: value };
  const child = values[head];
  return { ...values, [head]: setPath(isRecord(child) ? child : {}, rest, value) };
}

function toYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}

function nonRetryable(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}
