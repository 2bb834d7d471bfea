// Workflow time. Inside Temporal's sandbox Date is deterministic (the time of the current
// workflow task, the same on replay); this is the one place workflow code reads it.
export function workflowNow(): number {
  // eslint-disable-next-line no-restricted-globals
  return Date.now();
}
