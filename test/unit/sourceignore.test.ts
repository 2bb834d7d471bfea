// GitRepository ignore rules (.sourceignore, spec.ignore) as Flux applies them.
// SEMANTICS passes on the `ignore` package Flotilla used before (git's rules) and on
// core/sourceignore.ts (Flux's rules): the cases where git and Flux agree. FLUX_ONLY holds the
// cases where Flux (fluxcd/pkg sourceignore/v0.18.0, a copy of go-git v5.16.4's gitignore, with
// Go's filepath.Match per segment) answers differently from git; Flotilla answers as Flux. Both
// tables are checked against Flux's own code (test/fixtures/flux-sourceignore, `go run`).
// Every row goes through loadSourceIgnoreFilter, the function the GitRepository fetch and
// `flotilla build` pack with, with the patterns as spec.ignore.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { loadSourceIgnoreFilter } from '../../activities/git-source.js';
import { packTree } from '../../activities/tarball.js';
import { IGNORE_WORK_BUDGET, isExcluded, MAX_IGNORE_PATTERN_BYTES, MAX_IGNORE_PATTERNS, parsePattern, type MatchBudget } from '../../core/sourceignore.js';

/** [spec.ignore, path, isDir, excluded] */
type Row = readonly [string, string, boolean, boolean];
const F = false;
const D = true;

const SEMANTICS: readonly Row[] = [
  // A name pattern (no `/`) matches at any depth.
  ['*.log', 'a.log', F, true],
  ['*.log', 'dir/sub/a.log', F, true],
  ['*.log', 'a.logx', F, false],
  ['?.txt', 'a.txt', F, true],
  ['?.txt', 'ab.txt', F, false],
  ['[ab].md', 'b.md', F, true],
  ['[ab].md', 'c.md', F, false],
  ['file[0-9]', 'file7', F, true],
  ['file[0-9]', 'filex', F, false],
  // Negation: the last matching pattern decides.
  ['*.log\n!keep.log', 'keep.log', F, false],
  ['*.log\n!keep.log', 'other.log', F, true],
  ['!keep.log\n*.log', 'keep.log', F, true],
  // Directory only: a trailing `/`.
  ['build/', 'build', D, true],
  ['build/', 'build', F, false],
  ['build/', 'src/build', D, true],
  // Anchoring: a leading `/`, or a `/` in the middle, anchors to the root.
  ['/root.txt', 'root.txt', F, true],
  ['/root.txt', 'sub/root.txt', F, false],
  ['doc/frotz', 'doc/frotz', F, true],
  ['doc/frotz', 'a/doc/frotz', F, false],
  ['doc/*.html', 'doc/a.html', F, true],
  ['doc/*.html', 'doc/ppc/a.html', F, false],
  // `**` forms.
  ['**/foo', 'foo', F, true],
  ['**/foo', 'a/b/foo', F, true],
  ['**/foo/bar', 'foo/bar', F, true],
  ['**/foo/bar', 'a/foo/bar', F, true],
  ['**/foo/bar', 'a/foo/x/bar', F, false],
  ['a/**/b', 'a/b', F, true],
  ['a/**/b', 'a/x/b', F, true],
  ['a/**/b', 'a/x/y/b', F, true],
  ['a/**/b', 'x/a/b', F, false],
  ['abc/**', 'abc/x', F, true],
  ['abc/**', 'abc/x/y', D, true],
  ['a/**/**/**/**/**/**/**/**/**/b', `a/${'x/'.repeat(23)}b`, F, true],
  // Comments, escapes, trailing spaces.
  ['# comment', '# comment', F, false],
  ['\\#hash', '#hash', F, true],
  ['\\!bang', '!bang', F, true],
  ['foo   ', 'foo', F, true],
  ['foo\\ ', 'foo ', F, true],
  // VCS files stay excluded with spec.ignore set; the default exclusions do not apply.
  ['x', '.git', D, true],
  ['x', 'logo.png', F, false],
];

const FLUX_ONLY: readonly (readonly [...Row, string])[] = [
  // globMatch: a `**` skips to the FIRST element the next segment matches and never backtracks.
  ['a/**/b/c', 'a/b/x/b/c', F, false, 'git excludes it (wildmatch backtracks)'],
  // globMatch: a trailing `**` matches once the segments before it did, even with nothing left.
  ['foo/**', 'foo', F, true, 'git keeps a file named foo'],
  // Go's filepath.Match negates a class with `^` only; `[!a]` is the class of "!" and "a".
  ['[!a].txt', 'b.txt', F, false, 'git reads [!a] as "not a"'],
  ['[!a].txt', '!.txt', F, true, 'git keeps it'],
  ['[^a].txt', 'b.txt', F, true, 'the same in git'],
  // pattern.go globMatch: a directory pattern also matches every path under the directory.
  ['*.txt\n!/sub/', 'sub/notes.txt', F, false, 'git excludes it: !/sub/ only names the directory'],
];

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sourceignore-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function excluded(ignore: string, path: string, isDir: boolean): Promise<boolean> {
  const keep = await loadSourceIgnoreFilter(root, ignore);
  return !keep(path, isDir);
}

