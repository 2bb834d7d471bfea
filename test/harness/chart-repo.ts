// A real Helm chart repository for tests: charts packaged with the real helm, indexed with
// `helm repo index`, served over loopback HTTP by node:http.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { bin } from '../../deploy/dev/binaries.js';

export class ChartRepo {
  private constructor(readonly dir: string, private readonly server: Server, readonly url: string) {}

  static async start(): Promise<ChartRepo> {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-charts-'));
    const server = createServer((req, res) => {
      const name = basename(new URL(req.url ?? '/', 'http://x').pathname);
      try {
        const body = readFileSync(join(dir, name));
        res.writeHead(200, { 'content-type': name.endsWith('.yaml') ? 'text/yaml' : 'application/gzip' }).end(body);
      } catch {
        res.writeHead(404).end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('chart repository did not bind');
    return new ChartRepo(dir, server, `http://127.0.0.1:${address.port}`);
  }

  /** Packages a chart directory at `version` into the repository and re-indexes it. */
  publish(chartDir: string, version?: string): this {
    execFileSync(bin('helm'), ['package', chartDir, '--destination', this.dir, ...(version ? ['--version', version] : [])], { stdio: 'pipe' });
    execFileSync(bin('helm'), ['repo', 'index', this.dir, '--url', this.url], { stdio: 'pipe' });
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => { this.server.close(() => { resolve(); }); });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Writes a chart's files (path → content) into a new directory; returns it. */
export function writeChart(files: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-chart-src-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** A small chart: a ConfigMap naming its version, and a Deployment whose pods take podAnnotations. */
export const webChart = (): string => writeChart({
  'Chart.yaml': 'apiVersion: v2\nname: web\nversion: 0.0.0\nappVersion: "1.0"\n',
  'values.yaml': 'podAnnotations: {}\n',
  'templates/configmap.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  version: {{ .Chart.Version | quote }}\n',
  'templates/deployment.yaml': [
    'apiVersion: apps/v1', 'kind: Deployment', 'metadata:', '  name: {{ .Release.Name }}', 'spec:', '  replicas: 1',
    '  selector:', '    matchLabels: { app: {{ .Release.Name }} }', '  template:', '    metadata:',
    '      labels: { app: {{ .Release.Name }} }', '      annotations:', '        chart-version: {{ .Chart.Version | quote }}',
    '        {{- with .Values.podAnnotations }}', '        {{- toYaml . | nindent 8 }}', '        {{- end }}',
    '    spec:', '      containers:', '        - name: web', '          image: nginx:1.27', '',
  ].join('\n'),
});
