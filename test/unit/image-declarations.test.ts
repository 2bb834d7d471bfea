// Flux's ImageRepository, ImagePolicy and ImageUpdateAutomation (image.toolkit.fluxcd.io/v1; the
// older versions are in flux-versions.test.ts) YAML → typed declarations: Flux's defaults, and
// errors naming the object and the field.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDeclarations } from '../../core/declarations/parse.js';
import { declarationId, type ImagePolicyDeclaration, type ImageRepositoryDeclaration, type ImageUpdateAutomationDeclaration } from '../../core/declarations/types.js';
import { one, onlyError } from '../harness/declarations.js';

const object = (kind: string, spec: string): string =>
  `apiVersion: image.toolkit.fluxcd.io/v1\nkind: ${kind}\nmetadata: {name: app, namespace: flux-system}\nspec: ${spec}\n`;

function repository(spec: string): ImageRepositoryDeclaration {
  const d = one(object('ImageRepository', spec), { noWarnings: true });
  assert.equal(d.kind, 'ImageRepository');
  return d;
}

function policy(spec: string): ImagePolicyDeclaration {
  const d = one(object('ImagePolicy', spec), { noWarnings: true });
  assert.equal(d.kind, 'ImagePolicy');
  return d;
}

function automation(spec: string): ImageUpdateAutomationDeclaration {
  const d = one(object('ImageUpdateAutomation', spec), { noWarnings: true });
  assert.equal(d.kind, 'ImageUpdateAutomation');
  return d;
}

function errorOf(kind: string, spec: string): { field: string | undefined; message: string } {
  const e = onlyError(parseDeclarations(object(kind, spec), 'x.yaml'));
  assert.equal(e.object, `${kind}/flux-system/app`);
  return { field: e.field, message: e.message };
}

const AUTOMATION = '{sourceRef: {kind: GitRepository, name: fleet}, interval: 5m, git: {commit: {author: {email: bot@example.com}}}}';

describe('ImageRepository', () => {
  it("has Flux's defaults: timeout = interval, cosign signatures excluded, secure", () => {
    const d = repository('{image: ghcr.io/org/app, interval: 5m}');
    assert.equal(declarationId(d), 'imagerepository/flux-system/app');
    assert.deepEqual(d.spec, { image: 'ghcr.io/org/app', intervalSeconds: 300, timeoutSeconds: 300, exclusionList: ['^.*\\.sig$'], insecure: false, suspend: false });
  });

  it('reads secretRef, insecure, timeout and an exclusion list', () => {
    const d = repository('{image: "127.0.0.1:5000/app", interval: 1m, timeout: 20s, insecure: true, secretRef: {name: regcred}, exclusionList: ["^main-", "(?i)rc"]}');
    assert.deepEqual(d.spec, {
      image: '127.0.0.1:5000/app', intervalSeconds: 60, timeoutSeconds: 20, secretRef: 'regcred', exclusionList: ['^main-', '(?i)rc'], insecure: true, suspend: false,
    });
  });

  it('refuses an image with a tag, a digest or a scheme, saying why', () => {
    assert.match(errorOf('ImageRepository', '{image: ghcr.io/org/app:1.0, interval: 1m}').message, /must not contain a tag/);
    assert.match(errorOf('ImageRepository', '{image: "ghcr.io/org/app@sha256:abc", interval: 1m}').message, /digest/);
    const scheme = errorOf('ImageRepository', '{image: "https://ghcr.io/org/app", interval: 1m}');
    assert.equal(scheme.field, 'spec.image');
    assert.match(scheme.message, /without a scheme/);
  });

  it('refuses a bad exclusion regexp and a missing interval', () => {
    const e = errorOf('ImageRepository', '{image: ghcr.io/org/app, interval: 1m, exclusionList: ["(unclosed"]}');
    assert.equal(e.field, 'spec.exclusionList[0]');
    assert.equal(errorOf('ImageRepository', '{image: ghcr.io/org/app}').field, 'spec.interval');
  });

  it('warns about fields it does not act on', () => {
    const r = parseDeclarations(object('ImageRepository', '{image: ghcr.io/org/app, interval: 1m, provider: aws}'), 'x.yaml');
    assert.deepEqual(r.errors, []);
    assert.equal(r.warnings.length, 1);
    assert.equal(r.warnings[0]?.field, 'spec.provider');
  });
});

