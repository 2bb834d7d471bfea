// The history decoder on recorded histories (test/fixtures/histories, recorded from the
// end-to-end tests against a real Temporal): golden timelines, so a change in what
// `flotilla history` says is a visible diff (test/harness/golden.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import proto from '@temporalio/proto';
import { renderTimeline } from '../../cli/inspect.js';
import { defaultPayloadConverter } from '@temporalio/common';
import { OWNED_BY_ANNOTATION } from '../../core/declarations/scope.js';
import { digestOf } from '../../core/digest.js';
import { describeDigest, EMPTY_DIGEST, shortRevision } from '../../core/revision.js';
import { decodeRun, decodeTimeline, entryMessage, filterEntries } from '../../hub/history.js';
import { golden } from '../harness/golden.js';

const { temporal } = proto;
const fixtures = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const history = (name: string): proto.temporal.api.history.v1.IHistory =>
  temporal.api.history.v1.History.decode(readFileSync(join(fixtures, 'histories', `${name}.binpb`)));


describe('flotilla history decoding', () => {
  const ks = 'kustomization/flux-system/web';
  const timeline = decodeTimeline(ks, [{ runId: 'run-1', history: history('kustomization_flux-system_web') }],
    [{ workflowId: `rollout/${ks}`, runId: 'rollout-run-1', history: history('rollout_kustomization_flux-system_web') }]);

  it('renders a Kustomization with its rollout as the golden timeline', () => {
    golden('history-kustomization-web.txt', `${renderTimeline(timeline, timeline.entries, 'http://127.0.0.1:8233')}\n`);
  });

  it('decodes builds, deliveries and apply counts per cluster with their revision', () => {
    const applied = timeline.entries.filter((e) => e.type === 'Applied' && e.cluster === 'prod-eu');
    assert.ok(applied.length >= 3);
    assert.match(applied[0]?.message ?? '', /generation 1: 3 created, 0 configured, 0 unchanged, 0 pruned; healthy/);
    assert.match(applied[0]?.revision ?? '', /^main@sha1:222adbf7/);
    const failed = timeline.entries.find((e) => e.type === 'BuildFailed');
    assert.match(failed?.message ?? '', /missing\.yaml/);
    assert.ok(timeline.entries.some((e) => e.type === 'Suspended' && e.by), 'operator signals say who sent them');
    // The rollout's waves and per-cluster results are part of the owner's timeline, in time order.
    const rollout = timeline.entries.filter((e) => e.workflowId.startsWith('rollout/')).map((e) => e.type);
    assert.deepEqual(rollout.filter((t) => t === 'WaveStarted' || t === 'WaveSucceeded' || t === 'RolloutStarted' || t === 'RolloutFinished'),
      ['RolloutStarted', 'WaveStarted', 'WaveSucceeded', 'WaveStarted', 'WaveSucceeded', 'WaveStarted', 'WaveSucceeded', 'RolloutFinished']);
    const times = timeline.entries.map((e) => e.at);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
  });

  it('filters by cluster (keeping fleet-wide entries) and by revision prefix', () => {
    const onUs = filterEntries(timeline.entries, { cluster: 'prod-us' }, undefined);
    assert.ok(onUs.every((e) => e.cluster === undefined || e.cluster === 'prod-us'));
    assert.ok(onUs.some((e) => e.type === 'Built'));
    const rev = filterEntries(timeline.entries, { revision: 'da64514e' }, undefined);
    assert.ok(rev.length > 0 && rev.every((e) => e.revision?.includes('da64514e')));
  });

  it('renders a HelmRelease: chart versions, remediation and an operator rollback', () => {
    const hr = decodeTimeline('helmrelease/flux-system/web', [{ runId: 'run-1', history: history('helmrelease_flux-system_web') }]);
    golden('history-helmrelease-web.txt', `${renderTimeline(hr, hr.entries)}\n`);
    assert.ok(hr.entries.some((e) => e.type === 'RollbackRequested' && e.cluster === 'east' && e.by));
    assert.ok(hr.entries.some((e) => e.type === 'ChartPulled' && e.revision === '1.1.0'));
  });

  it('decodes a cluster actor: agent connections and desired state changes', () => {
    const c = decodeRun('cluster/prod-eu', 'run-1', history('cluster_prod-eu'));
    assert.ok(c.entries.some((e) => e.type === 'AgentConnected'));
    assert.ok(c.entries.some((e) => e.type === 'DesiredStateChanged'));
    assert.equal(c.run.workflowType, 'clusterWorkflow');
  });
});

