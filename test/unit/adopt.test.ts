// Scopes (core/declarations/scope.ts) and the split of a Kustomization's build into adopted
// hub declarations, cluster objects and skipped objects (core/declarations/adopt.ts): every
// kind's references folded into the scope, each route of splitBuild, placement inheritance,
// ownership, cycles, duplicates and bootstrap's keep list.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { objectsYaml, splitBuild, type SplitBuild } from '../../core/declarations/adopt.js';
import { formatDeclarationError } from '../../core/declarations/parse.js';
import {
  adoptionContext, BOOTSTRAP_ANNOTATION, clusterNamespace, OWNED_BY_ANNOTATION, ownersOf, scopeDeclaration, scopedNamespace, scopeOf, splitScope,
  type AdoptionContext,
} from '../../core/declarations/scope.js';
import {
  declarationId, type AlertDeclaration, type Declaration, type GitRepositoryDeclaration, type HelmReleaseDeclaration, type ImagePolicyDeclaration,
  type ImageUpdateAutomationDeclaration, type KustomizationDeclaration, type Placement, type ReceiverDeclaration,
} from '../../core/declarations/types.js';
import { one } from '../harness/declarations.js';

// ---------------------------------------------------------------------------------------
// Fixtures

const KS = (name: string, extra = '', namespace = 'flux-system'): string => `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  interval: 10m
  path: ./${name}
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
${extra}`;

const GIT = (name: string): string => `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: ${name}, namespace: flux-system}
spec: {url: "https://git.example.com/${name}.git", interval: 1m, ref: {branch: main}}
`;

const HELM_REPO = `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo, namespace: podinfo}
spec: {interval: 1h, url: "https://stefanprodan.github.io/podinfo"}
`;

const HELM_RELEASE = (extra = ''): string => `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: podinfo}
spec:
  interval: 10m
  chart: {spec: {chart: podinfo, version: "6.x", sourceRef: {kind: HelmRepository, name: podinfo}}}
${extra}`;

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo, namespace: podinfo}
spec:
  selector: {matchLabels: {app: podinfo}}
  template: {metadata: {labels: {app: podinfo}}, spec: {containers: [{name: podinfo, image: "ghcr.io/stefanprodan/podinfo:6.7.0"}]}}
`;

const CONFIG_MAP = `apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-vars, namespace: flux-system}
data: {cluster_env: staging}
`;

const SECRET = `apiVersion: v1
kind: Secret
metadata: {name: token, namespace: flux-system}
stringData: {token: s3cr3t}
`;

/** A few objects of gotk-components.yaml, as `flux install --export` writes them. */
const GOTK_COMPONENTS = `apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
  labels: {app.kubernetes.io/instance: flux-system, app.kubernetes.io/part-of: flux, app.kubernetes.io/version: v2.7.0}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gitrepositories.source.toolkit.fluxcd.io
  labels: {app.kubernetes.io/part-of: flux, app.kubernetes.io/version: v2.7.0}
spec: {group: source.toolkit.fluxcd.io, names: {kind: GitRepository, plural: gitrepositories}, scope: Namespaced, versions: []}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: kustomizations.kustomize.toolkit.fluxcd.io}
spec: {group: kustomize.toolkit.fluxcd.io, names: {kind: Kustomization, plural: kustomizations}, scope: Namespaced, versions: []}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: source-controller
  namespace: flux-system
  labels: {app.kubernetes.io/part-of: flux}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: source-controller
  namespace: flux-system
  labels: {app.kubernetes.io/part-of: flux, app.kubernetes.io/version: v2.7.0}
spec:
  selector: {matchLabels: {app: source-controller}}
  template: {metadata: {labels: {app: source-controller}}, spec: {containers: [{name: manager, image: "ghcr.io/fluxcd/source-controller:v1.7.0"}]}}
