// The pure parts of the render limits (#24): the archive decision, the error's wording, the
// limited command line, the settings check, Go's YAML alias rule, and the parse caps.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { limitedCommand } from '../../activities/limited-exec.js';
import { MAX_MANIFEST_BYTES, MAX_MANIFEST_OBJECTS, parseManifests } from '../../core/manifests.js';
import {
  archiveBreach, DEFAULT_RENDER_LIMITS, GiB, MiB, RenderLimitError, renderLimitsProblem, UNTAR_RATIO_FLOOR_BYTES,
} from '../../core/render-limits.js';
import { allowedAliasRatio, excessiveAliasing, findExcessiveAliasing } from '../../core/yaml-aliases.js';

/** Nine anchors deep "billion laughs": a0 is `fanout` scalars, each next level `fanout` aliases of the last. */
function laughs(levels: number, fanout: number): string {
  const lines = [`a0: &a0 [${Array<string>(fanout).fill('"lol"').join(',')}]`];
  for (let l = 1; l <= levels; l++) lines.push(`a${l}: &a${l} [${Array<string>(fanout).fill(`*a${l - 1}`).join(',')}]`);
  return `${lines.join('\n')}\n`;
}

/** n list items, each merging one small anchored mapping: how real manifests use anchors. */
function mergeRefs(n: number): string {
  return `base: &b {x: 1, y: 2}\nitems:\n${Array.from({ length: n }, (_, i) => `- {name: n${i}, <<: *b}\n`).join('')}`;
}

describe('archive caps: refused while inflating', () => {
  const limits = { untarMaxBytes: 256 * MiB, untarMaxRatio: 200 };
  const cases: { name: string; inflated: number; compressed: number; want: ReturnType<typeof archiveBreach> }[] = [
    { name: 'a normal source artifact (10:1)', inflated: 40 * MiB, compressed: 4 * MiB, want: undefined },
    { name: 'tiny archive of zeros, 1000:1 but under the floor', inflated: UNTAR_RATIO_FLOOR_BYTES, compressed: 8 * 1024, want: undefined },
    { name: 'gzip bomb, one byte past the floor at 1000:1', inflated: UNTAR_RATIO_FLOOR_BYTES + 1, compressed: 8 * 1024, want: 'untarMaxRatio' },
    { name: 'exactly at the ratio', inflated: 200 * 64 * 1024, compressed: 64 * 1024, want: undefined },
    { name: 'just over the ratio', inflated: 200 * 64 * 1024 + 1, compressed: 64 * 1024, want: 'untarMaxRatio' },
    { name: 'exactly the size cap at 10:1', inflated: 256 * MiB, compressed: 25.6 * MiB, want: undefined },
    { name: 'one byte over the size cap', inflated: 256 * MiB + 1, compressed: 200 * MiB, want: 'untarMaxBytes' },
    { name: 'over both: size is named first', inflated: 2 * GiB, compressed: 2 * MiB, want: 'untarMaxBytes' },
    { name: 'nothing read yet', inflated: 0, compressed: 0, want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(archiveBreach(c.inflated, c.compressed, limits), c.want);
    });
  }
});

