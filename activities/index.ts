// Every activity the hub's worker serves.
export * from './kubernetes-probe.js';
