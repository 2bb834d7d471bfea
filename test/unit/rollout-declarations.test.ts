// Flotilla's spec.rollout on Kustomizations and HelmReleases → typed RolloutStrategy values:
// the full shape, defaults, counts and percentages, and every validation error (each naming
// file, object and field).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDeclarationError, parseDeclarations } from '../../core/declarations/parse.js';
import type {
  Declaration, HelmReleaseDeclaration, KustomizationDeclaration, RolloutStrategy,
} from '../../core/declarations/types.js';
import { one as parseOne, onlyError } from '../harness/declarations.js';

/** A valid declaration with a rollout: no warnings either, but an older apiVersion's deprecation. */
function one(text: string): Declaration {
  const d = parseOne(text);
  assert.deepEqual((d.warnings ?? []).filter((w) => !/^apiVersion: \S+ is deprecated: /.test(w)), []);
  return d;
}

function kustomization(text: string): KustomizationDeclaration {
  const d = one(text);
  assert.equal(d.kind, 'Kustomization');
  return d;
}

const KS = (spec: string, apiVersion = 'kustomize.toolkit.fluxcd.io/v1'): string =>
  `apiVersion: ${apiVersion}\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec: ${spec}\n`;
const KS_SPEC = (extra: string, apiVersion?: string): string =>
  KS(`{interval: 5m, prune: true, sourceRef: {kind: GitRepository, name: fleet}${extra}}`, apiVersion);
const HR = (spec: string, apiVersion = 'helm.toolkit.fluxcd.io/v2'): string =>
  `apiVersion: ${apiVersion}\nkind: HelmRelease\nmetadata: {name: podinfo, namespace: apps}\nspec: ${spec}\n`;
const HR_SPEC = (extra: string, apiVersion?: string): string =>
  HR(`{interval: 10m, chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo}}}${extra}}`, apiVersion);
/** A Kustomization with `rollout: <rollout>`. */
const ROLLOUT = (rollout: string, apiVersion?: string): string => KS_SPEC(`, rollout: ${rollout}`, apiVersion);

const SUCCESS_2XX = Array.from({ length: 100 }, (_, i) => 200 + i);