describe('ImagePolicy', () => {
  it('reads a semver policy; the repository namespace defaults to its own', () => {
    const d = policy('{imageRepositoryRef: {name: app}, policy: {semver: {range: ">=1.0.0"}}}');
    assert.deepEqual(d.spec, { imageRepositoryRef: { name: 'app', namespace: 'flux-system' }, policy: { semver: { range: '>=1.0.0' } }, suspend: false });
  });

  it('reads alphabetical and numerical policies (order asc by default) with filterTags', () => {
    const d = policy('{imageRepositoryRef: {name: app, namespace: images}, filterTags: {pattern: "^main-[a-f0-9]+-(?P<ts>[0-9]+)", extract: "$ts"}, policy: {numerical: {}}}');
    assert.deepEqual(d.spec.policy, { numerical: { order: 'asc' } });
    assert.deepEqual(d.spec.filterTags, { pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts' });
    assert.deepEqual(policy('{imageRepositoryRef: {name: app}, policy: {alphabetical: {order: desc}}}').spec.policy, { alphabetical: { order: 'desc' } });
  });

  it('refuses a bad semver range, two rules, none, and a bad pattern, naming the field', () => {
    const range = errorOf('ImagePolicy', '{imageRepositoryRef: {name: app}, policy: {semver: {range: "not a range"}}}');
    assert.equal(range.field, 'spec.policy.semver.range');
    assert.match(errorOf('ImagePolicy', '{imageRepositoryRef: {name: app}, policy: {semver: {range: "1.x"}, numerical: {}}}').message, /only one of/);
    assert.match(errorOf('ImagePolicy', '{imageRepositoryRef: {name: app}, policy: {}}').message, /set one of semver/);
    assert.equal(errorOf('ImagePolicy', '{imageRepositoryRef: {name: app}, filterTags: {pattern: "(x"}, policy: {numerical: {}}}').field, 'spec.filterTags.pattern');
  });
});

describe('ImageUpdateAutomation', () => {
  it("has Flux's defaults: the GitRepository's branch, path '.', Setters, Flux's message", () => {
    const d = automation(AUTOMATION);
    assert.deepEqual(d.spec, {
      sourceRef: { kind: 'GitRepository', name: 'fleet', namespace: 'flux-system' }, author: { name: 'Flotilla', email: 'bot@example.com' },
      messageTemplateValues: {}, intervalSeconds: 300, updatePath: '.', strategy: 'Setters', suspend: false,
    });
  });

  it('reads checkout and push branches, the message template and values, the path and the policy selector', () => {
    const d = automation(`{sourceRef: {kind: GitRepository, name: fleet, namespace: git}, interval: 1m, update: {path: ./clusters/prod, strategy: Setters},
      policySelector: {matchLabels: {team: a}},
      git: {checkout: {ref: {branch: main}}, push: {branch: image-updates},
            commit: {author: {name: bot, email: bot@example.com}, messageTemplate: "update {{ .AutomationObject }}", messageTemplateValues: {env: prod}}}}`);
    assert.equal(d.spec.checkoutBranch, 'main');
    assert.equal(d.spec.pushBranch, 'image-updates');
    assert.equal(d.spec.updatePath, 'clusters/prod');
    assert.equal(d.spec.messageTemplate, 'update {{ .AutomationObject }}');
    assert.deepEqual(d.spec.messageTemplateValues, { env: 'prod' });
    assert.deepEqual(d.spec.policySelector, { matchLabels: { team: 'a' }, matchExpressions: [] });
    assert.deepEqual(d.spec.author, { name: 'bot', email: 'bot@example.com' });
  });

  it('refuses a missing author, a path out of the repository, another source kind and a tag checkout', () => {
    assert.equal(errorOf('ImageUpdateAutomation', '{sourceRef: {name: fleet}, interval: 1m}').field, 'spec.git');
    assert.equal(errorOf('ImageUpdateAutomation', '{sourceRef: {name: fleet}, interval: 1m, git: {commit: {author: {name: x}}}}').field, 'spec.git.commit.author.email');
    assert.match(errorOf('ImageUpdateAutomation', `${AUTOMATION.slice(0, -1)}, update: {path: ../other}}`).message, /leaves the source root/);
    assert.match(errorOf('ImageUpdateAutomation', '{sourceRef: {kind: OCIRepository, name: fleet}, interval: 1m, git: {commit: {author: {email: a@b.c}}}}').message, /commits to a GitRepository/);
    assert.match(errorOf('ImageUpdateAutomation', '{sourceRef: {name: fleet}, interval: 1m, git: {checkout: {ref: {tag: v1}}, commit: {author: {email: a@b.c}}}}').message, /only a branch/);
  });

  it('refuses a message template that does not parse', () => {
    const e = errorOf('ImageUpdateAutomation', '{sourceRef: {name: fleet}, interval: 1m, git: {commit: {author: {email: a@b.c}, messageTemplate: "{{ range .Changed.Changes }}"}}}');
    assert.equal(e.field, 'spec.git.commit.messageTemplate');
  });

  it('warns that signing keys are not used', () => {
    const r = parseDeclarations(object('ImageUpdateAutomation', '{sourceRef: {name: fleet}, interval: 1m, git: {commit: {author: {email: a@b.c}, signingKey: {secretRef: {name: gpg}}}}}'), 'x.yaml');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings.map((w) => w.field), ['spec.git.commit.signingKey']);
  });
});
