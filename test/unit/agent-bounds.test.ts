// The agent's own bounds (agents/bounds.ts): which values --max-artifact-bytes and --max-objects
// accept, and what a refused artifact's report says. The end-to-end refusal by a real agent
// against a real hub is in test/integration/hub-agents.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_AGENT_BOUNDS, MAX_ARTIFACT_BYTES_CEILING, agentBoundsProblem, artifactParseLimits, artifactTooLarge } from '../../agents/bounds.js';
import { MAX_MANIFEST_BYTES, MAX_MANIFEST_OBJECTS, parseManifests } from '../../core/manifests.js';

describe('agent bounds', () => {
  it('default to what the hub\'s parse accepts', () => {
    assert.deepEqual(DEFAULT_AGENT_BOUNDS, { maxArtifactBytes: MAX_MANIFEST_BYTES, maxObjects: MAX_MANIFEST_OBJECTS });
    assert.equal(agentBoundsProblem(DEFAULT_AGENT_BOUNDS), undefined);
  });

  const cases: { name: string; bounds: { maxArtifactBytes: number; maxObjects: number }; problem?: RegExp }[] = [
    { name: 'smallest', bounds: { maxArtifactBytes: 1, maxObjects: 1 } },
    { name: 'largest artifact', bounds: { maxArtifactBytes: MAX_ARTIFACT_BYTES_CEILING, maxObjects: 10 } },
    { name: 'zero bytes', bounds: { maxArtifactBytes: 0, maxObjects: 10 }, problem: /^--max-artifact-bytes must be a positive integer number of bytes, got 0$/ },
    { name: 'fractional bytes', bounds: { maxArtifactBytes: 1.5, maxObjects: 10 }, problem: /^--max-artifact-bytes must be a positive integer/ },
    { name: 'NaN bytes', bounds: { maxArtifactBytes: Number.NaN, maxObjects: 10 }, problem: /^--max-artifact-bytes must be a positive integer/ },
    { name: 'over the string ceiling', bounds: { maxArtifactBytes: MAX_ARTIFACT_BYTES_CEILING + 1, maxObjects: 10 }, problem: /^--max-artifact-bytes must be at most \d+ \(the longest string Node\.js holds/ },
    { name: 'zero objects', bounds: { maxArtifactBytes: 10, maxObjects: 0 }, problem: /^--max-objects must be a positive integer, got 0$/ },
    { name: 'negative objects', bounds: { maxArtifactBytes: 10, maxObjects: -1 }, problem: /^--max-objects must be a positive integer, got -1$/ },
  ];
  for (const c of cases) {
    it(`validation: ${c.name}`, () => {
      const problem = agentBoundsProblem(c.bounds);
      if (c.problem === undefined) assert.equal(problem, undefined);
      else assert.match(problem ?? '', c.problem);
    });
  }

  it('a refused download names the cap, the flag, the chart value and what to do', () => {
    assert.equal(artifactTooLarge('sha256:ab', 512 * 1024, { maxArtifactBytes: 300 * 1024, maxObjects: 5 }, 'downloading'),
      'artifact sha256:ab is larger than the agent\'s cap of 300 KiB (--max-artifact-bytes, chart value limits.maxArtifactBytes): '
      + 'refused after 512 KiB while downloading; nothing of it was applied and what runs is unchanged; make the deployment smaller '
      + '(split it into several Kustomizations or HelmReleases), or raise --max-artifact-bytes of this cluster\'s agent');
  });

  it('the parse under the agent\'s caps: at the cap accepted, over it refused naming the flag', () => {
    const doc = (i: number): string => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c${i}, namespace: a}\n`;
    const text = (n: number): string => Array.from({ length: n }, (_, i) => doc(i)).join('---\n');
    const limits = artifactParseLimits({ maxArtifactBytes: 4096, maxObjects: 5 });
    assert.equal(parseManifests(text(5), 'a', limits).objects.length, 5);
    const tooMany = parseManifests(text(6), 'a', limits);
    assert.equal(tooMany.objects.length, 0);
    assert.match(tooMany.errors[0]?.message ?? '', /^refused: more than 5 objects, the most the agent accepts in one artifact \(--max-objects, chart value limits\.maxObjects\); nothing of it was applied .*raise --max-objects of this cluster's agent$/);
    const tooLarge = parseManifests(' '.repeat(4097), 'a', limits);
    assert.match(tooLarge.errors[0]?.message ?? '', /^refused: 4\.0 KiB of manifests, over the 4 KiB the agent accepts in one artifact \(--max-artifact-bytes, chart value limits\.maxArtifactBytes\)/);
  });
});
