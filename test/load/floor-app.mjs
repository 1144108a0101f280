// The benchmark's floor (issue 17): a bare NestJS app whose authenticated JSON route does only
// the Redis work the contract makes unavoidable, as cheaply as it can be done: read the
// session and count the account's request, in one pipelined round trip (GET + INCR, no
// MULTI/EXEC, no script). The account is the session's user, which only the session names: the
// session id's user is remembered in-process after its first read (one extra round trip per
// session), which nothing in a real service could rely on. A yardstick, never shipped.
//   GET /api/auth/me   cookie sid=<id> -> {user} from the session JSON, 401 without one
// Env: PORT, REDIS_URL, KEY_PREFIX (sessions at <prefix>sess:<id>, counters at <prefix>rl:<user id>).
// Plain JS, decorators applied as functions (see bare-app.mjs). Binds 127.0.0.1 only.
import 'reflect-metadata';
import { Controller, Get, Header, Req, UnauthorizedException, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';

const prefix = process.env.KEY_PREFIX ?? 'floor:';
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
redis.on('error', (error) => process.stderr.write(`redis: ${error.message}\n`));
const userOfSession = new Map();
const SID = /(?:^|;\s*)sid=([^;]+)/;

class FloorController {
  async me(req) {
    const sid = SID.exec(req.headers.cookie ?? '')?.[1];
    if (sid === undefined) throw new UnauthorizedException();
    const key = `${prefix}sess:${sid}`;
    let raw;
    const known = userOfSession.get(sid);
    if (known === undefined) {
      raw = await redis.get(key);
    } else {
      const [[getError, value], [incrError]] = await redis.pipeline().get(key).incr(`${prefix}rl:${known}`).exec();
      if (getError || incrError) throw getError ?? incrError;
      raw = value;
    }
    if (raw === null) throw new UnauthorizedException();
    const session = JSON.parse(raw);
    if (session.user === undefined) throw new UnauthorizedException();
    if (known === undefined) {
      userOfSession.set(sid, session.user.id);
      await redis.incr(`${prefix}rl:${session.user.id}`);
    }
    return { user: session.user };
  }
}
const method = (name) => Object.getOwnPropertyDescriptor(FloorController.prototype, name);
Req()(FloorController.prototype, 'me', 0);
Header('Cache-Control', 'no-store')(FloorController.prototype, 'me', method('me'));
Get('me')(FloorController.prototype, 'me', method('me'));
Controller('api/auth')(FloorController);

class FloorModule {}
Module({ controllers: [FloorController] })(FloorModule);

const app = await NestFactory.create(FloorModule, { logger: ['error', 'warn'] });
await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.stdout.write(`floor app listening on ${await app.getUrl()}\n`);
process.on('SIGTERM', () => {
  void app
    .close()
    .then(() => redis.quit())
    .finally(() => process.exit(0));
});
