// Original file: proto/flotilla/agent/v1/agent.proto

export const Phase = {
  PHASE_UNSPECIFIED: 'PHASE_UNSPECIFIED',
  PHASE_APPLYING: 'PHASE_APPLYING',
  PHASE_READY: 'PHASE_READY',
  PHASE_INVALID: 'PHASE_INVALID',
  PHASE_UNHEALTHY: 'PHASE_UNHEALTHY',
  PHASE_FAILED: 'PHASE_FAILED',
  PHASE_DELETED: 'PHASE_DELETED',
} as const;

export type Phase =
  | 'PHASE_UNSPECIFIED'
  | 0
  | 'PHASE_APPLYING'
  | 1
  | 'PHASE_READY'
  | 2
  | 'PHASE_INVALID'
  | 3
  | 'PHASE_UNHEALTHY'
  | 4
  | 'PHASE_FAILED'
  | 5
  | 'PHASE_DELETED'
  | 6

export type Phase__Output = typeof Phase[keyof typeof Phase]