describe('GitRepository ignore rules: gitignore semantics (git and Flux agree)', () => {
  for (const [ignore, path, isDir, want] of SEMANTICS) {
    it(`${JSON.stringify(ignore)} ${want ? 'excludes' : 'keeps'} ${isDir ? 'directory' : 'file'} ${path.length > 40 ? `${path.slice(0, 40)}…` : path}`, async () => {
      assert.equal(await excluded(ignore, path, isDir), want);
    });
  }
});

describe("GitRepository ignore rules: where Flux's matcher differs from git, Flotilla answers as Flux", () => {
  for (const [ignore, path, isDir, want, git] of FLUX_ONLY) {
    it(`${JSON.stringify(ignore)} ${want ? 'excludes' : 'keeps'} ${path} (${git})`, async () => {
      assert.equal(await excluded(ignore, path, isDir), want);
    });
  }
});

// What packTree keeps of a real tree, through loadSourceIgnoreFilter: which patterns apply and
// how the walk treats an excluded directory. Each row is a tree (files and their .sourceignore
// files), spec.ignore (undefined: not set), and the entries packed (directories end in /).
// `flux` is Flux's answer where Flotilla's differs on purpose. Checked against Flux's own code
// (`go run … tree`: source-controller's archiveArtifact and fluxcd/pkg artifact/storage/
// archive.go SourceIgnoreFilter and Archive, on the same tree).
interface TreeRow {
  readonly name: string;
  readonly files: Readonly<Record<string, string>>;
  readonly ignore?: string;
  readonly packed: readonly string[];
  readonly flux?: readonly string[];
}
const SITE = { 'app.yaml': 'a', 'logo.png': 'p', '.github/ci.yaml': 'c', 'sub/.sops.yaml': 's', 'sub/notes.txt': 'n' };
const DEFAULTS_KEPT = ['app.yaml', 'sub/', 'sub/notes.txt'];
const TREES: readonly TreeRow[] = [
  // archive.go SourceIgnoreFilter: NewDefaultMatcher (VCS + defaults) when no pattern was read.
  { name: 'no .sourceignore, no spec.ignore: the default exclusions apply', files: SITE, packed: DEFAULTS_KEPT },
  // …and the VCS patterns alone as soon as one was, from any .sourceignore or spec.ignore.
  {
    name: 'a .sourceignore with one pattern drops the default exclusions',
    files: { ...SITE, '.sourceignore': 'sub/notes.txt\n' },
    packed: ['.github/', '.github/ci.yaml', '.sourceignore', 'app.yaml', 'logo.png', 'sub/', 'sub/.sops.yaml'],
  },
  {
    name: 'a .sourceignore in a subdirectory drops them for the whole tree',
    files: { ...SITE, 'sub/.sourceignore': '*.txt\n' },
    packed: ['.github/', '.github/ci.yaml', 'app.yaml', 'logo.png', 'sub/', 'sub/.sops.yaml', 'sub/.sourceignore'],
  },
  {
    name: 'a .sourceignore of comments and blank lines keeps them',
    files: { ...SITE, '.sourceignore': '# nothing\n\n   \n' },
    packed: ['.sourceignore', ...DEFAULTS_KEPT],
  },
  { name: 'spec.ignore of only a comment keeps them', files: SITE, ignore: '# nothing to add', packed: DEFAULTS_KEPT },
  { name: 'an empty spec.ignore keeps them', files: SITE, ignore: '', packed: DEFAULTS_KEPT },
  {
    name: 'spec.ignore with one pattern drops them',
    files: SITE,
    ignore: 'sub/notes.txt',
    packed: ['.github/', '.github/ci.yaml', 'app.yaml', 'logo.png', 'sub/', 'sub/.sops.yaml'],
  },
  // sourceignore.go ReadPatterns skips what strings.TrimSpace empties: U+0085 is space in Go, a BOM is not.
  { name: 'a line of U+0085 is blank (Go\'s TrimSpace): the defaults stay', files: SITE, ignore: '\u0085', packed: DEFAULTS_KEPT },
  {
    name: 'a line holding a byte-order mark is a pattern: the defaults go',
    files: SITE,
    ignore: '\ufeff',
    packed: ['.github/', '.github/ci.yaml', 'app.yaml', 'logo.png', 'sub/', 'sub/.sops.yaml', 'sub/notes.txt'],
  },
  // archive.go Archive walks into a filtered directory (returns nil, not filepath.SkipDir): a
  // later `!` pattern keeps a file inside it; the directories' own entries stay out.
  {
    name: 'a later ! pattern keeps a file inside an excluded directory',
    files: { 'app.yaml': 'a', 'vendor/x/keep.yaml': 'k', 'vendor/x/drop.txt': 'd' },
    ignore: 'vendor/\n!keep.yaml',
    packed: ['app.yaml', 'vendor/x/keep.yaml'],
  },
  {
    name: 'an earlier ! pattern does not',
    files: { 'app.yaml': 'a', 'vendor/x/keep.yaml': 'k' },
    ignore: '!keep.yaml\nvendor/',
    packed: ['app.yaml'],
  },
  {
    name: 'a ! pattern in a .sourceignore inside the excluded directory keeps a file',
    files: { 'app.yaml': 'a', '.sourceignore': 'vendor/\n', 'vendor/x/.sourceignore': '!keep.yaml\n', 'vendor/x/keep.yaml': 'k', 'vendor/y/keep.yaml': 'k' },
    packed: ['.sourceignore', 'app.yaml', 'vendor/x/keep.yaml'],
  },
  {
    name: 'a ! pattern of another directory\'s .sourceignore does not reach in',
    files: { '.sourceignore': 'vendor/\n', 'other/.sourceignore': '!keep.yaml\n', 'other/keep.yaml': 'k', 'vendor/keep.yaml': 'k' },
    packed: ['.sourceignore', 'other/', 'other/.sourceignore', 'other/keep.yaml'],
  },
  {
    // pattern.go simpleMatch: `!*/` matches a directory element of any deeper path, so it
    // keeps every file below the root, while `*` still excludes the root's files.
    name: 'exclude-all then !*/ keeps every file in a directory, not at the root',
    files: { 'a.txt': 'a', 'b.yaml': 'b', 'dir/c.txt': 'c', 'dir/sub/d.yaml': 'd' },
    ignore: '*\n!*/\n!*.yaml',
    packed: ['b.yaml', 'dir/', 'dir/c.txt', 'dir/sub/', 'dir/sub/d.yaml'],
  },
  {
    // Flux's walk enters .git too, so a `!` pattern naming a file in it (here HEAD) packs that
    // file. Flotilla never enters .git: its objects and config are not source, and walking them
    // would cost as much as the repository's history.
    name: '.git is never walked, even when a ! pattern names a file in it',
    files: { 'app.yaml': 'a', '.git/HEAD': 'ref: refs/heads/main\n', '.git/config': '[core]\n' },
    ignore: '!HEAD',
    packed: ['app.yaml'],
    flux: ['.git/HEAD', 'app.yaml'],
  },
];

