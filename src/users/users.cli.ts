import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { insertAuditRow } from '../admin/audit-log.service.js';
import { PasswordHasher } from '../auth/password-hasher.js';
import { ConfigError, loadConfig } from '../config/env.js';
import type { RampartConfig } from '../config/rampart-config.js';
import { AppException, NotFoundException } from '../core/errors/index.js';
import { findRunningEmbeddedPostgres, startEmbeddedPostgres } from '../database/embedded-postgres.js';
import { ROLES, type Role } from '../database/entities/index.js';
import { runMigrations } from '../database/migrate.js';
import { guardedClientClass, keepAliveOptions } from '../database/pg-client.js';
import type { SqlClient } from '../database/pool-manager.js';
import { createRootLogger } from '../observability/logger.js';
import { createRedisClient } from '../redis/redis-client.js';
import type { RevocationCause } from '../security/session/account-status.js';
import { RedisSessionBackend } from '../security/session/redis-session.backend.js';
import { SessionEvents } from '../security/session/session-events.js';
import { endReasonOf } from '../security/session/session-revocation.js';
import { generateOneTimePassword } from './one-time-password.js';
import {
  findUser,
  insertLocalUser,
  listUsers,
  normaliseUsername,
  resetPassword,
  setDisabled,
  setRole,
  type UserChange,
  USERNAME_PATTERN,
  type UserSummary,
} from './user-accounts.js';

/**
 * `npm run users -- <command>`: break-glass user management on the box, without the API (no
 * admin session needed), against DATABASE_URL or the embedded database under DATA_DIR (the
 * running app's when there is one, else started for the command and stopped after). The same
 * rules as the admin API (user-accounts.ts), audited with actor `cli`. A generated password is
 * written once to stdout and nowhere else; everything else goes to stderr.
 * Exit codes (sysexits.h): 0 done, 64 usage, 78 configuration, 1 refused or failed.
 */

const EX_USAGE = 64;
const EX_CONFIG = 78;
const REDIS_TIMEOUT_MS = 3000;

const USAGE = `usage: npm run users -- <command> [options]
  list                                   users by id (at most 1000)
  create <username> --role <role>        a local user with a one-time password (printed once)
  set-role <username> <role>             change a local user's role (ends their sessions)
  disable <username>                     no more sign-in; ends their sessions
  enable <username>
  reset-password <username>              a new one-time password (printed once; ends their sessions)
options: --reason <text>  recorded in the audit log (default: "cli <command>")
roles: ${ROLES.join(', ')}
`;

class UsageError extends Error {}

interface Invocation {
  command: 'list' | 'create' | 'set-role' | 'disable' | 'enable' | 'reset-password';
  username: string | null;
  role: Role | null;
  reason: string;
}

function parse(argv: string[]): Invocation {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { role: { type: 'string' }, reason: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) throw new UsageError('');
  const [command, username, roleArg, ...rest] = positionals;
  const known = ['list', 'create', 'set-role', 'disable', 'enable', 'reset-password'] as const;
  if (command === undefined || !(known as readonly string[]).includes(command)) throw new UsageError(command === undefined ? 'no command given' : `unknown command "${command}"`);
  const invocation: Invocation = { command: command as Invocation['command'], username: username ?? null, role: null, reason: values.reason ?? `cli ${command}` };
  if (invocation.reason.length < 3 || invocation.reason.length > 500) throw new UsageError('--reason takes 3 to 500 characters');
  const maxPositionals = command === 'list' ? 1 : command === 'set-role' ? 3 : 2;
  if (positionals.length > maxPositionals || rest.length > 0) throw new UsageError(`too many arguments for ${command}`);
  if (command === 'list') return invocation;
  if (username === undefined) throw new UsageError(`${command} needs a username`);
  const role = command === 'set-role' ? (roleArg ?? values.role) : values.role;
  if (command === 'create' || command === 'set-role') {
    if (role === undefined || !(ROLES as readonly string[]).includes(role)) throw new UsageError(`${command} needs a role (${ROLES.join(', ')})`);
    invocation.role = role as Role;
  } else if (values.role !== undefined) throw new UsageError(`${command} takes no role`);
  if (command === 'create' && !USERNAME_PATTERN.test(normaliseUsername(username))) throw new UsageError(`username must match ${USERNAME_PATTERN.source} (after lower-casing)`);
  return invocation;
}

