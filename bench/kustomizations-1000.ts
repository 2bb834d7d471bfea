// Benchmark "kustomizations-1000": bench/kustomizations-100.ts at 1,000 Kustomizations (one
// repository holding all 1,000 apps), head to head with Flux --concurrent=20 in the same
// invocation (Flux's default 4 would take over half an hour), 30-minute limit per system.
// `npm run bench -- kustomizations-1000 [--temporal postgres]`.
import { fluxBinaries } from './flux.js';

fluxBinaries(); // fails now, with how to build Flux, rather than after the Flotilla run
process.argv.push('--scale', '1000');
await import('./kustomizations-100.js');