async function makeTree(dir: string, files: Readonly<Record<string, string>>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** The entry paths of a packed tarball, sorted, directories ending in `/` (as packTree writes them). */
function entries(tgz: Buffer): string[] {
  const paths: string[] = [];
  const parser = new Parser({ strict: true });
  parser.on('entry', (entry: ReadEntry) => {
    paths.push(entry.path);
    entry.resume();
  });
  parser.end(gunzipSync(tgz));
  return paths.sort();
}

let treeDirs: string[] = [];
describe('GitRepository ignore rules on a real tree: which patterns apply, and excluded directories', () => {
  before(async () => {
    treeDirs = [];
    for (const [i, row] of TREES.entries()) {
      const dir = join(root, `tree-${i}`);
      await makeTree(dir, row.files);
      treeDirs.push(dir);
    }
  });
  TREES.forEach((row, i) => {
    it(row.name, async () => {
      const dir = treeDirs[i] ?? '';
      const packed = await packTree(dir, { filter: await loadSourceIgnoreFilter(dir, row.ignore) });
      assert.deepEqual(entries(packed.data), row.packed);
    });
  });

  it('the walk into an excluded directory reads no excluded file and counts only packed files against maxFiles', async () => {
    const dir = join(root, 'tree-walk');
    const files: Record<string, string> = { 'vendor/keep.yaml': 'k' };
    for (let i = 0; i < 50; i++) files[`vendor/pkg/f${i}.go`] = 'x';
    await makeTree(dir, files);
    // Larger than maxFileBytes: packTree refuses a file it visits by its size before reading it.
    await truncate(join(dir, 'vendor/pkg/f0.go'), 2 * 1024 * 1024);
    const packed = await packTree(dir, { filter: await loadSourceIgnoreFilter(dir, 'vendor/\n!keep.yaml'), maxFiles: 1, maxFileBytes: 1024 * 1024 });
    assert.deepEqual(entries(packed.data), ['vendor/keep.yaml']);
    assert.equal(packed.files, 1);
    assert.equal(packed.directories, 0);
  });
});

const BINARY_GO = ['/usr/local/go/bin/go', join(process.env.HOME ?? '', '.cache/flotilla/go/bin/go')];
function goBinary(): string | undefined {
  if (spawnSync('go', ['version'], { encoding: 'utf8' }).status === 0) return 'go';
  return BINARY_GO.find((p) => existsSync(p));
}

describe("the tables are Flux's own answers", () => {
  it('go run test/fixtures/flux-sourceignore answers every row as the tables do', (t) => {
    const go = goBinary();
    if (go === undefined) {
      t.skip('Go is not installed (scripts/install-infra.sh installs it)');
      return;
    }
    const rows: readonly Row[] = [...SEMANTICS, ...FLUX_ONLY.map(([a, b, c, d]) => [a, b, c, d] as const)];
    const dir = fileURLToPath(new URL('../../../test/fixtures/flux-sourceignore/', import.meta.url));
    // A cold Go build cache takes ~20 s on a busy 2-core machine; 5 minutes leaves room for a slower one.
    const run = spawnSync(go, ['run', 'main.go', 'pattern.go', 'matcher.go', 'tree.go'], {
      cwd: dir,
      input: JSON.stringify(rows.map(([ignore, path, isDir]) => ({ ignore, path, isDir }))),
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(run.status, 0, `go run failed: ${run.stderr}`);
    const answers = JSON.parse(run.stdout) as boolean[];
    rows.forEach(([ignore, path, isDir, want], i) => {
      assert.equal(answers[i], want, `${JSON.stringify(ignore)} on ${isDir ? 'directory' : 'file'} ${path}`);
    });
  });

  it('go run test/fixtures/flux-sourceignore tree packs every tree as the tree table says Flux does', (t) => {
    const go = goBinary();
    if (go === undefined) {
      t.skip('Go is not installed (scripts/install-infra.sh installs it)');
      return;
    }
    assert.equal(treeDirs.length, TREES.length, 'the tree table\'s trees were made');
    const dir = fileURLToPath(new URL('../../../test/fixtures/flux-sourceignore/', import.meta.url));
    // As above: 5 minutes for a cold Go build cache on a loaded machine.
    const run = spawnSync(go, ['run', 'main.go', 'pattern.go', 'matcher.go', 'tree.go', 'tree'], {
      cwd: dir,
      input: JSON.stringify(TREES.map((row, i) => ({ dir: treeDirs[i], ignore: row.ignore ?? null }))),
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(run.status, 0, `go run failed: ${run.stderr}`);
    const answers = JSON.parse(run.stdout) as string[][];
    TREES.forEach((row, i) => {
      assert.deepEqual(answers[i], row.flux ?? row.packed, row.name);
    });
  });
});

describe('a hostile ignore pattern cannot stall the hub', () => {
  // Bounds are 1 s per path although the measured times are far below it (reported in
  // docs/security.md): the machine may be loaded, and a backtracking matcher takes
  // 1.2 s on the first case and minutes on the last, so 1 s still separates the two.
  const perPath = (keep: (p: string, d: boolean) => boolean, paths: readonly string[]): number => {
    const start = process.hrtime.bigint();
    for (const p of paths) keep(p, false);
    return Number(process.hrtime.bigint() - start) / 1e6 / paths.length;
  };

  it('a/**/**/**/**/**/**/**/**/**/b on paths 25 and 200 directories deep takes milliseconds', async () => {
    const keep = await loadSourceIgnoreFilter(root, 'a/**/**/**/**/**/**/**/**/**/b');
    const paths = [25, 200].map((depth) => `a/${'x/'.repeat(depth - 2)}c`);
    const ms = perPath(keep, paths);
    assert.ok(ms < 1000, `took ${ms} ms per path`);
    assert.equal(keep(paths[0] ?? '', false), true);
  });

  it('one worst-case pattern at the byte cap against a 4096-byte path stays under the bound', async () => {
    // A name pattern is matched against every element; this one's last chunk almost matches at
    // every position: filepath.Match's worst case, |name| × |pattern| per element. Measured
    // ~40 ms on a loaded 2-core machine. The pattern count multiplies this (1000 such patterns
    // of 64 bytes took ~3 s per path): IGNORE_WORK_BUDGET bounds the total, see below.
    const pattern = `*${'a'.repeat(MAX_IGNORE_PATTERN_BYTES - 2)}b`;
    const keep = await loadSourceIgnoreFilter(root, pattern);
    const path = Array.from({ length: 16 }, () => 'a'.repeat(255)).join('/');
    const ms = perPath(keep, [path]);
    assert.ok(ms < 1000, `took ${ms} ms for one path`);
  });
});

describe('the work budget bounds what one checkout\'s matching can cost', () => {
  it('1000 worst-case wildcard patterns over many paths: refused with IgnoreLimitError once the budget is spent', async () => {
    const patterns = Array.from({ length: 1000 }, (_, i) => `*${'a'.repeat(60)}${i}`).join('\n');
    const keep = await loadSourceIgnoreFilter(root, patterns);
    const path = Array.from({ length: 8 }, () => 'a'.repeat(255)).join('/');
    const start = process.hrtime.bigint();
    assert.throws(() => { for (let i = 0; i < 10_000; i++) keep(`${path}/${i}`, false); }, {
      name: 'IgnoreLimitError',
      message: /took more than 500000000 steps, the work budget of one checkout; use fewer patterns and fewer wildcards/,
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    // Measured ~7 s (the budget is ~7 s of matching); 60 s only says
    // "bounded" on a loaded machine, where without the budget this loop runs for hours.
    console.log(`budget spent and refused after ${ms.toFixed(0)} ms`);
    assert.ok(ms < 60_000, `took ${ms} ms`);
  });

  it('an ordinary repository spends a small part of the budget', () => {
    // Flux's default exclusions, 40 typical .sourceignore lines, 10,000 paths 4–6 deep.
    const lines = ['.git/', '.gitignore', '*.jpg', '*.jpeg', '*.gif', '*.png', '*.wmv', '*.flv', '*.tar.gz', '*.zip', '.github/', '.circleci/', '.travis.yml', '.gitlab-ci.yml', 'appveyor.yml', '.drone.yml', 'cloudbuild.yaml', 'codeship-services.yml', 'codeship-steps.yml', '**/.goreleaser.yml', '**/.sops.yaml', '**/.flux.yaml',
      ...Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? `/docs/section-${i}/` : i % 3 === 1 ? `**/*.bak${i}` : `!apps/keep-${i}.yaml`))];
    const parsed = lines.map((l) => parsePattern(l, []));
    const budget: MatchBudget = { remaining: IGNORE_WORK_BUDGET };
    for (let i = 0; i < 10_000; i++) isExcluded(parsed, ['apps', `team-${i % 50}`, 'overlays', `env-${i % 4}`, `deployment-${i}.yaml`], false, budget);
    const spent = IGNORE_WORK_BUDGET - budget.remaining;
    console.log(`an ordinary repository spent ${spent} of ${IGNORE_WORK_BUDGET} steps`);
    assert.ok(spent < IGNORE_WORK_BUDGET / 4, `spent ${spent}`);
  });
});

describe('the caps refuse a hostile ignore file, naming the file, the line, the limit and what to do', () => {
  it(`refuses a pattern over ${MAX_IGNORE_PATTERN_BYTES} bytes`, async () => {
    await assert.rejects(loadSourceIgnoreFilter(root, `ok\n${'x'.repeat(MAX_IGNORE_PATTERN_BYTES + 1)}`), {
      name: 'IgnoreLimitError',
      message: `spec.ignore line 2: the pattern is ${MAX_IGNORE_PATTERN_BYTES + 1} bytes, over the limit of ${MAX_IGNORE_PATTERN_BYTES} bytes per ignore pattern; shorten it (a path in the tree is at most 4096 bytes)`,
    });
  });

  it(`refuses more than ${MAX_IGNORE_PATTERNS} patterns over all .sourceignore files and spec.ignore`, async () => {
    const dir = await mkdtemp(join(root, 'many-'));
    await writeFile(join(dir, '.sourceignore'), Array.from({ length: MAX_IGNORE_PATTERNS }, (_, i) => `f${i}`).join('\n'));
    await assert.rejects(loadSourceIgnoreFilter(dir, '# a comment does not count\nextra'), {
      name: 'IgnoreLimitError',
      message: `spec.ignore line 2: more than ${MAX_IGNORE_PATTERNS} ignore patterns in this GitRepository (all .sourceignore files and spec.ignore together); merge patterns (one directory pattern such as "dir/" covers everything under it) or use spec.include to pick what to keep`,
    });
  });
});