function configOrExit(): RampartConfig {
  try {
    return loadConfig(process.env).config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`users: configuration error: ${problem}\n`);
    process.exit(EX_CONFIG);
  }
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`users: ${line}\n`);

async function main(): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parse(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
    if (error.message) err(error.message);
    process.stderr.write(USAGE);
    return EX_USAGE;
  }
  const config = configOrExit();
  // Diagnostics to stderr, never stdout: stdout carries the result (and a password) only.
  const logger = createRootLogger({ level: config.app.logLevel === 'debug' || config.app.logLevel === 'trace' ? config.app.logLevel : 'warn', destination: process.stderr });

  const running = config.database.url === null ? findRunningEmbeddedPostgres(config.app.dataDir) : null;
  const embedded = config.database.url === null && running === null ? await startEmbeddedPostgres({ dataDir: config.app.dataDir, port: 0, logger }) : null;
  const url = config.database.url ?? running?.url ?? embedded!.url;
  const client = new (guardedClientClass((error) => logger.warn({ err: error }, 'database connection failed')))({
    connectionString: url,
    application_name: 'rampart:cli',
    connectionTimeoutMillis: config.database.connectTimeoutMs,
    ...keepAliveOptions(config.database.keepAliveIdleMs),
  });
  try {
    await runMigrations({ url, connectTimeoutMs: config.database.connectTimeoutMs, keepAliveIdleMs: config.database.keepAliveIdleMs, logger });
    await client.connect();
    const sql: SqlClient = { query: async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[] };
    return await run(invocation, sql, config, logger);
  } finally {
    await client.end().catch(() => undefined);
    await embedded?.stop();
  }
}

