import { ConfigError, loadConfig } from '../../src/config/env.js';

/** A session secret the production checks accept. */
export const STRONG_SECRET = 'Zq8#pL2@vN5!xR7$kT4%mW9^bY3&cH6*';

/** The least a production configuration needs; specs add what they test. */
export const PROD_BASE = {
  NODE_ENV: 'production',
  SESSION_SECRET: STRONG_SECRET,
  DATABASE_URL: 'postgres://app:pw@db:5432/rampart',
  REDIS_URL: 'redis://cache:6379',
};

/** The problems `loadConfig` reports for `env` (empty when it loads). */
export function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}