`;

function kustomization(text: string): KustomizationDeclaration {
  const d = one(text);
  assert.equal(d.kind, 'Kustomization');
  return d;
}

/** The root `flotilla bootstrap --path <path> [--cluster <scope>]` declares (as cli/build.ts builds it). */
function bootstrapRoot(scope?: string, placement = scope !== undefined ? `  placement: {clusters: [${scope}]}\n` : ''): KustomizationDeclaration {
  const text = KS('flux-system', placement).replace('namespace: flux-system}', `namespace: flux-system, annotations: {${BOOTSTRAP_ANNOTATION}: "true"}}`);
  const scoped = scopeDeclaration(kustomization(text), scope);
  assert.equal(scoped.kind, 'Kustomization');
  return scoped;
}

function ctxOf(owner: KustomizationDeclaration): AdoptionContext {
  return adoptionContext(owner);
}

const docs = (...texts: string[]): string => texts.map((t) => (t.endsWith('\n') ? t : `${t}\n`)).join('---\n');
const ids = (split: SplitBuild): string[] => split.declarations.map(declarationId);
const described = (split: SplitBuild): string[] => split.objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
const errorTexts = (split: SplitBuild): string[] => split.errors.map(formatDeclarationError);
/** Without the undefined fields the parser leaves (clusterSelector: undefined). */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

function adopted<K extends Declaration['kind']>(split: SplitBuild, kind: K, name: string): Declaration & { readonly kind: K } {
  const d = split.declarations.find((x): x is Declaration & { readonly kind: K } => x.kind === kind && x.name === name);
  assert.ok(d, `${kind} ${name} adopted; got ${ids(split).join(', ')}`);
  return d;
}

// ---------------------------------------------------------------------------------------
// Scopes

describe('scoped namespaces', () => {
  it('fold a scope into a namespace and back', () => {
    assert.equal(scopedNamespace('flux-system', 'staging'), 'flux-system@staging');
    assert.equal(scopedNamespace('flux-system', undefined), 'flux-system');
    assert.equal(scopedNamespace('flux-system@prod', 'staging'), 'flux-system@prod', 'an already scoped namespace is left alone');
    assert.equal(scopedNamespace('*', 'staging'), '*', 'a wildcard stays a wildcard');
    assert.deepEqual(splitScope('flux-system@staging'), { namespace: 'flux-system', scope: 'staging' });
    assert.deepEqual(splitScope('flux-system'), { namespace: 'flux-system' });
    assert.equal(clusterNamespace('podinfo@staging'), 'podinfo');
    assert.equal(clusterNamespace('podinfo'), 'podinfo');
  });

  it('read the scope of a namespace or a declaration id', () => {
    assert.equal(scopeOf('flux-system@staging'), 'staging');
    assert.equal(scopeOf('kustomization/flux-system@staging/apps'), 'staging');
    assert.equal(scopeOf('kustomization/flux-system/apps'), undefined);
    assert.equal(scopeOf('flux-system'), undefined);
  });
});

describe('scopeDeclaration', () => {
  it('leaves a declaration alone without a scope, or when it is scoped already', () => {
    const d = kustomization(KS('apps'));
    assert.equal(scopeDeclaration(d, undefined), d);
    const once = scopeDeclaration(d, 'staging');
    assert.equal(scopeDeclaration(once, 'prod'), once);
  });

  it('GitRepository: its namespace and each include repository', () => {
    const d = one(GIT('fleet').replace('ref: {branch: main}', 'ref: {branch: main}, include: [{repository: {name: shared}, fromPath: deploy, toPath: shared}]'));
    assert.equal(d.kind, 'GitRepository');
    const s = scopeDeclaration(d, 'staging') as GitRepositoryDeclaration;
    assert.equal(s.namespace, 'flux-system@staging');
    assert.deepEqual(s.spec.include.map((i) => i.repository), [{ namespace: 'flux-system@staging', name: 'shared' }]);
    assert.equal(s.spec.include[0]?.fromPath, 'deploy', 'the rest of the include is kept');
    assert.equal(s.spec.url, 'https://git.example.com/fleet.git');
  });

  it('Kustomization: sourceRef and dependsOn, not the health check or target namespaces the cluster sees', () => {
    const d = kustomization(KS('apps', `  targetNamespace: apps
  dependsOn: [{name: infra}, {name: crds, namespace: other}]
  healthChecks: [{apiVersion: apps/v1, kind: Deployment, name: web, namespace: apps}]
