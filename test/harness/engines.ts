// The engines that run kustomize and helm, with the dev binaries (deploy/dev/binaries.ts)
// filled in: the engines take their binaries from the caller (the hub's tools.* settings),
// and a test is a caller that uses the ones `npm run setup` installs. An explicit
// kustomizeBin/helmBin still wins.
import { buildKustomization as buildWith, type BuildOptions, type BuildResult } from '../../activities/kustomize-build.js';
import { packageChartDirectory as packageWith, renderChart as renderWith, type RenderedChart, type RenderOptions as EngineRenderOptions } from '../../activities/helm-chart.js';
import type { KustomizationSpec } from '../../core/declarations/types.js';
import { bin } from '../../deploy/dev/binaries.js';

type WithDefault<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

export function buildKustomization(
  sourceRoot: string,
  spec: KustomizationSpec,
  vars: Readonly<Record<string, string>>,
  opts: WithDefault<BuildOptions, 'kustomizeBin'> = {},
): Promise<BuildResult> {
  return buildWith(sourceRoot, spec, vars, { kustomizeBin: bin('kustomize'), ...opts });
}

export function packageChartDirectory(dir: string, opts: WithDefault<Parameters<typeof packageWith>[1], 'helmBin'> = {}): Promise<Buffer> {
  return packageWith(dir, { helmBin: bin('helm'), ...opts });
}

/** renderChart's options, helmBin optional. */
export type RenderOptions = WithDefault<EngineRenderOptions, 'helmBin'>;

export function renderChart(chartTgz: Buffer, opts: RenderOptions): Promise<RenderedChart> {
  return renderWith(chartTgz, { helmBin: bin('helm'), ...opts });
}
