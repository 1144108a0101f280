// The benchmark's peer (issue 17): what a NestJS engineer assembles from the field's standard
// libraries for Rampart's authenticated JSON route. A yardstick, never shipped.
//   helmet; express-session + connect-redis (node-redis) sessions; csrf-sync; @nestjs/throttler
//   with @nest-lab/throttler-storage-redis (ioredis), keyed by the session's user; nestjs-pino
//   access log to a file; a prom-client RED histogram; an auth guard on the session.
// Routes (the same flow and shapes as Rampart's):
//   GET  /api/auth/csrf   {token}, starts a session (csrf-sync's synchroniser token)
//   POST /api/auth/login  {username, password} -> {user}; X-CSRF-Token required
//   GET  /api/auth/me     {user}, Cache-Control: no-store (the benchmarked route)
// Plain JS: the decorators are applied as the functions they are (what tsc's __decorate does).
// Env: PORT, REDIS_URL, KEY_PREFIX (every key under it), SESSION_SECRET, PEER_PASSWORD,
// PEER_USER (the JSON of the user /api/auth/me answers, Rampart's own), ACCESS_LOG (file).
// Binds 127.0.0.1 only.
import 'reflect-metadata';
import { Body, Controller, Get, Header, HttpCode, Inject, Injectable, Module, Post, Req, SetMetadata, UnauthorizedException } from '@nestjs/common';
import { APP_GUARD, NestFactory, Reflector } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { RedisStore } from 'connect-redis';
import { csrfSync } from 'csrf-sync';
import session from 'express-session';
import helmet from 'helmet';
import { Redis } from 'ioredis';
import { Logger, LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import client from 'prom-client';
import { createClient } from 'redis';

const env = (name, fallback) => process.env[name] ?? fallback;
const prefix = env('KEY_PREFIX', 'peer:');
const user = JSON.parse(env('PEER_USER', '{"id":1,"username":"admin","role":"admin"}'));
const password = env('PEER_PASSWORD', 'peer');

const sessionRedis = createClient({ url: env('REDIS_URL', 'redis://127.0.0.1:6379') });
sessionRedis.on('error', (error) => process.stderr.write(`session redis: ${error.message}\n`));
await sessionRedis.connect();
const throttlerRedis = new Redis(env('REDIS_URL', 'redis://127.0.0.1:6379'), { keyPrefix: `${prefix}throttle:` });
throttlerRedis.on('error', (error) => process.stderr.write(`throttler redis: ${error.message}\n`));

const { csrfSynchronisedProtection, generateToken } = csrfSync();
const registry = new client.Registry();
const httpDuration = new client.Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP requests by method, route and status',
  labelNames: ['method', 'route', 'status_code'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

const PUBLIC = 'peer:public';

class AuthGuard {
  constructor(reflector) {
    this.reflector = reflector;
  }

  canActivate(context) {
    if (this.reflector.get(PUBLIC, context.getHandler())) return true;
    if (context.switchToHttp().getRequest().session?.user === undefined) throw new UnauthorizedException();
    return true;
  }
}
Inject(Reflector)(AuthGuard, undefined, 0);
Injectable()(AuthGuard);

class AuthController {
  csrf(req) {
    return { token: generateToken(req) };
  }

  login(req, body) {
    if (body?.username !== user.username || body?.password !== password) throw new UnauthorizedException();
    // Session fixation: a fresh id on login, as every guide says.
    return new Promise((resolve, reject) =>
      req.session.regenerate((error) => {
        if (error) return reject(error);
        req.session.user = user;
        req.session.save((saveError) => (saveError ? reject(saveError) : resolve({ user })));
      }),
    );
  }

  me(req) {
    return { user: req.session.user };
  }
}
const method = (name) => Object.getOwnPropertyDescriptor(AuthController.prototype, name);
SetMetadata(PUBLIC, true)(AuthController.prototype, 'csrf', method('csrf'));
Header('Cache-Control', 'no-store')(AuthController.prototype, 'csrf', method('csrf'));
Req()(AuthController.prototype, 'csrf', 0);
Get('csrf')(AuthController.prototype, 'csrf', method('csrf'));
SetMetadata(PUBLIC, true)(AuthController.prototype, 'login', method('login'));
Req()(AuthController.prototype, 'login', 0);
Body()(AuthController.prototype, 'login', 1);
HttpCode(200)(AuthController.prototype, 'login', method('login'));
Post('login')(AuthController.prototype, 'login', method('login'));
Header('Cache-Control', 'no-store')(AuthController.prototype, 'me', method('me'));
Req()(AuthController.prototype, 'me', 0);
Get('me')(AuthController.prototype, 'me', method('me'));
Controller('api/auth')(AuthController);

class PeerModule {}
Module({
  imports: [
    LoggerModule.forRoot({ pinoHttp: [{ level: 'info' }, pino.destination({ dest: env('ACCESS_LOG', '/dev/null'), sync: false })] }),
    ThrottlerModule.forRoot({
      throttlers: [{ name: 'account', ttl: 60_000, limit: Number(env('ACCOUNT_PER_MIN', '100000000')) }],
      storage: new ThrottlerStorageRedisService(throttlerRedis),
      // One budget per signed-in user; the auth guard runs first, so only users get here.
      getTracker: (req) => String(req.session?.user?.id ?? req.ip),
    }),
  ],
  controllers: [AuthController],
  providers: [
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_GUARD, useClass: ThrottlerGuard },
  ],
})(PeerModule);

const app = await NestFactory.create(PeerModule, { bufferLogs: true });
app.useLogger(app.get(Logger));
app.use(helmet());
app.use((req, res, next) => {
  const end = httpDuration.startTimer();
  res.on('finish', () => end({ method: req.method, route: req.route?.path ?? 'unmatched', status_code: res.statusCode }));
  next();
});
app.use(
  session({
    store: new RedisStore({ client: sessionRedis, prefix: `${prefix}sess:` }),
    name: 'sid',
    secret: env('SESSION_SECRET', 'peer-secret'),
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 30 * 60_000 },
  }),
);
app.use(csrfSynchronisedProtection);
await app.listen(Number(env('PORT', '0')), '127.0.0.1');
process.stdout.write(`peer app listening on ${await app.getUrl()}\n`);
process.on('SIGTERM', () => {
  void app
    .close()
    .then(() => Promise.allSettled([sessionRedis.quit(), throttlerRedis.quit()]))
    .finally(() => process.exit(0));
});