describe('spec.rollout', () => {
  it('reads a full rollout on a Kustomization', () => {
    const d = kustomization(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 5m
  prune: true
  sourceRef: {kind: GitRepository, name: fleet}
  placement:
    clusterSelector: {matchLabels: {env: prod}}
  rollout:
    onFailure: pause
    analysis:
      url: "http://127.0.0.1:9090/api/v1/query?query=sum(rate(errors[1m]))"
      interval: 15s
      timeout: 3s
      failureLimit: 2
      successCodes: [200, 204]
      jsonPath: data.result.0.value.1
      min: 0
      max: 0.05
      headers: {Authorization: "Bearer x"}
    waves:
      - name: canary
        clusters: [dev]
        clusterSelector:
          matchLabels: {tier: canary}
          matchExpressions:
            - {key: region, operator: In, values: [eu]}
        size: 1
        maxConcurrency: "50%"
        maxFailures: 1
        bakeTime: 30s
        healthTimeout: 2m
        approval: true
      - name: rest
`);
    assert.deepEqual(d.spec.rollout, {
      waves: [
        {
          name: 'canary',
          clusters: ['dev'],
          clusterSelector: { matchLabels: { tier: 'canary' }, matchExpressions: [{ key: 'region', operator: 'In', values: ['eu'] }] },
          size: { count: 1 },
          maxConcurrency: { percent: 50 },
          maxFailures: 1,
          bakeSeconds: 30,
          healthTimeoutSeconds: 120,
          approval: true,
        },
        { name: 'rest', maxFailures: 0, bakeSeconds: 0, approval: false },
      ],
      analysis: {
        url: 'http://127.0.0.1:9090/api/v1/query?query=sum(rate(errors[1m]))',
        intervalSeconds: 15,
        timeoutSeconds: 3,
        failureLimit: 2,
        successCodes: [200, 204],
        jsonPath: 'data.result.0.value.1',
        min: 0,
        max: 0.05,
        headers: { Authorization: 'Bearer x' },
      },
      onFailure: 'pause',
    } satisfies RolloutStrategy);
    // The rest of the spec is as without a rollout; no `wait: true` needed, no warning.
    assert.deepEqual(d.spec.placement, { clusters: [], clusterSelector: { matchLabels: { env: 'prod' }, matchExpressions: [] }, hub: false });
    assert.equal(d.spec.wait, false);
  });

  it('fills in defaults and leaves absent optional fields out', () => {
    const d = kustomization(ROLLOUT('{waves: [{name: all}]}'));
    assert.deepEqual(d.spec.rollout, { waves: [{ name: 'all', maxFailures: 0, bakeSeconds: 0, approval: false }], onFailure: 'rollback' });
    // Absent, not undefined: the value is the same after a JSON round trip (workflow payloads).
    assert.deepEqual(Object.keys(d.spec.rollout), ['waves', 'onFailure']);
    assert.deepEqual(Object.keys(d.spec.rollout.waves[0] ?? {}), ['name', 'maxFailures', 'bakeSeconds', 'approval']);
    assert.equal(d.spec.rollout.waves[0]?.healthTimeoutSeconds, undefined);

    const a = kustomization(ROLLOUT('{analysis: {url: "https://metrics.example.com/health"}, waves: [{name: all, bakeTime: 0s}]}'));
    assert.deepEqual(a.spec.rollout?.analysis, {
      url: 'https://metrics.example.com/health', intervalSeconds: 10, timeoutSeconds: 5, failureLimit: 0, successCodes: SUCCESS_2XX, headers: {},
    });
    assert.equal(a.spec.rollout.waves[0]?.bakeSeconds, 0);
  });

  it('has no rollout property without spec.rollout', () => {
    const d = kustomization(KS_SPEC(''));
    assert.ok(!('rollout' in d.spec));
  });

  it('reads counts and percentages for size and maxConcurrency', () => {
    const d = kustomization(ROLLOUT(`{waves: [
      {name: a, size: 1, maxConcurrency: 1},
      {name: b, size: "3", maxConcurrency: "25%"},
      {name: c, size: "12.5%", maxConcurrency: "100%"},
      {name: d}]}`));
    assert.deepEqual(d.spec.rollout?.waves.map((w) => [w.name, w.size, w.maxConcurrency]), [
      ['a', { count: 1 }, { count: 1 }],
      ['b', { count: 3 }, { percent: 25 }],
      ['c', { percent: 12.5 }, { percent: 100 }],
      ['d', undefined, undefined],
    ]);
  });

  it('is read on v1beta2 Kustomizations', () => {
    const d = kustomization(ROLLOUT('{waves: [{name: canary, size: 1}, {name: rest}]}', 'kustomize.toolkit.fluxcd.io/v1beta2'));
    assert.equal(d.apiVersion, 'kustomize.toolkit.fluxcd.io/v1');
    assert.deepEqual(d.spec.rollout?.waves.map((w) => w.name), ['canary', 'rest']);
  });

  for (const apiVersion of ['helm.toolkit.fluxcd.io/v2', 'helm.toolkit.fluxcd.io/v2beta2']) {
    it(`is read on a HelmRelease (${apiVersion})`, () => {
      const d = one(HR_SPEC(', placement: {clusters: [a, b, c]}, rollout: {onFailure: rollback, waves: [{name: first, clusters: [a], approval: true}, {name: rest, maxConcurrency: 1, healthTimeout: 90s}]}', apiVersion)) as HelmReleaseDeclaration;
      assert.equal(d.kind, 'HelmRelease');
      assert.equal(d.apiVersion, 'helm.toolkit.fluxcd.io/v2');
      assert.deepEqual(d.spec.rollout, {
        waves: [
          { name: 'first', clusters: ['a'], maxFailures: 0, bakeSeconds: 0, approval: true },
          { name: 'rest', maxConcurrency: { count: 1 }, maxFailures: 0, bakeSeconds: 0, healthTimeoutSeconds: 90, approval: false },
        ],
        onFailure: 'rollback',
      } satisfies RolloutStrategy);
      assert.deepEqual(d.spec.placement.clusters, ['a', 'b', 'c']);
    });
  }

  it('leaves a HelmRelease without rollout as it was', () => {
    const d = one(HR_SPEC('')) as HelmReleaseDeclaration;
    assert.ok(!('rollout' in d.spec));
  });
});

describe('spec.rollout errors name file, object and field', () => {
  const KS_OBJECT = 'Kustomization/flux-system/apps';
  const WAVES = 'waves: [{name: all}]';
  const cases: [string, string, string, string, RegExp][] = [
    // [what, YAML, object, field, message]
    ['a duplicate wave name', ROLLOUT('{waves: [{name: canary}, {name: rest}, {name: canary}]}'), KS_OBJECT, 'spec.rollout.waves[2].name',
      /^duplicate wave name "canary" \(also waves\[0\]\): wave names must be unique$/],
    ['a size of 0%', ROLLOUT('{waves: [{name: canary, size: 1}, {name: rest, size: "0%"}]}'), KS_OBJECT, 'spec.rollout.waves[1].size',
      /^a percentage must be in \(0, 100\], got "0%"$/],
    ['a size of 0', ROLLOUT('{waves: [{name: canary, size: 0}]}'), KS_OBJECT, 'spec.rollout.waves[0].size',
      /^want a whole number >= 1 or a percentage such as "25%", got 0$/],
    ['a percentage over 100', ROLLOUT('{waves: [{name: canary, maxConcurrency: "150%"}]}'), KS_OBJECT, 'spec.rollout.waves[0].maxConcurrency',
      /^a percentage must be in \(0, 100\], got "150%"$/],
    ['a size that is neither', ROLLOUT('{waves: [{name: canary, size: true}]}'), KS_OBJECT, 'spec.rollout.waves[0].size',
      /^want a whole number >= 1 or a percentage such as "25%", got true$/],
    ['min without jsonPath', ROLLOUT(`{analysis: {url: "http://m:9090/q", min: 0}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.min',
      /^min needs jsonPath/],
    ['max without jsonPath', ROLLOUT(`{analysis: {url: "http://m:9090/q", max: 1}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.max',
      /^max needs jsonPath/],
    ['min greater than max', ROLLOUT(`{analysis: {url: "http://m:9090/q", jsonPath: a.b, min: 2, max: 1}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.min',
      /^min \(2\) must not be greater than max \(1\)$/],
    ['jsonPath without bounds', ROLLOUT(`{analysis: {url: "http://m:9090/q", jsonPath: data.result}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.jsonPath',
      /^jsonPath needs min and\/or max/],
    ['a bad jsonPath', ROLLOUT(`{analysis: {url: "http://m:9090/q", jsonPath: "a..b", max: 1}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.jsonPath',
      /^invalid jsonPath "a\.\.b"/],
    ['a non-HTTP URL', ROLLOUT(`{analysis: {url: "ftp://m/q"}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.url',
      /^unsupported URL "ftp:\/\/m\/q": want an http:\/\/ or https:\/\/ URL/],
    ['a URL without a host', ROLLOUT(`{analysis: {url: "http://"}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.url', /^unsupported URL "http:\/\/"/],
    ['an analysis without url', ROLLOUT(`{analysis: {interval: 10s}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.url', /^required field is missing$/],
    ['an interval under 1s', ROLLOUT(`{analysis: {url: "http://m/q", interval: 500ms}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.interval',
      /^duration "500ms" must be at least 1s$/],
    ['a zero timeout', ROLLOUT(`{analysis: {url: "http://m/q", timeout: 0s}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.timeout', /must be greater than zero/],
    ['a success code out of range', ROLLOUT(`{analysis: {url: "http://m/q", successCodes: [200, 600]}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.successCodes[1]',
      /^must be at most 599 \(got 600\)$/],
    ['a negative failureLimit', ROLLOUT(`{analysis: {url: "http://m/q", failureLimit: -1}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.failureLimit',
      /^must be at least 0 \(got -1\)$/],
    ['a bad header name', ROLLOUT(`{analysis: {url: "http://m/q", headers: {"bad header": x}}, ${WAVES}}`), KS_OBJECT, 'spec.rollout.analysis.headers["bad header"]',
      /^invalid header name "bad header"/],
    ['no waves', ROLLOUT('{waves: []}'), KS_OBJECT, 'spec.rollout.waves', /^a rollout needs at least one wave$/],
    ['a missing waves', ROLLOUT('{onFailure: pause}'), KS_OBJECT, 'spec.rollout.waves', /^required: the waves to roll out in/],
    ['too many waves', ROLLOUT(`{waves: [${Array.from({ length: 21 }, (_, i) => `{name: w${i}}`).join(', ')}]}`), KS_OBJECT, 'spec.rollout.waves',
      /^at most 20 waves \(got 21\)$/],
    ['a wave without a name', ROLLOUT('{waves: [{size: 1}]}'), KS_OBJECT, 'spec.rollout.waves[0].name', /^required field is missing$/],
    ['a wave name that is not a DNS label', ROLLOUT('{waves: [{name: Canary}]}'), KS_OBJECT, 'spec.rollout.waves[0].name', /must be a DNS label/],
    ['an unknown field in a wave', ROLLOUT('{waves: [{name: canary, take: 1}]}'), KS_OBJECT, 'spec.rollout.waves[0].take', /^unknown field$/],
    ['an unknown field in the rollout', ROLLOUT(`{strategy: canary, ${WAVES}}`), KS_OBJECT, 'spec.rollout.strategy', /^unknown field$/],
    ['an unknown onFailure', ROLLOUT(`{onFailure: ignore, ${WAVES}}`), KS_OBJECT, 'spec.rollout.onFailure', /^must be one of rollback, pause \(got "ignore"\)$/],
    ['a negative maxFailures', ROLLOUT('{waves: [{name: a, maxFailures: -1}]}'), KS_OBJECT, 'spec.rollout.waves[0].maxFailures', /^must be at least 0 \(got -1\)$/],
    ['a fractional maxFailures', ROLLOUT('{waves: [{name: a, maxFailures: 1.5}]}'), KS_OBJECT, 'spec.rollout.waves[0].maxFailures', /^expected a whole number, got 1\.5$/],
    ['a negative bakeTime', ROLLOUT('{waves: [{name: a, bakeTime: -1m}]}'), KS_OBJECT, 'spec.rollout.waves[0].bakeTime', /^duration "-1m" must not be negative$/],
    ['a bad healthTimeout', ROLLOUT('{waves: [{name: a, healthTimeout: 0s}]}'), KS_OBJECT, 'spec.rollout.waves[0].healthTimeout', /^duration "0s" must be at least 1s$/],
    ['an empty clusters list', ROLLOUT('{waves: [{name: a, clusters: []}]}'), KS_OBJECT, 'spec.rollout.waves[0].clusters', /^an empty list selects no cluster/],
    ['a bad cluster name in a wave', ROLLOUT('{waves: [{name: a, clusters: [Dev]}]}'), KS_OBJECT, 'spec.rollout.waves[0].clusters[0]', /must be a DNS label/],
    ['a bad selector in a wave', ROLLOUT('{waves: [{name: a, clusterSelector: {matchExpressions: [{key: env, operator: In}]}}]}'), KS_OBJECT,
      'spec.rollout.waves[0].clusterSelector.matchExpressions[0].values', /needs at least one value/],
    ['a rollout with hub: true', KS_SPEC(`, placement: {hub: true}, rollout: {${WAVES}}`), KS_OBJECT, 'spec.rollout',
      /^a rollout needs clusters; hub: true places the build on the hub$/],
    ['a rollout with hub: true (v1beta2)', KS_SPEC(`, placement: {hub: true}, rollout: {${WAVES}}`, 'kustomize.toolkit.fluxcd.io/v1beta2'), KS_OBJECT, 'spec.rollout',
      /^a rollout needs clusters; hub: true places the build on the hub$/],
    ['a duplicate wave name on a HelmRelease', HR_SPEC(', rollout: {waves: [{name: a}, {name: a}]}'), 'HelmRelease/apps/podinfo', 'spec.rollout.waves[1].name',
      /^duplicate wave name "a"/],
  ];
  for (const [what, yaml, object, field, message] of cases) {
    it(`reports ${what}`, () => {
      const e = onlyError(parseDeclarations(yaml, 'apps.yaml'));
      assert.equal(e.file, 'apps.yaml');
      assert.equal(e.document, 1);
      assert.equal(e.object, object);
      assert.equal(e.field, field);
      assert.match(e.message, message);
    });
  }

  it('formats an error with its field path', () => {
    const e = onlyError(parseDeclarations(ROLLOUT('{waves: [{name: canary, size: 1}, {name: rest, size: "0%"}]}'), 'apps.yaml'));
    assert.equal(formatDeclarationError(e), 'apps.yaml: Kustomization/flux-system/apps: spec.rollout.waves[1].size: a percentage must be in (0, 100], got "0%"');
  });
});