describe('RenderLimitError names the cap, its value, its setting, the object and what to do', () => {
  const cases: { error: RenderLimitError; message: string }[] = [
    {
      error: new RenderLimitError('memoryBytes', 2 * GiB, 'kustomize build of path "./apps"', 'it ran out of memory and was stopped'),
      message: 'kustomize build of path "./apps": exceeded the memory limit of 2 GiB (limits.render.memoryBytes): it ran out of memory and was stopped; nothing was applied; split the render into smaller ones, or raise limits.render.memoryBytes on the hub',
    },
    {
      error: new RenderLimitError('cpuSeconds', 60, 'helm template of chart x-1.0.0', 'killed by SIGXCPU'),
      message: 'helm template of chart x-1.0.0: exceeded the CPU time limit of 60 s (limits.render.cpuSeconds): killed by SIGXCPU; nothing was applied; split the render into smaller ones, or raise limits.render.cpuSeconds on the hub',
    },
    {
      error: new RenderLimitError('maxFileBytes', 16 * MiB, 'file big.yaml', 'it is 1 GiB'),
      message: 'file big.yaml: exceeded the file size limit of 16 MiB (limits.render.maxFileBytes): it is 1 GiB; leave such files out of the source (.sourceignore or spec.ignore), or raise limits.render.maxFileBytes on the hub',
    },
    {
      error: new RenderLimitError('untarMaxRatio', 200, 'archive'),
      message: 'archive: exceeded the compression ratio limit of 200:1 (limits.untar.maxRatio); the archive was refused while it was being read, before it was unpacked; make it smaller or raise limits.untar.maxRatio on the hub',
    },
    {
      error: new RenderLimitError('maxObjects', 10_000, 'kustomize build of path "."', 'it built 20000 objects'),
      message: 'kustomize build of path ".": exceeded the object count limit of 10000 (limits.render.maxObjects): it built 20000 objects; nothing was applied; split the render into smaller ones, or raise limits.render.maxObjects on the hub',
    },
  ];
  for (const c of cases) {
    it(c.error.limit, () => {
      assert.equal(c.error.message, c.message);
    });
  }
});

describe('the limited command line', () => {
  const limits = { memoryBytes: 2 * GiB, cpuSeconds: 60 };
  it('prlimit: address space and CPU (soft = hard: Go ignores SIGXCPU), then the binary and its arguments untouched', () => {
    assert.deepEqual(limitedCommand('/bin/kustomize', ['build', 'a b'], limits, { mechanism: 'prlimit', path: '/usr/bin/prlimit' }), {
      file: '/usr/bin/prlimit', args: ['--as=2147483648', '--cpu=60', '--', '/bin/kustomize', 'build', 'a b'],
    });
  });
  it('ulimit: KiB for -v, the binary and arguments passed as $0 "$@" (never interpolated into the script)', () => {
    assert.deepEqual(limitedCommand('/bin/helm', ['template', '$(rm -rf /)'], limits, { mechanism: 'ulimit', path: '/bin/sh' }), {
      file: '/bin/sh', args: ['-c', 'ulimit -v 2097152 && ulimit -t 60 && exec "$0" "$@"', '/bin/helm', 'template', '$(rm -rf /)'],
    });
  });
  it('none: the binary itself', () => {
    assert.deepEqual(limitedCommand('/bin/helm', ['version'], limits, { mechanism: 'none', path: '' }), { file: '/bin/helm', args: ['version'] });
  });
});

describe('render limit settings are checked', () => {
  const cases: { name: string; change: Partial<typeof DEFAULT_RENDER_LIMITS>; problem: RegExp | undefined }[] = [
    { name: 'the defaults', change: {}, problem: undefined },
    { name: 'memory under what Go needs to start', change: { memoryBytes: 512 * MiB }, problem: /limits\.render\.memoryBytes must be at least 1 GiB .*got 512 MiB/ },
    { name: 'a ratio YAML itself would cross', change: { untarMaxRatio: 5 }, problem: /limits\.untar\.maxRatio must be at least 10/ },
    { name: 'zero', change: { maxObjects: 0 }, problem: /limits\.render\.maxObjects must be a positive integer, got 0/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problem = renderLimitsProblem({ ...DEFAULT_RENDER_LIMITS, ...c.change });
      if (c.problem === undefined) assert.equal(problem, undefined);
      else assert.match(problem ?? '', c.problem);
    });
  }
});

