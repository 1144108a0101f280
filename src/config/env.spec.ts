import { describe, expect, it } from 'vitest';
import { PROD_BASE, problemsOf, STRONG_SECRET as STRONG } from '../../test/support/config.js';
import { ENV_EXAMPLE_SESSION_SECRET, loadConfig, sessionSecretWeakness } from './env.js';

describe(loadConfig.name, () => {
  it('starts in development with no environment at all, generating a session secret with a warning', () => {
    const { config, warnings } = loadConfig({});
    expect(config.app.env).toBe('development');
    expect(config.app.port).toBe(3000);
    expect(config.app.host).toBe('127.0.0.1');
    expect(config.database.url).toBeNull();
    expect(config.security.sessionSecretGenerated).toBe(true);
    expect(config.security.sessionSecret.length).toBeGreaterThanOrEqual(32);
    expect(warnings.join('\n')).toMatch(/SESSION_SECRET is not set/);
    expect(warnings.join('\n')).toMatch(/single-instance mode/);
  });

  it('GRAFANA_URL: an http(s) address for the console\'s link, empty or unset for none', () => {
    expect(loadConfig({ GRAFANA_URL: 'https://grafana.example.com/d/rampart' }).config.app.grafanaUrl).toBe('https://grafana.example.com/d/rampart');
    expect(loadConfig({ GRAFANA_URL: '' }).config.app.grafanaUrl).toBeNull();
    expect(loadConfig({}).config.app.grafanaUrl).toBeNull();
    expect(problemsOf({ GRAFANA_URL: 'javascript:alert(1)' }).join('\n')).toMatch(/GRAFANA_URL/);
  });

  it('announces report-only modes, and recycling settings that WORKERS=1 cannot honour, once each', () => {
    const quiet = loadConfig({}).warnings.join('\n');
    expect(quiet).not.toMatch(/report-only|WORKER_MAX/);
    const loud = loadConfig({ CSRF_MODE: 'report-only', CSP_MODE: 'report-only', WORKER_MAX_RSS_MB: '512' }).warnings;
    expect(loud.filter((w) => w.startsWith('CSRF_MODE=report-only'))).toHaveLength(1);
    expect(loud.filter((w) => w.startsWith('CSP_MODE=report-only'))).toHaveLength(1);
    expect(loud.filter((w) => w.includes('ignored with WORKERS=1'))).toHaveLength(1);
    const clustered = loadConfig({ WORKERS: '2', REDIS_URL: 'redis://127.0.0.1:6379', WORKER_MAX_REQUESTS: '1000' });
    expect(clustered.warnings.join('\n')).not.toMatch(/WORKER_MAX/);
    expect(clustered.config.cluster).toMatchObject({ maxRequests: 1000, maxRssMb: 0, recycleMinUptimeS: 60 });
  });

  it('treats an empty variable as unset, as .env.example writes them', () => {
    const { config } = loadConfig({ DATABASE_URL: '', REDIS_URL: '', SHUTDOWN_DRAIN_DELAY_MS: '', ADMIN_BOOTSTRAP_PASSWORD: ' ' });
    expect(config.database.url).toBeNull();
    expect(config.redis.url).toBeNull();
    expect(config.database.adminPassword).toBeNull();
    expect(problemsOf({ NODE_ENV: 'production', SESSION_SECRET: '', DATABASE_URL: '', REDIS_URL: '' }).join()).toMatch(/SESSION_SECRET is required/);
  });

  it('starts from .env.example as shipped, in development', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL('../../.env.example', import.meta.url), 'utf8');
    const env = Object.fromEntries(
      text
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(() => loadConfig(env)).not.toThrow();
  });

  it("takes admission control's floor from the database pool unless it is set", () => {
    expect(loadConfig({}).config.admission).toMatchObject({ minLimit: 30, initialLimit: 64 });
    expect(loadConfig({ DB_POOL_SIZE: '30', DB_POOL_MAX_OVERFLOW: '10' }).config.admission.minLimit).toBe(80);
    expect(loadConfig({ ADMISSION_MIN_LIMIT: '8' }).config.admission.minLimit).toBe(8);
    expect(() => loadConfig({ ADMISSION_MIN_LIMIT: '600' })).toThrow(/ADMISSION_MIN_LIMIT must not be above ADMISSION_MAX_LIMIT/);
  });

  it('lower-cases ADMIN_BOOTSTRAP_USERNAME, as sign-in folds names: `Admin` would be a second spelling of `admin`', () => {
    expect(loadConfig({ ADMIN_BOOTSTRAP_USERNAME: 'Ops.Admin' }).config.database.adminUsername).toBe('ops.admin');
  });

  it('generates a different secret on every start', () => {
    expect(loadConfig({}).config.security.sessionSecret).not.toBe(loadConfig({}).config.security.sessionSecret);
  });

  it('refuses production without SESSION_SECRET, DATABASE_URL and REDIS_URL, one problem each', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems.some((p) => p.includes('SESSION_SECRET'))).toBe(true);
    expect(problems.some((p) => p.includes('DATABASE_URL'))).toBe(true);
    expect(problems.some((p) => p.includes('REDIS_URL'))).toBe(true);
  });

  it.each([
    ['changeme', /placeholder/],
    ['secret', /placeholder/],
    [ENV_EXAMPLE_SESSION_SECRET, /placeholder/],
    ['short-but-random-9f3k', /too short/],
    ['abababababababababababababababababab', /fewer than 10 distinct/],
  ])('refuses the weak production secret %#, without echoing it', (secret, reason) => {
    const problems = problemsOf({ ...PROD_BASE, SESSION_SECRET: secret });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(reason);
    expect(problems.join('\n')).not.toContain(secret);
  });

  it('accepts a strong production configuration', () => {
    const { config } = loadConfig(PROD_BASE);
    expect(config.app.isProduction).toBe(true);
    expect(config.resilience.shutdown.drainDelayMs).toBe(5000);
  });

  it('reports every invalid variable at once and never quotes secret values', () => {
    const problems = problemsOf({ ...PROD_BASE, PORT: 'eighty', DB_POOL_SIZE: '0', DATABASE_URL: 'mysql://u:hunter2@x/y' });
    expect(problems.some((p) => p.startsWith('PORT'))).toBe(true);
    expect(problems.some((p) => p.startsWith('DB_POOL_SIZE'))).toBe(true);
    expect(problems.some((p) => p.startsWith('DATABASE_URL'))).toBe(true);
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('refuses several workers without Redis, since in-process sessions cannot be shared', () => {
    expect(problemsOf({ WORKERS: '2' }).join()).toMatch(/WORKERS > 1 needs REDIS_URL/);
    expect(problemsOf({ WORKERS: '2', REDIS_URL: 'redis://127.0.0.1:6379' })).toEqual([]);
  });

  it('refuses test hooks in production', () => {
    expect(problemsOf({ ...PROD_BASE, ENABLE_TEST_HOOKS: 'true' }).join()).toMatch(/ENABLE_TEST_HOOKS/);
  });

  it('PUBLIC_ORIGIN: an http(s) origin only, stored in its serialised form', () => {
    expect(loadConfig({ PUBLIC_ORIGIN: 'https://Dash.Example.com:443/' }).config.security.publicOrigin).toBe('https://dash.example.com');
    expect(loadConfig({ PUBLIC_ORIGIN: 'http://127.0.0.1:8080' }).config.security.publicOrigin).toBe('http://127.0.0.1:8080');
    expect(loadConfig({}).config.security.publicOrigin).toBeNull();
    for (const bad of ['dash.example.com', 'ftp://dash.example.com', 'ws://dash.example.com', 'https://dash.example.com/app', 'https://dash.example.com?x=1', 'https://u:pw@dash.example.com', 'https://dash.example.com#x']) {
      expect(problemsOf({ PUBLIC_ORIGIN: bad }).join(), bad).toMatch(/^PUBLIC_ORIGIN is invalid/);
    }
  });

  it('ALLOWED_HOSTS: names without ports, normalised, plus the host of PUBLIC_ORIGIN', () => {
    expect(loadConfig({}).config.security.allowedHosts).toEqual(['localhost']);
    expect(loadConfig({ ALLOWED_HOSTS: ' Dash.Example.com. , rampart ', PUBLIC_ORIGIN: 'https://public.example.com' }).config.security.allowedHosts).toEqual([
      'dash.example.com',
      'rampart',
      'public.example.com',
    ]);
    for (const bad of ['dash.example.com:443', 'https://dash.example.com', '*.example.com', 'a,,b', 'bad host']) {
      expect(problemsOf({ ALLOWED_HOSTS: bad }).join(), bad).toMatch(/^ALLOWED_HOSTS is invalid/);
    }
  });

  it('API_DOCS: open outside production, off in production unless on, and then admin-only', () => {
    expect(loadConfig({}).config.app.apiDocs).toBe('open');
    expect(loadConfig({ API_DOCS: 'off' }).config.app.apiDocs).toBe('off');
    expect(loadConfig(PROD_BASE).config.app.apiDocs).toBe('off');
    expect(loadConfig({ ...PROD_BASE, API_DOCS: 'on' }).config.app.apiDocs).toBe('admin');
    expect(problemsOf({ API_DOCS: 'yes' }).join()).toMatch(/^API_DOCS is invalid/);
  });

  it('turns health caching off under NODE_ENV=test unless set', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).config.health.cacheMs).toBe(0);
    expect(loadConfig({ NODE_ENV: 'test', HEALTH_CACHE_MS: '250' }).config.health.cacheMs).toBe(250);
    expect(loadConfig({}).config.health.cacheMs).toBe(5000);
  });
});

describe(sessionSecretWeakness.name, () => {
  it('passes a long random secret', () => {
    expect(sessionSecretWeakness(STRONG)).toBeNull();
  });
});
