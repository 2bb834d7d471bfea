// Flotilla's version, reported by the CLI, the hub's API and every agent.
export const VERSION = '0.1.0';