`));
    const s = scopeDeclaration(d, 'staging') as KustomizationDeclaration;
    assert.equal(declarationId(s), 'kustomization/flux-system@staging/apps');
    assert.deepEqual(s.spec.sourceRef, { kind: 'GitRepository', namespace: 'flux-system@staging', name: 'flux-system' });
    assert.deepEqual(s.spec.dependsOn, [{ namespace: 'flux-system@staging', name: 'infra' }, { namespace: 'other@staging', name: 'crds' }]);
    assert.equal(s.spec.targetNamespace, 'apps');
    assert.equal(s.spec.healthChecks[0]?.namespace, 'apps');
  });

  it('HelmRelease: chart sourceRef and dependsOn; target and storage namespaces stay real', () => {
    const d = one(HELM_RELEASE('  dependsOn: [{name: redis}]\n'));
    const s = scopeDeclaration(d, 'staging') as HelmReleaseDeclaration;
    assert.equal(s.namespace, 'podinfo@staging');
    assert.deepEqual(s.spec.chart.sourceRef, { kind: 'HelmRepository', namespace: 'podinfo@staging', name: 'podinfo' });
    assert.deepEqual(s.spec.dependsOn, [{ namespace: 'podinfo@staging', name: 'redis' }]);
    assert.equal(s.spec.targetNamespace, 'podinfo');
    assert.equal(s.spec.storageNamespace, 'podinfo');
    assert.equal(s.spec.releaseName, 'podinfo');
  });

  it('ImagePolicy: imageRepositoryRef; ImageUpdateAutomation: sourceRef', () => {
    const policy = scopeDeclaration(one(`apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {name: app, namespace: flux-system}
spec: {imageRepositoryRef: {name: app}, policy: {semver: {range: ">=1.0.0"}}}
`), 'staging') as ImagePolicyDeclaration;
    assert.deepEqual(policy.spec.imageRepositoryRef, { namespace: 'flux-system@staging', name: 'app' });
    const automation = scopeDeclaration(one(`apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageUpdateAutomation
metadata: {name: app, namespace: flux-system}
spec: {sourceRef: {kind: GitRepository, name: fleet}, interval: 5m, git: {commit: {author: {email: bot@example.com}}}}
`), 'staging') as ImageUpdateAutomationDeclaration;
    assert.equal(automation.spec.sourceRef.namespace, 'flux-system@staging');
    assert.equal(automation.spec.sourceRef.name, 'fleet');
  });

  it('Alert: eventSources; Receiver: resources', () => {
    const alert = scopeDeclaration(one(`apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: on-call, namespace: flux-system}
spec: {providerRef: {name: slack}, eventSources: [{kind: Kustomization, name: "*"}, {kind: HelmRelease, name: podinfo, namespace: podinfo}]}
`), 'staging') as AlertDeclaration;
    assert.deepEqual(alert.spec.eventSources.map((e) => `${e.kind}/${e.namespace}/${e.name}`), ['Kustomization/flux-system@staging/*', 'HelmRelease/podinfo@staging/podinfo']);
    assert.deepEqual(alert.spec.providerRef, { name: 'slack' }, 'a same-namespace reference is by name');
    const receiver = scopeDeclaration(one(`apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: hook, namespace: flux-system}
