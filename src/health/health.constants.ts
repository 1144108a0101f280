/** Indicator keys, shared by the service that composes checks and the tests that read them. */
export const HEALTH_KEYS = {
  lifecycle: 'lifecycle',
  database: 'database',
  redis: 'redis',
  eventLoop: 'eventLoop',
  breaker: 'breaker',
  mainPool: 'mainPool',
  healthPool: 'healthPool',
  worker: 'worker',
  directory: 'directory',
} as const;
