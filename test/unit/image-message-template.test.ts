// Commit message templates: Go text/template semantics over Flux's v1beta2 template data.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CommitTemplateError,
  DEFAULT_COMMIT_TEMPLATE,
  commitTemplateProblem,
  renderCommitMessage,
} from '../../core/image/message-template.js';
import type { CommitTemplateData, ImageChange } from '../../core/image/message-template.js';

const podinfo: ImageChange = {
  file: 'apps/podinfo/deployment.yaml',
  object: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo', namespace: 'default' },
  setter: 'flux-system:podinfo',
  policy: { namespace: 'flux-system', name: 'podinfo' },
  oldValue: 'ghcr.io/stefanprodan/podinfo:5.0.0',
  newValue: 'ghcr.io/stefanprodan/podinfo:5.0.3',
  image: 'ghcr.io/stefanprodan/podinfo:5.0.3',
};
const redis: ImageChange = {
  file: 'apps/cache/release.yaml',
  object: { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', name: 'redis', namespace: 'cache' },
  setter: 'flux-system:redis:tag',
  policy: { namespace: 'flux-system', name: 'redis' },
  oldValue: '7.0.0',
  newValue: '7.2.4',
  image: 'redis:7.2.4',
};

const data = (changes: readonly ImageChange[], values: Record<string, string> = {}): CommitTemplateData => ({
  automation: { namespace: 'flux-system', name: 'podinfo-update' },
  changes,
  values,
});
const render = (template: string, changes: readonly ImageChange[] = [podinfo, redis], values: Record<string, string> = {}): string =>
  renderCommitMessage(template, data(changes, values));

// The example of docs/spec/v1beta2/imageupdateautomations.md ("Message Template"), as the YAML
// block scalar delivers it.
const SPEC_EXAMPLE = `Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind }} {{ $resource.Name }}
  Changes:
{{- range $_, $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
`;

// The v1beta1-era example (image-automation-controller CHANGELOG 0.7.0) over .Updated.
const UPDATED_EXAMPLE = `Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Updated.Files -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $_ := .Updated.Objects -}}
- {{ $resource.Kind }} {{ $resource.Name }}
{{ end -}}

Images:
{{ range .Updated.Images -}}
- {{.}}
{{ end -}}
`;

function renderError(template: string, changes: readonly ImageChange[] = [podinfo, redis]): string {
  try {
    render(template, changes);
  } catch (e) {
    assert.ok(e instanceof CommitTemplateError);
    return e.message;
  }
  assert.fail('expected a CommitTemplateError');
}

describe('Flux templates render as Go renders them', () => {
  it('uses Flux default message when the template is empty', () => {
    assert.equal(DEFAULT_COMMIT_TEMPLATE, 'Update from image update automation');
    assert.equal(render(''), 'Update from image update automation');
    assert.equal(render(DEFAULT_COMMIT_TEMPLATE), 'Update from image update automation');
  });

  it('renders the v1beta2 spec example: -}} eats the blank line before Objects, {{- joins Changes:', () => {
    // Files and objects come in sorted order: apps/cache < apps/podinfo, apps/v1 < helm.toolkit…
    assert.equal(
      render(SPEC_EXAMPLE),
      'Automated image update\n\nAutomation name: flux-system/podinfo-update\n\nFiles:\n' +
        '- apps/cache/release.yaml\n- apps/podinfo/deployment.yaml\n' +
        'Objects:\n' +
        '- Deployment podinfo\n  Changes:\n    - ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n' +
        '- HelmRelease redis\n  Changes:\n    - 7.0.0 -> 7.2.4\n',
    );
  });

  it('renders the .Updated example and the flux CLI example', () => {
    assert.equal(
      render(UPDATED_EXAMPLE),
      'Automated image update\n\nAutomation name: flux-system/podinfo-update\n\nFiles:\n' +
        '- apps/cache/release.yaml\n- apps/podinfo/deployment.yaml\n' +
        'Objects:\n- Deployment podinfo\n- HelmRelease redis\n' +
        'Images:\n- redis:7.2.4\n- ghcr.io/stefanprodan/podinfo:5.0.3\n',
    );
    assert.equal(render('{{range .Updated.Images}}{{println .}}{{end}}'), 'redis:7.2.4\nghcr.io/stefanprodan/podinfo:5.0.3\n');
  });

  it('renders .Changed.Changes and .Values as the docs show', () => {
    const template = 'Update approved application image\n{{ range .Changed.Changes -}}\n{{ .OldValue }} -> {{ .NewValue }}\n{{ end -}}\n';
    assert.equal(render(template), 'Update approved application image\n7.0.0 -> 7.2.4\nghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n');
    assert.equal(
      render('{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}', [redis]),
      '7.0.0 -> 7.2.4\n',
    );
    assert.equal(
      render('Automated image update by Flux for cluster {{ .Values.cluster }}.', [redis], { cluster: 'prod' }),
      'Automated image update by Flux for cluster prod.',
    );
  });

  it('splits ImageRef like go-containerregistry', () => {
    const line = '{{range .Updated.Images}}{{.Registry}}|{{.Repository}}|{{.Identifier}}|{{.Name}}|{{.Policy}}\n{{end}}';
    const at = (image: string): ImageChange => ({ ...redis, image, policy: { namespace: 'ns', name: image } });
    const digest = `sha256:${'a'.repeat(64)}`;
    assert.equal(
      render(line, [at('ghcr.io/org/app:1.2.3')]),
      `ghcr.io|org/app|1.2.3|ghcr.io/org/app:1.2.3|ns/ghcr.io/org/app:1.2.3\n`,
    );
    assert.equal(render(line, [at('localhost:5000/app')]), 'localhost:5000|app|latest|localhost:5000/app:latest|ns/localhost:5000/app\n');
    assert.equal(render(line, [at('redis:7')]), 'index.docker.io|library/redis|7|index.docker.io/library/redis:7|ns/redis:7\n');
    assert.equal(render(line, [at('docker.io/bitnami/redis:7')]), 'index.docker.io|bitnami/redis|7|index.docker.io/bitnami/redis:7|ns/docker.io/bitnami/redis:7\n');
    // A name without a '.' or ':' in its first part is a Docker Hub path, not a registry.
    assert.equal(render('{{range .Updated.Images}}{{.Registry}} {{.Repository}}{{end}}', [at('myorg/app:1')]), 'index.docker.io myorg/app');
    assert.equal(
      render('{{range .Updated.Images}}{{.Identifier}} {{.Name}} {{.}}{{end}}', [at(`ghcr.io/org/app:1.0@${digest}`)]),
      `${digest} ghcr.io/org/app@${digest} ghcr.io/org/app:1.0@${digest}`,
    );
  });

  it('prints values as fmt %v does', () => {
    assert.equal(
      render('{{ .Changed.Changes }}', [redis]),
      '[{7.0.0 7.2.4 flux-system:redis:tag}]',
    );
    assert.equal(
      render('{{ .Updated.Objects }}', [redis]),
      'map[{{{helm.toolkit.fluxcd.io/v2 HelmRelease} {redis cache}}}:[redis:7.2.4]]',
    );
    assert.equal(render('{{ .Values }} {{ .AutomationObject.Name }} {{ .AutomationObject.String }}', [], { b: '2', a: '1' }), 'map[a:1 b:2] podinfo-update flux-system/podinfo-update');
    assert.equal(render('{{ 1e6 }} {{ 1.5 }} {{ 0x1F }} {{ \'a\' }} {{ true }} {{ "x" }}'), '1e+06 1.5 31 97 true x');
  });
});

describe('map order and deduplication', () => {
  it('is deterministic: files in byte order, objects by apiVersion, kind, name, namespace', () => {
    const obj = (file: string, apiVersion: string, kind: string, name: string): ImageChange => ({
      ...redis, file, object: { apiVersion, kind, name, namespace: 'ns' }, oldValue: name, newValue: `${name}2`,
    });
    const changes = [
      obj('apps/x.yaml', 'v1', 'ConfigMap', 'z'),
      obj('apps-y.yaml', 'apps/v1', 'StatefulSet', 'a'),
      obj('B.yaml', 'apps/v1', 'Deployment', 'b'),
      obj('a.yaml', 'apps/v1', 'Deployment', 'a'),
    ];
    const template = '{{ range $f, $_ := .Changed.FileChanges }}{{ $f }} {{ end }}| {{ range $o, $_ := .Changed.Objects }}{{ $o.Kind }}/{{ $o.Name }} {{ end }}';
    const expected = 'B.yaml a.yaml apps-y.yaml apps/x.yaml | Deployment/a Deployment/b StatefulSet/a ConfigMap/z ';
    assert.equal(render(template, changes), expected);
    assert.equal(render(template, [...changes].reverse()), expected);
  });

  it('deduplicates Images and Changes like Flux, appends Updated.Objects, lets the last file win in Changed.Objects', () => {
    const same = { ...redis, file: 'z.yaml' };
    const other = { ...redis, file: 'a.yaml', oldValue: '6.0.0' };
    const changes = [redis, same, other];
    assert.equal(render('{{ len .Updated.Images }} {{ len .Changed.Changes }}', changes), '1 2');
    assert.equal(render('{{ range .Changed.Changes }}{{ .OldValue }} {{ end }}', changes), '6.0.0 7.0.0 ');
    assert.equal(render('{{ range $o, $refs := .Updated.Objects }}{{ len $refs }}{{ end }}', changes), '3');
    assert.equal(render('{{ range $o, $c := .Changed.Objects }}{{ range $c }}{{ .OldValue }}{{ end }}{{ end }}', changes), '7.0.0');
    // A second marker for the same policy in one object records its ImageRef once.
    assert.equal(render('{{ range $f, $r := .Updated.Files }}{{ range $o, $refs := $r.Objects }}{{ len $refs }}{{ end }}{{ end }}', [redis, { ...redis, setter: 'flux-system:redis' }]), '1');
  });

  it('handles no changes: empty ranges take their else branch', () => {
    assert.equal(render('{{ range .Changed.Changes }}x{{ else }}no changes{{ end }}', []), 'no changes');
    assert.equal(render('{{ len .Updated.Images }} {{ .Changed.Changes }} {{ .Updated.Files }} {{ .Values }}', []), '0 [] map[] map[]');
    assert.equal(render('{{ if .Changed.FileChanges }}yes{{ else }}none{{ end }}', []), 'none');
  });
});

describe('Go template semantics', () => {
  it('trims with {{- and -}} and drops comments', () => {
    assert.equal(render('a  \n {{- "b" -}} \n\t c'), 'abc');
    assert.equal(render('a {{- /* note */ -}} b{{/* x */}}c'), 'abc');
    assert.equal(render('{{-3}} {{ 3 -}} x'), '-3 3x');
  });

  it('evaluates if/else if/else, with, and, or, not, eq, ne, lt with Go truthiness', () => {
    const t = '{{ if eq .Values.env "prod" "live" }}P{{ else if .Values.env }}O{{ else }}N{{ end }}';
    assert.equal(render(t, [], { env: 'live' }), 'P');
    assert.equal(render(t, [], { env: 'dev' }), 'O');
    assert.equal(render(t, []), 'N');
    assert.equal(render('{{ with .Values.team }}team {{ . }}{{ else }}no team{{ end }}', [], { team: 'a' }), 'team a');
    assert.equal(render('{{ and 1 0 "x" }} {{ or "" 0 "y" }} {{ not .Changed.Changes }} {{ ne 1 2 }} {{ lt "a" "b" }} {{ le 2 2 }}', []), '0 y true true true true');
  });

  it('has variables, $, range with index, break and continue, and missing keys', () => {
    assert.equal(
      render('{{ $n := len .Changed.Changes }}{{ range $i, $c := .Changed.Changes }}{{ $i }}/{{ $n }}:{{ $c.NewValue }} {{ end }}{{ $.AutomationObject.Namespace }}'),
      '0/2:7.2.4 1/2:ghcr.io/stefanprodan/podinfo:5.0.3 flux-system',
    );
    assert.equal(render('{{ range $i, $c := .Changed.Changes }}{{ if eq $i 0 }}{{ continue }}{{ end }}{{ $i }}{{ break }}{{ end }}'), '1');
    assert.equal(render('{{ $x := "a" }}{{ if true }}{{ $x = "b" }}{{ end }}{{ $x }}'), 'b');
    // A missing map key prints <no value>; index returns the zero value.
    assert.equal(render('[{{ .Values.nope }}] [{{ index .Values "nope" }}] [{{ index .Values "k" }}]', [], { k: 'v' }), '[<no value>] [] [v]');
  });

  it('formats print, println and printf like fmt', () => {
    assert.equal(render('{{ print "a" 1 2 "b" }}|{{ println 1 "x" }}|{{ printf "%s=%d %q %v%%" "n" 3 "a\\"b\\n" .AutomationObject }}', []), 'a1 2b|1 x\n|n=3 "a\\"b\\n" flux-system/podinfo-update%');
    assert.equal(render('{{ printf "%d %s" "x" }}|{{ printf "%s" "a" "b" }}', []), '%!d(string=x) %!s(MISSING)|a%!(EXTRA string=b)');
    assert.equal(render('{{ .Values.v | printf "<%s>" }} {{ "x" | len }}', [], { v: 'piped' }), '<piped> 1');
  });
});

describe('problems are reported with their position', () => {
  it('accepts every template above at parse time', () => {
    for (const t of [SPEC_EXAMPLE, UPDATED_EXAMPLE, DEFAULT_COMMIT_TEMPLATE, '', '{{range .Updated.Images}}{{println .}}{{end}}']) {
      assert.equal(commitTemplateProblem(t), undefined);
    }
  });

  it('reports syntax errors with line and column', () => {
    assert.equal(commitTemplateProblem('Files:\n  {{ range .Changed.Changes }}x'), 'line 2, col 32: unexpected EOF: the {{range}} at line 2, col 3 has no {{end}}');
    assert.equal(commitTemplateProblem('a {{ .X }'), 'line 1, col 9: unexpected "}" in operand');
    assert.equal(commitTemplateProblem('{{ end }}'), 'line 1, col 1: unexpected {{end}}');
    assert.equal(commitTemplateProblem('x\n{{ "abc }}'), 'line 2, col 4: unterminated quoted string');
    assert.equal(commitTemplateProblem('{{ $x }}'), 'line 1, col 4: undefined variable "$x"');
    assert.equal(commitTemplateProblem('{{ .A'), 'line 1, col 1: unclosed action');
    assert.equal(commitTemplateProblem('{{ if }}{{ end }}'), 'line 1, col 7: missing value for if');
  });

  it('rejects unknown functions at parse time and says what is available', () => {
    assert.match(commitTemplateProblem('{{ range .Changed.Objects }}\n  {{ .Kind | lower }}{{ end }}') ?? '', /^line 2, col 14: function "lower" is a Sprig function \(Flux adds Sprig\); Flotilla supports Go's builtins and, eq, .*printf, println$/);
    assert.match(commitTemplateProblem('{{ frobnicate 1 }}') ?? '', /^line 1, col 4: function "frobnicate" not defined; /);
    assert.match(commitTemplateProblem('{{ html "x" }}') ?? '', /function "html" is a Go builtin that Flotilla does not support/);
    assert.equal(commitTemplateProblem('{{ define "x" }}y{{ end }}'), 'line 1, col 4: {{define}} is not supported: a commit message is a single template, so write the text inline');
    assert.match(commitTemplateProblem('{{ template "x" }}') ?? '', /^line 1, col 4: \{\{template\}\} is not supported/);
  });

  it('checks field names at render time, as Go does, naming the ones that exist', () => {
    assert.equal(commitTemplateProblem('{{ .Nope }}'), undefined);
    assert.equal(
      renderError('ok\n  {{ .Nope }}'),
      'line 2, col 6: executing <.Nope>: can\'t evaluate field Nope in type source.TemplateData; it has AutomationObject, Updated, Changed, Values',
    );
    assert.equal(
      renderError('{{ range .Changed.Changes }}{{ .Image }}{{ end }}'),
      'line 1, col 32: executing <.Image>: can\'t evaluate field Image in type update.Change; it has OldValue, NewValue, Setter',
    );
    assert.match(renderError('{{ printf "%-10s" "x" }}'), /^line 1, col 4: executing <printf>: error calling printf: printf flags, width and precision are not supported/);
    assert.equal(renderError('{{ index .Changed.Changes 5 }}'), 'line 1, col 4: executing <index>: error calling index: index out of range: 5');
    // Ranging over an int works (Go 1.22), but a runaway range is stopped.
    assert.equal(render('{{ range 3 }}{{ . }}{{ end }}'), '012');
    assert.match(renderError('{{ range 1000000000 }}x{{ end }}'), /^line 1, col 10: range runs more than 100000 iterations in all$/);
  });
});