spec: {type: generic, secretRef: {name: t}, resources: [{kind: GitRepository, name: flux-system}, {kind: Kustomization, name: apps, namespace: apps}]}
`), 'staging') as ReceiverDeclaration;
    assert.deepEqual(receiver.spec.resources.map((r) => `${r.kind}/${r.namespace}/${r.name}`), ['GitRepository/flux-system@staging/flux-system', 'Kustomization/apps@staging/apps']);
    assert.deepEqual(receiver.spec.secretRef, { name: 't' });
  });

  it('HelmRepository, ImageRepository, Provider, ConfigMap and Secret: the namespace only', () => {
    const texts = [
      HELM_REPO,
      'apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nmetadata: {name: app, namespace: flux-system}\nspec: {image: ghcr.io/org/app, interval: 5m, secretRef: {name: regcred}}\n',
      'apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: slack, namespace: flux-system}\nspec: {type: slack, channel: general, secretRef: {name: slack-token}}\n',
      CONFIG_MAP, SECRET,
    ];
    for (const text of texts) {
      const d = one(text);
      const s = scopeDeclaration(d, 'staging');
      assert.equal(s.namespace, `${d.namespace}@staging`, d.kind);
      assert.deepEqual(s.spec, d.spec, `${d.kind}: the spec is unchanged`);
    }
  });
});

describe('adoptionContext', () => {
  it('names the owner, its owners, its scope and placement', () => {
    const child = kustomization(KS('apps').replace('namespace: flux-system}', `namespace: flux-system, annotations: {${OWNED_BY_ANNOTATION}: "kustomization/flux-system@staging/flux-system"}}`));
    const ctx = ctxOf(scopeDeclaration(child, 'staging') as KustomizationDeclaration);
    assert.equal(ctx.owner, 'kustomization/flux-system@staging/apps');
    assert.deepEqual(ctx.ownerChain, ['kustomization/flux-system@staging/flux-system']);
    assert.equal(ctx.scope, 'staging');
    assert.equal(ctx.hubOnly, false);
    assert.deepEqual(ctx.keep, {}, 'only bootstrap\'s Kustomization keeps its source');
  });

  it("keeps bootstrap's GitRepository: its build may repeat it (gotk-sync.yaml) without replacing it", () => {
    const ctx = ctxOf(bootstrapRoot('staging'));
    assert.deepEqual(Object.keys(ctx.keep), ['gitrepository/flux-system@staging/flux-system']);
    assert.match(ctx.keep['gitrepository/flux-system@staging/flux-system'] ?? '', /flotilla bootstrap/);
    assert.deepEqual(ctx.placement.clusters, ['staging']);
    assert.equal(ctxOf(bootstrapRoot()).scope, undefined, 'without --cluster it is unscoped');
  });

  it('reads an empty or missing owned-by annotation as no owners', () => {
    assert.deepEqual(ownersOf({ annotations: {} }), []);
    assert.deepEqual(ownersOf({ annotations: { [OWNED_BY_ANNOTATION]: '' } }), []);
    assert.deepEqual(ownersOf({ annotations: { [OWNED_BY_ANNOTATION]: 'a,b' } }), ['a', 'b']);
  });
});

// ---------------------------------------------------------------------------------------
// splitBuild

describe('splitBuild routes each object', () => {
  const root = bootstrapRoot('staging');
  const ctx = ctxOf(root);

  it('adopts Flux objects into the scope and applies plain objects', () => {
    const split = splitBuild(docs(KS('apps'), HELM_REPO, HELM_RELEASE(), DEPLOYMENT, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: podinfo}\n'), 'build', ctx);
    assert.deepEqual(split.errors, []);
    assert.deepEqual(ids(split), ['helmrepository/podinfo@staging/podinfo', 'kustomization/flux-system@staging/apps', 'helmrelease/podinfo@staging/podinfo']);
    assert.deepEqual(described(split), ['Deployment/podinfo/podinfo', 'Namespace//podinfo']);
    assert.deepEqual(split.skipped, []);
    assert.deepEqual(split.notices, []);
  });

  it('lists adopted declarations in apply order: data, then sources, then the rest, each in build order', () => {
    const split = splitBuild(docs(HELM_RELEASE(), KS('b'), KS('a'), HELM_REPO, CONFIG_MAP, GIT('fleet'), SECRET), 'build', ctx);
    assert.deepEqual(ids(split), [
      'configmap/flux-system@staging/cluster-vars', 'secret/flux-system@staging/token',
      'helmrepository/podinfo@staging/podinfo', 'gitrepository/flux-system@staging/fleet',
      'helmrelease/podinfo@staging/podinfo', 'kustomization/flux-system@staging/b', 'kustomization/flux-system@staging/a',
    ]);
    assert.deepEqual(described(split), ['ConfigMap/flux-system/cluster-vars', 'Secret/flux-system/token'], 'objects keep the build order');
  });

  it('starts dependencies before their dependents (kustomize sorts by name: apps would come first)', () => {
    const split = splitBuild(docs(
      KS('apps', '  dependsOn: [{name: infra-configs}]\n'), KS('infra-configs', '  dependsOn: [{name: infra-controllers}]\n'),
      KS('infra-controllers'), KS('loop-a', '  dependsOn: [{name: loop-b}]\n'), KS('loop-b', '  dependsOn: [{name: loop-a}]\n'),
    ), 'build', ctx);
    assert.deepEqual(ids(split), [
      'kustomization/flux-system@staging/infra-controllers', 'kustomization/flux-system@staging/infra-configs',
      'kustomization/flux-system@staging/apps', 'kustomization/flux-system@staging/loop-a', 'kustomization/flux-system@staging/loop-b',
    ], 'a dependsOn cycle keeps the build order');
  });

  it('adopts ConfigMaps and Secrets (for substituteFrom and secretRef) and applies them too', () => {
    const split = splitBuild(docs(CONFIG_MAP, SECRET), 'build', ctx);
    assert.deepEqual(ids(split), ['configmap/flux-system@staging/cluster-vars', 'secret/flux-system@staging/token']);
    assert.deepEqual(described(split), ['ConfigMap/flux-system/cluster-vars', 'Secret/flux-system/token']);
    const secret = adopted(split, 'Secret', 'token');
    assert.deepEqual(secret.spec.data, { token: 's3cr3t' });
    assert.equal(split.objects[1]?.metadata.namespace, 'flux-system', 'the cluster gets the object as written, unscoped');
  });

  it('still applies a ConfigMap or Secret the hub cannot read, without an error', () => {
    const split = splitBuild(docs('apiVersion: v1\nkind: Secret\nmetadata: {name: raw, namespace: flux-system}\ndata: {key: "%%%not-base64"}\n'), 'build', ctx);
    assert.deepEqual(split.errors, []);
    assert.deepEqual(split.declarations, []);
    assert.deepEqual(described(split), ['Secret/flux-system/raw']);
  });

  it("skips Flux's own controllers and CRDs with one notice, and keeps their Namespace", () => {
    const split = splitBuild(docs(GOTK_COMPONENTS, DEPLOYMENT), 'build', ctx);
    assert.deepEqual(split.errors, []);
    assert.deepEqual(described(split), ['Namespace//flux-system', 'Deployment/podinfo/podinfo']);
    assert.deepEqual(split.skipped.map((s) => s.object), [
      'CustomResourceDefinition/gitrepositories.source.toolkit.fluxcd.io', 'CustomResourceDefinition/kustomizations.kustomize.toolkit.fluxcd.io',
      'ServiceAccount/flux-system/source-controller', 'Deployment/flux-system/source-controller',
    ]);
    for (const s of split.skipped) assert.match(s.reason, /Flux's controllers \(gotk-components\.yaml\)/);
    assert.equal(split.notices.length, 1);
    assert.match(split.notices[0] ?? '', /gotk-components\.yaml, flux v2\.7\.0: 4 objects\) are not installed: the hub does their job/);
  });

  it('recognises an unlabelled CRD of a Flux group as Flux\'s, but not a CRD of another group', () => {
    const other = 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec: {group: example.com}\n';
    const split = splitBuild(docs(GOTK_COMPONENTS.split('---\n')[2] ?? '', other), 'build', ctx);
    assert.deepEqual(split.skipped.map((s) => s.object), ['CustomResourceDefinition/kustomizations.kustomize.toolkit.fluxcd.io']);
    assert.deepEqual(described(split), ['CustomResourceDefinition//widgets.example.com']);
    assert.doesNotMatch(split.notices[0] ?? '', /flux v/, 'no version label, no version');
  });

  it('skips a kustomize build file and the Flux kinds Flotilla does not reconcile yet (HelmChart)', () => {
    const split = splitBuild(docs(
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata: {name: leftover}\nresources: []\n',
      'apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {name: chart, namespace: flux-system}\nspec: {chart: podinfo}\n',
    ), 'build', ctx);
    assert.deepEqual(split.errors, []);
    assert.deepEqual(split.objects, []);
    assert.deepEqual(split.skipped, [
      { object: 'Kustomization/leftover', reason: 'a kustomize build file' },
      { object: 'HelmChart/flux-system/chart', reason: 'Flotilla does not reconcile this kind yet' },
    ]);
  });

  it('refuses ArtifactGenerator and ExternalArtifact, saying what to do instead', () => {
    const split = splitBuild(docs(
      'apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata: {name: gen, namespace: flux-system}\nspec: {}\n',
      'apiVersion: source.toolkit.fluxcd.io/v1\nkind: ExternalArtifact\nmetadata: {name: art, namespace: flux-system}\nspec: {}\n',
    ), 'build of kustomization/flux-system@staging/flux-system', ctx);
    assert.equal(split.errors.length, 2);
    const [generator, artifact] = split.errors;
    assert.ok(generator && artifact);
    assert.equal(generator.object, 'ArtifactGenerator/flux-system@staging/gen', 'named as the hub keys it');
    assert.equal(generator.field, 'kind');
    assert.match(generator.message, /ArtifactGenerator is not supported.*spec\.path set to the directory the generator copies/);
    assert.equal(artifact.object, 'ExternalArtifact/flux-system@staging/art');
    assert.match(artifact.message, /ExternalArtifact is not supported/);
    assert.equal(generator.file, 'build of kustomization/flux-system@staging/flux-system');
    assert.deepEqual(split.declarations, []);
    assert.deepEqual(split.objects, [], 'a refused Flux object never goes to a cluster');
  });

  it('names the object and the field of an invalid Flux object, and adopts the valid ones beside it', () => {
    const bad = KS('bad', '  timeout: soon\n').replace('interval: 10m', 'interval: 5x');
    const split = splitBuild(docs(KS('apps'), bad), 'build', ctx);
    assert.deepEqual(ids(split), ['kustomization/flux-system@staging/apps']);
    const errors = errorTexts(split);
    assert.ok(errors.some((e) => e.includes('Kustomization/flux-system@staging/bad: spec.interval: invalid duration "5x"')), errors.join('\n'));
    assert.ok(errors.some((e) => e.includes('Kustomization/flux-system@staging/bad: spec.timeout')), errors.join('\n'));
    assert.ok(split.errors.every((e) => e.document === 2), 'the document is named');
  });

  it('reports malformed YAML in the build as an error', () => {
    const split = splitBuild('apiVersion: v1\nkind: [\n', 'build', ctx);
    assert.equal(split.errors.length, 1);
    assert.match(split.errors[0]?.message ?? '', /malformed YAML/);
  });

  it("passes on the parser's warnings (fields Flotilla does not act on)", () => {
    const split = splitBuild(KS('apps', '  decryption: {provider: sops}\n'), 'build', ctx);
    assert.deepEqual(split.errors, []);
    assert.equal(split.warnings.length, 1);
    assert.equal(split.warnings[0]?.field, 'spec.decryption');
    assert.deepEqual(adopted(split, 'Kustomization', 'apps').warnings?.length, 1, 'the declaration carries it to its status');
  });

  it('skips the Kustomization itself (gotk-sync.yaml) and keeps bootstrap\'s GitRepository', () => {
    const split = splitBuild(docs(GIT('flux-system'), KS('flux-system'), GIT('podinfo')), 'build', ctx);
    assert.deepEqual(split.errors, []);
    assert.deepEqual(ids(split), ['gitrepository/flux-system@staging/podinfo']);
    assert.deepEqual(split.skipped, [
      { object: 'GitRepository/flux-system@staging/flux-system', reason: ctx.keep['gitrepository/flux-system@staging/flux-system'] },
      { object: 'Kustomization/flux-system@staging/flux-system', reason: 'the Kustomization itself' },
    ]);
  });

  it('adopts another Kustomization\'s GitRepository: only bootstrap\'s Kustomization keeps its source', () => {
    const child = adopted(splitBuild(KS('apps'), 'build', ctx), 'Kustomization', 'apps');
    const split = splitBuild(GIT('flux-system'), 'build', ctxOf(child));
    assert.deepEqual(ids(split), ['gitrepository/flux-system@staging/flux-system']);
  });
});

describe('splitBuild reports what it does not adopt', () => {
  it('a hub-only build refuses a Secret the hub cannot read: it has nowhere else to go', () => {
    const hub = scopeDeclaration(kustomization(KS('flotilla-system', '  placement: {hub: true}\n')), undefined);
    assert.equal(hub.kind, 'Kustomization');
    const split = splitBuild(docs('apiVersion: v1\nkind: Secret\nmetadata: {name: bad, namespace: flux-system}\ndata: {password: "not base64!"}\n'), 'build', ctxOf(hub));
    assert.equal(split.declarations.length, 0);
    assert.equal(split.objects.length, 0);
    assert.equal(split.errors.length, 1, 'reported, not dropped');
    assert.match(formatDeclarationError(split.errors[0] ?? { file: '', message: '' }), /Secret\/flux-system\/bad/);
  });

  it('does not warn about fields of an object it skips (the bootstrap pair repeated by gotk-sync.yaml)', () => {
    const root = bootstrapRoot('staging');
    const split = splitBuild(docs(KS('flux-system', '  decryption: {provider: sops}\n'), KS('apps', '  decryption: {provider: sops}\n')), 'build', ctxOf(root));
    assert.deepEqual(split.skipped.map((x) => x.reason), ['the Kustomization itself']);
    assert.deepEqual(split.warnings.map((w) => `${w.object ?? ''} ${w.field ?? ''}`), ['Kustomization/flux-system@staging/apps spec.decryption']);
    assert.deepEqual(adopted(split, 'Kustomization', 'apps').warnings?.map((w) => w.split(':')[0]), ['spec.decryption'], 'carried to the status');
  });
});

describe('splitBuild places adopted objects where the owner goes', () => {
  it('gives adopted Kustomizations and HelmReleases the owner\'s placement', () => {
    const root = bootstrapRoot('staging');
    const split = splitBuild(docs(KS('apps'), HELM_RELEASE()), 'build', ctxOf(root));
    const expected: Placement = { clusters: ['staging'], hub: false };
    assert.deepEqual(plain(adopted(split, 'Kustomization', 'apps').spec.placement), expected);
    assert.deepEqual(plain(adopted(split, 'HelmRelease', 'podinfo').spec.placement), expected);
    assert.deepEqual(split.warnings, []);
  });

  it('unscoped, the default placement (every cluster) is inherited', () => {
    const split = splitBuild(KS('apps'), 'build', ctxOf(bootstrapRoot()));
    assert.equal(declarationId(adopted(split, 'Kustomization', 'apps')), 'kustomization/flux-system/apps');
    assert.deepEqual(plain(adopted(split, 'Kustomization', 'apps').spec.placement), { clusters: [], hub: false });
  });

  it("replaces a child's own placement, with a warning naming the object and the field", () => {
    const root = bootstrapRoot('staging');
    const split = splitBuild(docs(
      KS('apps', '  placement: {clusterSelector: {matchLabels: {env: prod}}}\n'),
      HELM_RELEASE('  placement: {clusters: [prod]}\n'),
    ), 'build', ctxOf(root));
    assert.deepEqual(plain(adopted(split, 'Kustomization', 'apps').spec.placement), { clusters: ['staging'], hub: false });
    assert.deepEqual(plain(adopted(split, 'HelmRelease', 'podinfo').spec.placement), { clusters: ['staging'], hub: false });
    assert.deepEqual(split.warnings.map((w) => `${w.object ?? ''}: ${w.field ?? ''}`), [
      'Kustomization/flux-system@staging/apps: spec.placement', 'HelmRelease/podinfo@staging/podinfo: spec.placement',
    ]);
    assert.match(split.warnings[0]?.message ?? '', /replaced: an adopted Kustomization goes where kustomization\/flux-system@staging\/flux-system goes/);
  });

  it('with placement {hub: true} every object must be a declaration, and placements are kept', () => {
    const owner = kustomization(KS('flotilla-system', '  placement: {hub: true}\n'));
    const ctx = ctxOf(owner);
    assert.equal(ctx.hubOnly, true);
    const split = splitBuild(docs(KS('apps', '  placement: {clusters: [prod]}\n'), CONFIG_MAP, DEPLOYMENT, GOTK_COMPONENTS.split('---\n')[0] ?? ''), 'build', ctx);
    assert.deepEqual(plain(adopted(split, 'Kustomization', 'apps').spec.placement), { clusters: ['prod'], hub: false });
    assert.ok(ids(split).includes('configmap/flux-system/cluster-vars'));
    assert.deepEqual(split.objects, [], 'nothing goes to a cluster');
    const errors = errorTexts(split);
    assert.ok(errors.some((e) => e.includes('Deployment/podinfo/podinfo: kind: unsupported object apps/v1 Deployment')), errors.join('\n'));
    assert.ok(errors.some((e) => e.includes('Namespace')), 'not even Flux\'s Namespace');
  });
});

describe('splitBuild records ownership', () => {
  it('annotates each adopted declaration with its owners, outermost first', () => {
    const root = bootstrapRoot('staging');
    const child = adopted(splitBuild(KS('apps'), 'build', ctxOf(root)), 'Kustomization', 'apps');
    assert.equal(child.annotations[OWNED_BY_ANNOTATION], 'kustomization/flux-system@staging/flux-system');
    const grandchild = adopted(splitBuild(docs(KS('podinfo'), CONFIG_MAP), 'build', ctxOf(child)), 'Kustomization', 'podinfo');
    assert.equal(grandchild.annotations[OWNED_BY_ANNOTATION], 'kustomization/flux-system@staging/flux-system,kustomization/flux-system@staging/apps');
    assert.deepEqual(ctxOf(grandchild).ownerChain, ['kustomization/flux-system@staging/flux-system', 'kustomization/flux-system@staging/apps']);
  });

  it('refuses a build declaring one of its owners, naming the whole chain', () => {
    const root = bootstrapRoot('staging');
    const apps = adopted(splitBuild(KS('apps'), 'build', ctxOf(root)), 'Kustomization', 'apps');
    const podinfo = adopted(splitBuild(KS('podinfo'), 'build', ctxOf(apps)), 'Kustomization', 'podinfo');
    const split = splitBuild(docs(KS('apps'), KS('other')), 'build of podinfo', ctxOf(podinfo));
    assert.deepEqual(ids(split), ['kustomization/flux-system@staging/other']);
    assert.equal(split.errors.length, 1);
    const [e] = split.errors;
    assert.ok(e);
    assert.equal(e.object, 'Kustomization/flux-system@staging/apps');
    assert.equal(e.message,
      'declaration cycle: kustomization/flux-system@staging/apps → kustomization/flux-system@staging/podinfo → kustomization/flux-system@staging/apps; '
      + "a Kustomization's build may not declare one of its owners (remove it from kustomization/flux-system@staging/podinfo's path)");
  });

  it('refuses a build declaring the bootstrap root (the outermost owner)', () => {
    const root = bootstrapRoot();
    const apps = adopted(splitBuild(KS('apps'), 'build', ctxOf(root)), 'Kustomization', 'apps');
    const split = splitBuild(KS('flux-system'), 'build', ctxOf(apps));
    assert.match(errorTexts(split)[0] ?? '', /declaration cycle: kustomization\/flux-system\/flux-system → kustomization\/flux-system\/apps → kustomization\/flux-system\/flux-system/);
  });

  it('refuses an object declared twice in one build, and adopts the first', () => {
    const split = splitBuild(docs(KS('apps'), KS('apps', '  suspend: true\n')), 'build', ctxOf(bootstrapRoot('staging')));
    assert.deepEqual(ids(split), ['kustomization/flux-system@staging/apps']);
    assert.equal(adopted(split, 'Kustomization', 'apps').spec.suspend, false);
    assert.deepEqual(errorTexts(split), ['build: Kustomization/flux-system@staging/apps: declared twice in the build (each object may be declared once)']);
    assert.equal(split.errors[0]?.document, 2);
  });

  it('tells apart same-named objects of different kinds or namespaces', () => {
    const split = splitBuild(docs(KS('apps'), KS('apps', '', 'apps'), GIT('apps')), 'build', ctxOf(bootstrapRoot('staging')));
    assert.deepEqual(split.errors, []);
    assert.equal(split.declarations.length, 3);
  });
});

describe('objectsYaml', () => {
  it('writes the objects for the agents, one document each, as they came', () => {
    const split = splitBuild(docs(DEPLOYMENT, KS('apps'), CONFIG_MAP), 'build', ctxOf(bootstrapRoot('staging')));
    const back = parseAllDocuments(objectsYaml(split.objects)).map((d) => d.toJS() as { kind: string; metadata: { namespace?: string } });
    assert.deepEqual(back.map((o) => o.kind), ['Deployment', 'ConfigMap']);
    assert.equal(back[1]?.metadata.namespace, 'flux-system');
    assert.equal(objectsYaml([]), '');
  });
});
