/** The shared ioredis client, or null in single-instance mode (no REDIS_URL). */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');