async function transaction<T>(sql: SqlClient, work: () => Promise<T>): Promise<T> {
  await sql.query('BEGIN');
  try {
    const result = await work();
    await sql.query('COMMIT');
    return result;
  } catch (error) {
    await sql.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function run(invocation: Invocation, sql: SqlClient, config: RampartConfig, logger: ReturnType<typeof createRootLogger>): Promise<number> {
  if (invocation.command === 'list') {
    out(['id', 'username', 'source', 'role', 'state', 'must-change', 'last-login'].join('\t'));
    for (const u of await listUsers(sql, 1000, null)) {
      out([u.id, u.username, u.source, u.role, u.disabled ? 'disabled' : 'enabled', u.mustChangePassword ? 'yes' : 'no', u.lastLoginAt ?? 'never'].join('\t'));
    }
    return 0;
  }
  const username = invocation.username!;
  const correlationId = `cli-${randomUUID()}`;
  const base = { actorId: null, action: `user.${invocation.command === 'set-role' ? 'role' : invocation.command}`, reason: invocation.reason, correlationId };
  const actor = { actor: 'cli', osUser: safeOsUser() };
  const audit = (outcome: string, details: Record<string, unknown>) => insertAuditRow(sql, { ...base, outcome, details: { ...actor, username, ...details } });
  await audit('requested', invocation.role ? { role: invocation.role } : {});
  try {
    if (invocation.command === 'create') {
      const password = generateOneTimePassword();
      const hash = await new PasswordHasher().hash(password);
      const user = await transaction(sql, () => insertLocalUser(sql, username, invocation.role!, hash));
      await audit('created', { userId: user.id, role: user.role });
      out(`created ${user.username} (${user.role}, id ${user.id}); one-time password (shown once, must be changed at first sign-in):`);
      out(password);
      return 0;
    }
    const target = await findUser(sql, username);
    if (target === null) throw new NotFoundException(`No user named ${username}`);
    let change: UserChange;
    let password: string | null = null;
    let cause: RevocationCause | null = null;
    if (invocation.command === 'set-role') {
      change = await transaction(sql, () => setRole(sql, target.id, invocation.role!));
      cause = change.before.role !== change.after.role ? 'role_changed' : null;
    } else if (invocation.command === 'disable' || invocation.command === 'enable') {
      const disabled = invocation.command === 'disable';
      change = await transaction(sql, () => setDisabled(sql, target.id, disabled));
      cause = disabled ? 'disabled' : null;
    } else {
      password = generateOneTimePassword();
      const hash = await new PasswordHasher().hash(password);
      change = await transaction(sql, () => resetPassword(sql, target.id, hash));
      cause = 'password_changed';
    }
    const revocation = cause === null ? null : await revokeSessions(change.after, cause, config, logger);
    await audit(cause === null ? 'applied' : `applied; ${revocation!.summary}`, { userId: target.id, before: pick(change.before), after: pick(change.after) });
    out(`${change.after.username}: role ${change.after.role}, ${change.after.disabled ? 'disabled' : 'enabled'}${revocation ? `; ${revocation.summary}` : ''}`);
    if (revocation?.note) err(revocation.note);
    if (password !== null) {
      out('one-time password (shown once, must be changed at next sign-in):');
      out(password);
    }
    return 0;
  } catch (error) {
    const code = error instanceof AppException ? error.code : 'INTERNAL';
    const refused = error instanceof AppException && error.status < 500;
    await audit(`${refused ? 'refused' : 'failed'}: ${code}`, error instanceof AppException ? { message: error.message } : {}).catch(() => undefined);
    if (!(error instanceof AppException)) throw error;
    const details = error.details?.map((d) => `${d.path} ${d.message}`).join('; ');
    err(`${error.message}${details ? ` (${details})` : ''}`);
    return 1;
  }
}

/**
 * Ends the user's sessions in Redis and tells live streams, as the app's SessionRevocation
 * does. Without Redis (single-instance mode keeps sessions in the app's memory) or when it
 * cannot be reached, the change still takes effect: every request re-checks its user's row at
 * most ACCOUNT_FRESH_MS old, so the sessions end at their next request; live streams at their
 * next session check.
 */
async function revokeSessions(user: UserSummary, cause: RevocationCause, config: RampartConfig, logger: ReturnType<typeof createRootLogger>): Promise<{ summary: string; note?: string }> {
  const later = 'they end at their next request (the app re-checks the user within a second), live streams at their next session check (SSE_SESSION_CHECK_MS)';
  if (config.redis.url === null) return { summary: 'sessions end at their next request', note: `no REDIS_URL (sessions live in the app's memory): ${later}` };
  const redis = createRedisClient(config.redis.url, config.redis, logger);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${REDIS_TIMEOUT_MS} ms`)), REDIS_TIMEOUT_MS);
      }),
    ]);
    const revoked = await new RedisSessionBackend(redis.client, config.redis.keyPrefix).removeUser(user.id);
    const events = new SessionEvents(redis.client, `${config.redis.keyPrefix}session-events`, logger);
    events.publish({ kind: 'user', userId: user.id, reason: endReasonOf(cause) });
    // publish() does not wait; a PING after it is answered only once the PUBLISH was.
    await redis.client.ping();
    return { summary: `${revoked} session(s) revoked (${cause})` };
  } catch (error) {
    return { summary: 'sessions not revoked now (Redis unreachable)', note: `Redis unreachable (${(error as Error).message}): ${later}` };
  } finally {
    clearTimeout(timer);
    redis.stopWatching();
    redis.client.disconnect();
  }
}

function safeOsUser(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null;
  }
}

const pick = (u: UserSummary) => ({ role: u.role, disabled: u.disabled, mustChangePassword: u.mustChangePassword });

const finish = (code: number) => {
  process.exitCode = code;
  // Everything is closed by now; should a handle still hold the process, it ends anyway.
  setTimeout(() => process.exit(code), 2000).unref();
};
main().then(finish, (error: unknown) => {
  process.stderr.write(`users: failed: ${error instanceof Error ? error.message : String(error)}\n`);
  finish(1);
});
