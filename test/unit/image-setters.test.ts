// Image setters: only the marked scalars change, every other byte is kept.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applySetters } from '../../core/image/setters.js';

const images = new Map([
  ['flux-system:app', 'ghcr.io/org/app:1.2.0'],
  ['flux-system:podinfo', 'ghcr.io/stefanprodan/podinfo:6.5.0'],
]);

const deployment = `# app deployment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app   # the name
spec:
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "flux-system:app"}
          args: ["--port", '8080']  # keep
        - name: sidecar
          image: "busybox:1.36"
`;

describe('applySetters', () => {
  it('updates a marked image and nothing else', () => {
    const { text, changed } = applySetters(deployment, images);
    assert.equal(text, deployment.replace('ghcr.io/org/app:1.0.0 #', 'ghcr.io/org/app:1.2.0 #'));
    assert.deepEqual(changed, [{
      line: 11, policy: 'flux-system:app', from: 'ghcr.io/org/app:1.0.0', to: 'ghcr.io/org/app:1.2.0',
      object: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'app', namespace: '' },
    }]);
  });

  it('sets tag and name parts of a HelmRelease, keeping quotes and spacing of the marker', () => {
    const release = [
      'apiVersion: helm.toolkit.fluxcd.io/v2',
      'kind: HelmRelease',
      'spec:',
      '  values:',
      '    image:',
      '      repository: "ghcr.io/stefanprodan/old"   #   {"$imagepolicy":"flux-system:podinfo:name"}',
      "      tag: '6.4.0' # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}",
      '      pullPolicy: IfNotPresent',
      '',
    ].join('\n');
    const { text, changed } = applySetters(release, images);
    assert.equal(
      text,
      release.replace('"ghcr.io/stefanprodan/old"', '"ghcr.io/stefanprodan/podinfo"').replace("'6.4.0'", "'6.5.0'"),
    );
    assert.deepEqual(changed.map((c) => [c.line, c.policy, c.to]), [
      [6, 'flux-system:podinfo:name', 'ghcr.io/stefanprodan/podinfo'],
      [7, 'flux-system:podinfo:tag', '6.5.0'],
    ]);
  });

  it('quotes a plain tag that would otherwise read as a number', () => {
    const src = 'tag: v1 # {"$imagepolicy": "flux-system:app:tag"}\n';
    const { text } = applySetters(src, new Map([['flux-system:app', 'ghcr.io/org/app:1.10']]));
    assert.equal(text, 'tag: "1.10" # {"$imagepolicy": "flux-system:app:tag"}\n');
  });

  it('returns a file without markers, or already current, unchanged', () => {
    const plain = 'a: 1\n# {"$imagepolicy": "flux-system:app"}\nb: [x, y]\n';
    assert.deepEqual(applySetters(plain, images), { text: plain, changed: [] });
    const current = deployment.replace('app:1.0.0', 'app:1.2.0');
    assert.deepEqual(applySetters(current, images), { text: current, changed: [] });
  });

  it('leaves markers of unknown policies and malformed markers alone', () => {
    const src = 'a: x:1 # {"$imagepolicy": "other:thing"}\nb: y:1 # {$imagepolicy: flux-system:app}\nc: z:1 # {"$imagepolicy": "flux-system:app:digest"}\n';
    assert.deepEqual(applySetters(src, images), { text: src, changed: [] });
  });

  it('handles multiple documents and CRLF line endings', () => {
    const src = [
      '---',
      'kind: A',
      'image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "flux-system:app"}',
      '---',
      '# second',
      'kind: B',
      'images:',
      '  - ghcr.io/stefanprodan/podinfo:6.0.0 # {"$imagepolicy": "flux-system:podinfo"}',
      '  - keep:me',
      '',
    ].join('\r\n');
    const { text, changed } = applySetters(src, images);
    assert.equal(text, src.replace('app:1.0.0', 'app:1.2.0').replace('podinfo:6.0.0', 'podinfo:6.5.0'));
    assert.deepEqual(changed.map((c) => c.line), [3, 8]);
    assert.deepEqual(changed.map((c) => c.object.kind), ['A', 'B']);
  });
});
