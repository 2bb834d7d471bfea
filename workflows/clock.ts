// Workflow time. Inside Temporal's sandbox Date is deterministic (the time of the current
// workflow task, the same on replay); this is the one place workflow code reads it.
export function workflowNow(): number {
  // eslint-disable-next-line no-restricted-globals
  return Date.now();
}

/** `ms` since epoch as an ISO 8601 string (the form of `flotilla reconcile` tokens). */
export function isoTime(ms: number): string {
  // eslint-disable-next-line no-restricted-globals
  return new Date(ms).toISOString();
}
