#!/usr/bin/env node
// What the security layer costs per request, measured in one run on this machine (issue 5,
// item 6). Not part of `npm test`; needs `npm run build`, PostgreSQL on 127.0.0.1:5432 and
// Redis on 127.0.0.1:6379 (a fresh database and a unique key prefix, both removed afterwards).
//
//  1. HTTP: the same small authenticated JSON answer, with and without the security layer:
//       on:  Rampart (dist) GET /api/auth/me with an admin session cookie: security headers and
//            a fresh CSP nonce, client IP from TRUSTED_PROXIES, the session read from Redis,
//            the access guard, and the per-account limit counted in Redis (budget set high so
//            it counts every request but refuses none);
//       off: test/load/bare-app.mjs GET /bench/json, a bare NestJS app returning the same JSON.
//     The bare app also lacks Rampart's request logging, metrics and correlation ids, so the
//     ratio is a bound on the security layer's cost, not an exact share of it.
//  2. Counter storage, in process: per-hit cost of @nestjs/throttler's default storage and of
//     ours (memory) as hits pile up in one 60 s window, the reason the default is not used.
//
// autocannon on 127.0.0.1 only; every phase is bounded in time. Usage:
//   npm run build && node test/load/security-cost.mjs [--duration 8] [--warmup 2] [--connections 20]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ThrottlerStorageService } from '@nestjs/throttler';
import autocannon from 'autocannon';
import { MemoryRateLimitStore } from '../../dist/src/security/rate-limit/memory-rate-limit.store.js';
import { createScratchDatabase, fmt, scratchRedisPrefix, freePort, onCleanup, requireBuild, runMain, sleep, spawnNode } from './lib/common.mjs';
import { parseJson, VirtualUser } from './lib/http-client.mjs';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '20' },
    'pg-url': { type: 'string', default: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string', default: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});
const duration = Math.min(60, Number(opts.duration));
const warmup = Math.min(10, Number(opts.warmup));
const connections = Number(opts.connections);
const log = (line) => process.stdout.write(`${line}\n`);



async function cannon(label, url, headers = {}) {
  const result = await autocannon({ url, connections, duration, headers, warmup: warmup > 0 ? { connections, duration: warmup } : undefined });
  const bad = result.non2xx + result.errors + result.timeouts;
  log(`  ${label.padEnd(40)} ${fmt(result.requests.average, 0).padStart(7)} req/s  p50 ${fmt(result.latency.p50)} ms  p99 ${fmt(result.latency.p99)} ms${bad > 0 ? `  (non-2xx ${result.non2xx}, errors ${result.errors})` : ''}`);
  if (bad > result.requests.total / 100) throw new Error(`${label}: ${bad} failed requests; the measurement is not of the route`);
  return result.requests.average;
}

/** Mean microseconds per `increment` over `n` hits of one key. */
async function perHitUs(store, key, n) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i += 1) await store.increment(key, 60_000, 1e9, 60_000, 'account');
  return Number(process.hrtime.bigint() - started) / 1000 / n;
}

async function storageCost() {
  log('\ncounter storage, one key, 60 s window (us per hit after N hits in the window):');
  const stores = { '@nestjs/throttler default': new ThrottlerStorageService(), 'Rampart memory store': new MemoryRateLimitStore() };
  const checkpoints = [1_000, 10_000, 50_000];
  const rows = {};
  for (const [name, store] of Object.entries(stores)) {
    let seen = 0;
    rows[name] = [];
    for (const target of checkpoints) {
      const deadline = Date.now() + 20_000;
      while (seen < target - 500 && Date.now() < deadline) {
        const batch = Math.min(1000, target - 500 - seen);
        await perHitUs(store, 'hot', batch);
        seen += batch;
      }
      rows[name].push(await perHitUs(store, 'hot', 500));
      seen += 500;
    }
    store.onApplicationShutdown?.();
  }
  log(`  ${'hits so far'.padEnd(28)} ${checkpoints.map((c) => String(c).padStart(10)).join('')}`);
  for (const [name, values] of Object.entries(rows)) log(`  ${name.padEnd(28)} ${values.map((v) => fmt(v, 2).padStart(10)).join('')}`);
}

async function main() {
  requireBuild();
  const dir = mkdtempSync(join(tmpdir(), 'rampart-seccost-'));
  onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const { url: databaseUrl } = await createScratchDatabase(opts['pg-url'], 'rampart_seccost');
  const adminPassword = `cost-${randomBytes(12).toString('base64url')}`;

  const port = await freePort();
  log('starting Rampart (full stack) and the bare app...');
  const rampart = await spawnNode({
    env: {
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      REDIS_URL: opts['redis-url'],
      REDIS_KEY_PREFIX: await scratchRedisPrefix(opts['redis-url'], 'rseccost'),
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      ADMIN_BOOTSTRAP_PASSWORD: adminPassword,
      SEED_LOTS: '10',
      // Counted on every request, refused on none: the cost of counting is what is measured.
      RATE_LIMIT_ACCOUNT_PER_MIN: '100000000',
    },
    logFile: join(dir, 'rampart.log'),
    name: 'rampart',
  });
  const barePort = await freePort();
  const bare = await spawnNode({
    script: join('test', 'load', 'bare-app.mjs'),
    env: { PORT: String(barePort), DATABASE_URL: databaseUrl, POOL_MAX: '2' },
    logFile: join(dir, 'bare.log'),
    name: 'bare app',
    readyPattern: /bare app listening/,
  });
  const rampartUrl = `http://127.0.0.1:${port}`;
  const bareUrl = `http://127.0.0.1:${barePort}`;

  const user = new VirtualUser(rampartUrl);
  const pre = await user.request('GET', '/api/auth/csrf');
  user.csrfToken = parseJson('csrf', pre).token;
  const login = await user.request('POST', '/api/auth/login', { json: { username: 'admin', password: adminPassword } });
  if (login.status !== 200) throw new Error(`login answered ${login.status}: ${login.body.slice(0, 200)}`);
  const cookie = user.cookieHeader();
  user.close();
  const check = await fetch(`${rampartUrl}/api/auth/me`, { headers: { cookie } });
  if (check.status !== 200 || !check.headers.get('ratelimit')) throw new Error(`GET /api/auth/me answered ${check.status} without RateLimit fields`);

  await sleep(1000);
  log(`\nsame JSON answer, ${connections} connections, ${warmup} s warm-up + ${duration} s each:`);
  const off = await cannon('security off: bare GET /bench/json', `${bareUrl}/bench/json`);
  const on = await cannon('security on:  Rampart GET /api/auth/me', `${rampartUrl}/api/auth/me`, { cookie });
  log(`  ratio on/off: ${fmt(on / off, 2)}x`);
  await bare.stop();
  await rampart.stop();

  await storageCost();
  return 0;
}

runMain(main);