describe("Go's YAML alias rule (gopkg.in/yaml.v3 v3.0.1 decode.go), as Flux's decoder applies it", () => {
  it('allowedAliasRatio: 99% up to 400 000 decodes, 10% from 4 000 000, linear between', () => {
    const table: [number, number][] = [[1, 0.99], [400_000, 0.99], [2_200_000, 0.545], [4_000_000, 0.1], [10_000_000, 0.1]];
    for (const [count, ratio] of table) assert.ok(Math.abs(allowedAliasRatio(count) - ratio) < 1e-9, `${count}: ${allowedAliasRatio(count)}`);
  });
  it('excessiveAliasing needs more than 100 aliases and more than 1000 decodes', () => {
    assert.equal(excessiveAliasing(100, 100_000), false);
    assert.equal(excessiveAliasing(1000, 1000), false);
    assert.equal(excessiveAliasing(991, 1001), true);
    assert.equal(excessiveAliasing(990, 1001), false);
  });
  // Expected: what gopkg.in/yaml.v3 v3.0.1 yaml.Unmarshal into interface{} returned for the same
  // documents (run with Go 1.26 while writing this table): "excessive" = "yaml: document contains
  // excessive aliasing", "ok" = decoded.
  const table: { doc: string; text: string; go: 'ok' | 'excessive' }[] = [
    ...([[1, 5, 'ok'], [1, 10, 'ok'], [2, 9, 'ok'], [2, 10, 'ok'], [3, 5, 'ok'], [3, 9, 'excessive'], [3, 10, 'excessive'],
      [4, 5, 'excessive'], [4, 9, 'excessive'], [5, 5, 'excessive'], [8, 9, 'excessive'], [8, 10, 'excessive']] as const)
      .map(([levels, fanout, go]) => ({ doc: `laughs ${levels} levels × ${fanout}`, text: laughs(levels, fanout), go })),
    { doc: '50 merges of one anchor', text: mergeRefs(50), go: 'ok' },
    { doc: '200 merges of one anchor', text: mergeRefs(200), go: 'ok' },
    { doc: '2000 merges of one anchor', text: mergeRefs(2000), go: 'ok' },
  ];
  for (const c of table) {
    it(`${c.doc}: ${c.go}`, () => {
      assert.equal(findExcessiveAliasing(c.text) === undefined ? 'ok' : 'excessive', c.go);
    });
  }
  it('names the document of a multi-document file, and stops early on a billion laughs', () => {
    const started = process.hrtime.bigint();
    const verdict = findExcessiveAliasing(`a: 1\n---\n${laughs(9, 9)}`);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(verdict !== undefined);
    assert.equal(verdict.document, 2);
    assert.ok(verdict.decodeCount < 10_000, `stopped after ${verdict.decodeCount} decodes, not 9^9`);
    // Generous (a slow CI machine): the walk is ~4 000 steps.
    assert.ok(ms < 2000, `took ${ms} ms`);
  });
  it('a self-referencing anchor is refused, not walked forever', () => {
    assert.notEqual(findExcessiveAliasing('a: &x {b: *x, c: [*x, *x]}\n'), undefined);
  });
  it('files without aliases, or that do not parse, are left to kustomize', () => {
    assert.equal(findExcessiveAliasing('a: &x 1\n'), undefined);
    assert.equal(findExcessiveAliasing('a: [*x\n'), undefined);
  });
});

describe('parse caps (what the hub and the agent parse)', () => {
  it(`more than ${MAX_MANIFEST_BYTES / MiB} MiB of text is refused before it is parsed`, () => {
    const result = parseManifests(' '.repeat(MAX_MANIFEST_BYTES + 1), 'artifact');
    assert.equal(result.objects.length, 0);
    assert.match(result.errors[0]?.message ?? '', /over the 64 MiB a parse accepts/);
  });
  it(`more than ${MAX_MANIFEST_OBJECTS} objects are refused`, () => {
    const doc = (i: number): string => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c${i}, namespace: a}\n`;
    const ok = parseManifests(Array.from({ length: MAX_MANIFEST_OBJECTS }, (_, i) => doc(i)).join('---\n'), 'artifact');
    assert.equal(ok.errors.length, 0);
    assert.equal(ok.objects.length, MAX_MANIFEST_OBJECTS);
    const over = parseManifests(Array.from({ length: MAX_MANIFEST_OBJECTS + 1 }, (_, i) => doc(i)).join('---\n'), 'artifact');
    assert.equal(over.objects.length, 0);
    assert.match(over.errors[0]?.message ?? '', /more than 10000 objects/);
  });
});
