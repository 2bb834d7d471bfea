// `flotilla build <path>` and `flotilla check --pre <dir>`, run as the real CLI
// (node dist/cli/main.js) against small Flux-layout repositories written to temp dirs and
// built with the real kustomize: what the hub adopts, applies and skips per Kustomization,
// scoped or not; children built with their own spec and variables; the errors (build
// failures, refused kinds, cycles) with exit code 1; and neither command needing Temporal or
// a hub (both point at closed ports here).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { bin, repoRoot } from '../../deploy/dev/binaries.js';
import type { RepositoryReport } from '../../cli/build.js';

const cliMain = join(repoRoot, 'dist', 'cli', 'main.js');
const git = promisify(execFile);

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const temps: string[] = [];
let scratch = ''; // TMPDIR of the CLI: its build copies must be gone when it exits

before(async () => {
  scratch = await tempDir();
});
after(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-fluxcli-'));
  temps.push(dir);
  return dir;
}

/** Runs the CLI; Temporal and the hub are given as closed ports, so contacting either would fail. */
function flotilla(args: readonly string[], cwd: string = repoRoot): Promise<Run> {
  const env = {
    PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', TMPDIR: scratch, NO_COLOR: '1',
    FLOTILLA_TEMPORAL: '127.0.0.1:1', FLOTILLA_HUB: 'http://127.0.0.1:1',
    // The CLI takes kustomize from FLOTILLA_KUSTOMIZE, else PATH: here, the dev one.
    FLOTILLA_KUSTOMIZE: bin('kustomize'),
  };
  return new Promise((resolve) => {
    execFile(process.execPath, [cliMain, ...args], { cwd, env, timeout: 120_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A git checkout holding these files (path → content). */
async function repository(files: Readonly<Record<string, string>>): Promise<string> {
  const root = await tempDir();
  await git('git', ['init', '-q', root]);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

const ks = (name: string, path: string, extra = ''): string => `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: ${name}
  namespace: flux-system
spec:
  interval: 10m
  path: ${path}
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
${extra}`;

/** Flux's layout: clusters/staging with flux-system (gotk-components + gotk-sync), infrastructure and apps. */
const FLEET: Readonly<Record<string, string>> = {
  'clusters/staging/flux-system/gotk-components.yaml': `---
apiVersion: v1
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
spec:
  group: source.toolkit.fluxcd.io
  names: {kind: GitRepository, plural: gitrepositories}
  scope: Namespaced
  versions: []
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: source-controller
  namespace: flux-system
  labels: {app.kubernetes.io/part-of: flux, app.kubernetes.io/version: v2.7.0}
spec:
  selector: {matchLabels: {app: source-controller}}
  template:
    metadata: {labels: {app: source-controller}}
    spec: {containers: [{name: manager, image: "ghcr.io/fluxcd/source-controller:v1.7.0"}]}
`,
  'clusters/staging/flux-system/gotk-sync.yaml': `---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref: {branch: main}
  secretRef: {name: flux-system}
  url: ssh://git@github.com/example/fleet
---
${ks('flux-system', './clusters/staging')}`,
  'clusters/staging/flux-system/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [gotk-components.yaml, gotk-sync.yaml]
`,
  'clusters/staging/infrastructure.yaml': ks('infra', './infrastructure'),
  'clusters/staging/apps.yaml': `apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-vars, namespace: flux-system}
data: {cluster_env: staging, replicas: "3"}
---
${ks('apps', './apps/staging', `  dependsOn: [{name: infra}]
  targetNamespace: web
  decryption: {provider: sops}
  postBuild:
    substitute: {team: blue}
    substituteFrom: [{kind: ConfigMap, name: cluster-vars}]
`)}`,
  // Ignored by the GitRepository (.sourceignore): would break the generated kustomization.
  'clusters/staging/.sourceignore': 'drafts/\n',
  'clusters/staging/drafts/notes.yaml': 'just: notes, not an object\n',
  'infrastructure/ingress.yaml': `apiVersion: v1
kind: Namespace
metadata: {name: ingress}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress, namespace: ingress}
spec:
  selector: {matchLabels: {app: ingress}}
  template:
    metadata: {labels: {app: ingress}}
    spec: {containers: [{name: ingress, image: "nginx:1.27"}]}
`,
  'apps/base/podinfo.yaml': `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo}
spec: {interval: 1h, url: "https://stefanprodan.github.io/podinfo"}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo-\${cluster_env}
spec:
  interval: 10m
  chart: {spec: {chart: podinfo, version: "6.x", sourceRef: {kind: HelmRepository, name: podinfo}}}
  values:
    replicaCount: \${replicas}
    team: \${team}
---
apiVersion: v1
kind: Service
metadata: {name: podinfo}
spec: {ports: [{port: 9898}]}
`,
  'apps/base/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [podinfo.yaml]\n',
  'apps/staging/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../base]
patches:
  - target: {kind: Service, name: podinfo}
    patch: |
      - op: add
        path: /metadata/labels
        value: {env: staging}
`,
};

describe('flotilla build', () => {
  let fleet = '';
  before(async () => {
    fleet = await repository(FLEET);
  });

  it('shows what the hub adopts, applies and skips per Kustomization, scoped to the cluster', async () => {
    const r = await flotilla(['build', join(fleet, 'clusters/staging'), '--cluster', 'staging']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const lines = r.stdout.trimEnd().split('\n');
    const section = (header: string): string[] => {
      const start = lines.indexOf(header);
      assert.ok(start >= 0, `no "${header}" in:\n${r.stdout}`);
      const end = lines.findIndex((l, i) => i > start && !l.startsWith('  '));
      return lines.slice(start + 1, end < 0 ? undefined : end);
    };
    assert.deepEqual(section('Kustomization flux-system@staging/flux-system  path clusters/staging'), [
      '  adopt   ConfigMap/flux-system@staging/cluster-vars',
      '  adopt   Kustomization/flux-system@staging/infra',
      '  adopt   Kustomization/flux-system@staging/apps',
      '  apply   ConfigMap/flux-system/cluster-vars',
      '  apply   Namespace/flux-system',
      '  skip    GitRepository/flux-system@staging/flux-system  (declared by flotilla bootstrap: its url and ref stay as bootstrap set them)',
      '  skip    Kustomization/flux-system@staging/flux-system  (the Kustomization itself)',
      "  skip    CustomResourceDefinition/gitrepositories.source.toolkit.fluxcd.io  (part of Flux's controllers (gotk-components.yaml))",
      "  skip    Deployment/flux-system/source-controller  (part of Flux's controllers (gotk-components.yaml))",
      "  notice  Flux's own controllers and CRDs (gotk-components.yaml, flux v2.7.0: 2 objects) are not installed: the hub does their job",
      '  warn    Kustomization/flux-system@staging/apps: spec.decryption: accepted but not acted on by Flotilla yet: SOPS-encrypted files are applied as they are',
    ]);
    // Built with its own spec: targetNamespace, the overlay's patch, variables from the adopted ConfigMap and substitute.
    assert.deepEqual(section('Kustomization flux-system@staging/apps  path apps/staging'), [
      '  adopt   HelmRepository/web@staging/podinfo',
      '  adopt   HelmRelease/web@staging/podinfo-staging',
      '  apply   Service/web/podinfo',
    ]);
    assert.deepEqual(section('Kustomization flux-system@staging/infra  path infrastructure'), [
      '  apply   Namespace/ingress',
      '  apply   Deployment/ingress/ingress',
    ]);
    assert.equal(lines.at(-1), '3 Kustomizations built, 5 adopted, 5 applied, 4 skipped, 1 warning, 0 errors');
  });

  it('prints a structured report with -o json, and works from inside the checkout with a relative path', async () => {
    const r = await flotilla(['build', 'staging', '--cluster', 'staging', '-o', 'json'], join(fleet, 'clusters'));
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as RepositoryReport;
    assert.equal(report.repoRoot, fleet, 'the nearest directory with .git');
    assert.equal(report.path, 'clusters/staging');
    assert.equal(report.cluster, 'staging');
    assert.match(report.kustomize.version, /^v5\./);
    assert.deepEqual(report.kustomizations.map((k) => [k.id, k.path, k.ownedBy]), [
      ['kustomization/flux-system@staging/flux-system', 'clusters/staging', []],
      ['kustomization/flux-system@staging/infra', 'infrastructure', ['kustomization/flux-system@staging/flux-system']],
      ['kustomization/flux-system@staging/apps', 'apps/staging', ['kustomization/flux-system@staging/flux-system']],
    ]);
    const apps = report.kustomizations[2];
    assert.deepEqual(apps?.adopted, ['HelmRepository/web@staging/podinfo', 'HelmRelease/web@staging/podinfo-staging']);
    assert.deepEqual(report.kustomizations[0]?.warnings, [{
      object: 'Kustomization/flux-system@staging/apps', field: 'spec.decryption',
      message: 'accepted but not acted on by Flotilla yet: SOPS-encrypted files are applied as they are',
    }]);
    assert.deepEqual(report.summary, { kustomizations: 3, notBuilt: 0, adopted: 5, applied: 5, skipped: 4, warnings: 1, errors: 0 });
  });

  it('without --cluster: unscoped names and every cluster, and --repo-root with a path relative to the current directory', async () => {
    const r = await flotilla(['build', 'clusters/staging', '--repo-root', '.', '-o', 'yaml'], fleet);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}- id: kustomization\/flux-system\/flux-system$/m);
    assert.match(r.stdout, /^ {6}- HelmRelease\/web\/podinfo-staging$/m);
    assert.doesNotMatch(r.stdout, /@/);
    assert.doesNotMatch(r.stdout, /^cluster:/m);
  });

  it('takes <path> relative to --repo-root, not to the current directory', async () => {
    // From elsewhere (the CLI's repository checkout), the root given absolute and relative.
    for (const root of [fleet, relative(repoRoot, fleet)]) {
      const r = await flotilla(['build', 'clusters/staging', '--repo-root', root, '--cluster', 'staging', '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as RepositoryReport;
      assert.equal(report.repoRoot, fleet);
      assert.equal(report.path, 'clusters/staging');
      assert.equal(report.summary.errors, 0);
    }
    // An absolute <path> inside the root is taken as it is.
    const absolute = await flotilla(['build', join(fleet, 'clusters', 'staging'), '--repo-root', fleet, '--cluster', 'staging', '-o', 'json']);
    assert.equal(absolute.code, 0, absolute.stderr);
    assert.equal((JSON.parse(absolute.stdout) as RepositoryReport).path, 'clusters/staging');
    // A path that exists only under the current directory is not looked for there.
    const missing = await flotilla(['build', 'clusters/staging', '--repo-root', join(fleet, 'apps')], fleet);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /clusters\/staging is not a directory of the repository .*\/apps/);
  });

  it('leaves no copy of the repository behind', async () => {
    assert.deepEqual(await readdir(scratch), []);
  });

  it('refuses a path outside the repository, or no path (usage errors, exit 2)', async () => {
    const outside = await flotilla(['build', tmpdir(), '--repo-root', fleet]);
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /is not inside the repository/);
    const none = await flotilla(['build']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /build needs a <path>/);
  });

  it('has help with examples', async () => {
    const r = await flotilla(['build', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: flotilla build <path> \[--cluster <name>\]/);
    assert.match(r.stdout, /examples:\n {2}flotilla build clusters\/staging --cluster staging/);
    const overview = await flotilla(['--help']);
    assert.match(overview.stdout, /^ {2}build {12}what the hub will adopt, apply and skip/m);
  });
});

describe('flotilla bootstrap for a Flux repository: usage', () => {
  it('a cluster selector needs a scope name; an empty selector and a bad --scope are refused (exit 2, nothing contacted)', async () => {
    const base = ['bootstrap', '--url', 'https://git.example.com/fleet.git', '--path', 'clusters/prod'];
    const noName = await flotilla([...base, '--cluster-selector', 'env=prod']);
    assert.equal(noName.code, 2, noName.stderr);
    assert.match(noName.stderr, /--cluster-selector needs --name <scope>/);
    const empty = await flotilla([...base, '--cluster-selector', '', '--name', 'prod']);
    assert.equal(empty.code, 2, empty.stderr);
    assert.match(empty.stderr, /--cluster-selector needs labels/);
    const scope = await flotilla(['apply', '-f', '/dev/null', '--scope', 'Bad_Scope']);
    assert.equal(scope.code, 2, scope.stderr);
    assert.match(scope.stderr, /--scope must be a DNS label/);
    const help = await flotilla(['bootstrap', '--help']);
    assert.match(help.stdout, /--cluster <name>/);
    assert.match(help.stdout, /flux-system@<name>/);
  });
});

describe('flotilla build reports problems per Kustomization', () => {
  let broken = '';
  before(async () => {
    broken = await repository({
      'clusters/dev/sync.yaml': [
        ks('flux-system', './clusters/dev'),
        ks('fails', './fails', '  postBuild:\n    substituteFrom: [{kind: Secret, name: not-there}, {kind: ConfigMap, name: maybe, optional: true}]\n'),
        ks('loop', './loop'),
        ks('ok', './ok'),
        ks('again', './again'),
        `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: elsewhere, namespace: flux-system}
spec: {interval: 10m, path: ./x, prune: true, sourceRef: {kind: GitRepository, name: other}}
`,
        'apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata: {name: gen, namespace: flux-system}\nspec: {}\n',
        'apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {name: chart, namespace: flux-system}\nspec: {chart: podinfo}\n',
      ].join('---\n'),
      'fails/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [missing.yaml]\n',
      // The root declared again from below it: a cycle.
      'loop/ks.yaml': ks('flux-system', './clusters/dev'),
      'ok/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine, namespace: default}\ndata: {a: b}\n',
      // A Kustomization the root declares too: built once, with a warning.
      'again/ks.yaml': ks('ok', './ok'),
    });
  });

  it('reports each error under its Kustomization, builds the others, and exits 1', async () => {
    const r = await flotilla(['build', join(broken, 'clusters/dev'), '--cluster', 'dev']);
    assert.equal(r.code, 1, r.stdout);
    const out = r.stdout;
    assert.match(out, /^ {2}error {3}ArtifactGenerator\/flux-system@dev\/gen: kind: ArtifactGenerator is not supported: Flotilla builds each Kustomization straight from its GitRepository\./m);
    assert.match(out, /^ {2}skip {4}HelmChart\/flux-system\/chart {2}\(Flotilla does not reconcile this kind yet\)$/m);
    assert.match(out, /^Kustomization flux-system@dev\/elsewhere {2}not built here \(source GitRepository\/flux-system@dev\/other\)$/m);
    assert.match(out, /^ {2}warn {4}Kustomization\/flux-system@dev\/elsewhere: spec\.sourceRef: GitRepository\/flux-system@dev\/other is not declared under clusters\/dev/m);
    // A failing build, named in the repository (not the temp copy); the hub would also stall on the missing Secret.
    assert.match(out, new RegExp(`^ {2}error {3}kustomize build failed for path "fails": .*${broken.replace(/[/.]/g, '\\$&')}/fails/missing\\.yaml`, 'm'));
    assert.doesNotMatch(out, /flotilla-build-/);
    assert.match(out, /^ {2}warn {4}Kustomization\/flux-system@dev\/fails: spec\.postBuild\.substituteFrom\[0\]: .*the hub stalls the Kustomization with "postBuild\.substituteFrom: Secret 'flux-system@dev\/not-there' not found \(apply it to the hub, or mark it optional: true\)"$/m);
    assert.doesNotMatch(out, /maybe/, 'an optional one may be missing');
    // The cycle, with the chain.
    assert.match(out, /^ {2}error {3}Kustomization\/flux-system@dev\/flux-system: declaration cycle: kustomization\/flux-system@dev\/flux-system → kustomization\/flux-system@dev\/loop → kustomization\/flux-system@dev\/flux-system; /m);
    // Declared twice across builds: built once, reported.
    assert.equal(out.match(/^Kustomization flux-system@dev\/ok {2}path ok$/gm)?.length, 1);
    assert.match(out, /^ {2}warn {4}Kustomization\/flux-system@dev\/ok: also declared by kustomization\/flux-system@dev\/flux-system/m);
    assert.match(out, /^ {2}apply {3}ConfigMap\/default\/fine$/m);
    assert.match(out.trimEnd().split('\n').at(-1) ?? '', /^5 Kustomizations built, 1 not built here, .* 3 errors$/);
    assert.match(r.stderr, /^flotilla: 3 errors in Kustomization flux-system@dev\/flux-system, Kustomization flux-system@dev\/fails, Kustomization flux-system@dev\/loop$/m);
  });

  it('reports a repository symlink leaving the checkout as the hub would refuse it', async () => {
    const escaping = await repository({ 'clusters/x/ks.yaml': ks('apps', './apps') });
    await mkdir(join(escaping, 'apps'));
    await symlink('/etc', join(escaping, 'apps', 'etc'));
    const r = await flotilla(['build', join(escaping, 'clusters/x')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot pack .* as the GitRepository would: .*apps\/etc/);
  });
});

describe('flotilla check --pre', () => {
  let fleet = '';
  before(async () => {
    fleet = await repository(FLEET);
  });

  it('checks kustomize and every build, offline, lists notices and warnings, exit 0', async () => {
    const r = await flotilla(['check', '--pre', join(fleet, 'clusters/staging'), '--cluster', 'staging']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^✔ kustomize: v5\.\d+\.\d+ \(.*kustomize\)$/);
    assert.deepEqual(lines.slice(1), [
      `✔ repository: ${fleet}, path clusters/staging for cluster staging`,
      '✔ Kustomization flux-system@staging/flux-system: path clusters/staging builds: 3 adopted, 2 applied, 4 skipped',
      "    notice: Flux's own controllers and CRDs (gotk-components.yaml, flux v2.7.0: 2 objects) are not installed: the hub does their job",
      '    warning: Kustomization/flux-system@staging/apps: spec.decryption: accepted but not acted on by Flotilla yet: SOPS-encrypted files are applied as they are',
      '✔ Kustomization flux-system@staging/infra: path infrastructure builds: 0 adopted, 2 applied, 0 skipped',
      '✔ Kustomization flux-system@staging/apps: path apps/staging builds: 2 adopted, 1 applied, 0 skipped',
      '✔ errors: none (3 Kustomizations built, 1 warning)',
    ]);
  });

  it('fails on an invalid Flux object, naming it and the field (exit 1), with -o json', async () => {
    const bad = await repository({ 'clusters/dev/apps.yaml': ks('apps', './apps').replace('interval: 10m', 'interval: 5x') });
    const r = await flotilla(['check', '--pre', join(bad, 'clusters/dev'), '-o', 'json']);
    assert.equal(r.code, 1);
    const results = JSON.parse(r.stdout) as { name: string; ok: boolean; errors?: string[] }[];
    const root = results.find((c) => c.name === 'Kustomization flux-system/flux-system');
    assert.equal(root?.ok, false);
    assert.deepEqual(root.errors, ['Kustomization/flux-system/apps: spec.interval: invalid duration "5x" (use Go duration syntax such as 30s, 5m, 1h30m)']);
    assert.equal(results.at(-1)?.ok, false);
    assert.match(r.stderr, /2 checks failed: Kustomization flux-system\/flux-system, errors/);
  });

  it('fails when kustomize cannot run', async () => {
    const r = await flotilla(['check', '--pre', join(fleet, 'clusters/staging'), '--kustomize', '/nonexistent/kustomize']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^✗ kustomize: cannot run kustomize at \/nonexistent\/kustomize/);
  });

  it('plain check still needs the hub (it is not made offline)', async () => {
    const r = await flotilla(['check']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^✗ hub: cannot reach http:\/\/127\.0\.0\.1:1/m);
    assert.match(r.stdout, /^✗ temporal: cannot reach Temporal at 127\.0\.0\.1:1/m);
    assert.match(r.stderr, /2 checks failed: hub, temporal/);
  });

  it('has help with examples', async () => {
    const r = await flotilla(['help', 'check']);
    assert.match(r.stdout, /flotilla check --pre <dir> \[--cluster <name>\]/);
    assert.match(r.stdout, /flotilla check --pre clusters\/staging --cluster staging/);
  });
});

describe('flotilla apply --dry-run without a hub', () => {
  const sources = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: flux-system}
spec: {url: https://git.example.com/fleet.git, interval: 1m, ref: {branch: main}}
---
${ks('apps', './apps').replace('name: flux-system\n', 'name: fleet\n')}`;

  it('validates the files and reports each object valid, saying the hub was not compared (exit 0)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'fleet.yaml'), sources);
    const r = await flotilla(['apply', '--dry-run', '-f', join(dir, 'fleet.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'GitRepository/flux-system/fleet valid (dry run)\nKustomization/flux-system/apps valid (dry run)\n');
    assert.match(r.stderr, /cannot reach Temporal at 127\.0\.0\.1:1: .*; the files were validated locally but not compared with what the hub holds/);
  });

  it('refuses an invalid object naming the file, object and field (exit 1), still without a hub', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'fleet.yaml'), sources.replace('interval: 10m', 'interval: ten minutes'));
    const r = await flotilla(['apply', '--dry-run', '-f', dir]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /nothing applied; fix these first:\n {2}\S*fleet\.yaml: Kustomization\/flux-system\/apps: spec\.interval: /);
  });

  it('a real apply (no --dry-run) still needs the hub', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'fleet.yaml'), sources);
    const r = await flotilla(['apply', '-f', join(dir, 'fleet.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach Temporal at 127\.0\.0\.1:1/);
  });
});