// Small histories written here, event by event, for what the recorded ones do not show.
describe('flotilla history: who changed an adopted declaration, empty builds', () => {
  const { EventType } = temporal.api.enums.v1;
  const payloads = (...values: unknown[]): proto.temporal.api.common.v1.IPayloads => ({ payloads: values.map((v) => defaultPayloadConverter.toPayload(v)) });
  const at = (second: number): { seconds: number; nanos: number } => ({ seconds: 1_796_000_000 + second, nanos: 0 });
  type Event = Record<string, unknown>;
  /** Plain objects (numbers for Long fields) through protobufjs' fromObject, as the decoder gets them. */
  const historyOf = (...events: Event[]): proto.temporal.api.history.v1.IHistory => temporal.api.history.v1.History.fromObject({ events });
  const started = (workflowType: string): Event => ({
    eventId: 1, eventTime: at(0), eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
    workflowExecutionStartedEventAttributes: { workflowType: { name: workflowType } },
  });
  const signal = (eventId: number, signalName: string, identity: string, ...args: unknown[]): Event => ({
    eventId, eventTime: at(eventId), eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    workflowExecutionSignaledEventAttributes: { signalName, identity, input: payloads(...args) },
  });
  const declaration = (annotations: Record<string, string>): Record<string, unknown> => ({
    kind: 'HelmRelease', apiVersion: 'helm.toolkit.fluxcd.io/v2', namespace: 'web@staging', name: 'podinfo', labels: {}, annotations, spec: {},
  });

  it('attributes a declaration adopted from a build to its owning Kustomization (the last of the owned-by chain), not the worker\'s process id', () => {
    const owned = { [OWNED_BY_ANNOTATION]: 'kustomization/flux-system@staging/flux-system,kustomization/flux-system@staging/apps' };
    const { entries } = decodeRun('helmrelease/web@staging/podinfo', 'run-1', historyOf(
      started('helmReleaseWorkflow'),
      signal(2, 'spec', '4242@hub', declaration(owned)),
      signal(3, 'delete', '4242@hub'),
    ));
    const spec = entries.find((e) => e.type === 'SpecChanged');
    assert.ok(spec);
    assert.equal(spec.by, 'kustomization/flux-system@staging/apps');
    assert.equal(spec.message, 'declaration adopted from its build (helm.toolkit.fluxcd.io/v2)');
    assert.match(entryMessage(spec), /\(by kustomization\/flux-system@staging\/apps\)$/);
    const deleted = entries.find((e) => e.type === 'DeleteRequested');
    assert.match(deleted?.message ?? '', /adopted by kustomization\/flux-system@staging\/apps/);
  });

  it('keeps the client identity for a declaration applied directly', () => {
    const { entries } = decodeRun('helmrelease/web/podinfo', 'run-1', historyOf(started('helmReleaseWorkflow'), signal(2, 'spec', '77@laptop', declaration({}))));
    const spec = entries.find((e) => e.type === 'SpecChanged');
    assert.ok(spec);
    assert.equal(spec.by, '77@laptop');
    assert.equal(spec.message, 'declaration applied (helm.toolkit.fluxcd.io/v2)');
  });

  it('says a desired state of sha256("") is an empty build', () => {
    const update = (eventId: number, artifactDigest: string): Event => ({
      eventId, eventTime: at(eventId), eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
      workflowExecutionUpdateAcceptedEventAttributes: {
        acceptedRequest: { input: { name: 'setDeployment', args: payloads({ name: 'kustomization/flux-system/apps', owner: 'kustomization/flux-system/apps', artifactDigest }) } },
      },
    });
    const other = `sha256:${'ab'.repeat(32)}`;
    const { entries } = decodeRun('cluster/staging', 'run-1', historyOf(started('clusterWorkflow'), update(2, EMPTY_DIGEST), update(3, other)));
    const changes = entries.filter((e) => e.type === 'DesiredStateChanged').map((e) => e.message);
    assert.deepEqual(changes, [
      'kustomization/flux-system/apps → sha256:e3b0c44298fc (empty build: no objects)',
      'kustomization/flux-system/apps → sha256:abababababab',
    ]);
  });
});

describe('describeDigest', () => {
  it('explains the digest of empty content, and only that one', () => {
    assert.equal(EMPTY_DIGEST, digestOf(''));
    assert.equal(describeDigest(digestOf('')), 'sha256:e3b0c44298fc (empty build: no objects)');
    assert.equal(describeDigest(digestOf('kind: ConfigMap\n')), shortRevision(digestOf('kind: ConfigMap\n')));
    assert.equal(describeDigest('-'), '-');
  });
});
