import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../config/env.js';
import { createRootLogger } from '../../observability/logger.js';
import { startEmbeddedPostgres } from '../embedded-postgres.js';
import { ENTITIES } from '../entities/index.js';
import { runMigrations } from '../migrate.js';
import { guardedClientClass, keepAliveOptions } from '../pg-client.js';
import { seedDemoData } from './seeder.js';

// `npm run seed -- --lots 100000`: same data for the same --lots, against DATABASE_URL or the
// embedded database under DATA_DIR.
const { values } = parseArgs({ options: { lots: { type: 'string', default: '200' }, events: { type: 'string', default: '10' } } });
const lots = Number(values.lots);
const events = Number(values.events);
if (!Number.isInteger(lots) || lots < 0 || !Number.isInteger(events) || events < 0) {
  process.stderr.write('seed: --lots and --events take whole numbers\n');
  process.exit(64);
}
const { config } = loadConfig(process.env);
const logger = createRootLogger({ level: config.app.logLevel });
const embedded = config.database.url ? null : await startEmbeddedPostgres({ dataDir: config.app.dataDir, port: 0, logger });
const url = config.database.url ?? embedded!.url;
try {
  await runMigrations({ url, connectTimeoutMs: config.database.connectTimeoutMs, keepAliveIdleMs: config.database.keepAliveIdleMs, logger });
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    extra: {
      application_name: 'rampart:seed',
      max: 1,
      ...keepAliveOptions(config.database.keepAliveIdleMs),
      // A dropped link fails the seed with its cause rather than as an unhandled 'error' event.
      Client: guardedClientClass((error) => logger.warn({ err: error }, 'seed connection failed')),
    },
  });
  await dataSource.initialize();
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    // Large seeds take a while; say it is still going.
    timer = setInterval(() => logger.info({ elapsedS: Math.round((Date.now() - started) / 1000) }, 'seeding…'), 5000);
    const result = await dataSource.transaction((manager) => seedDemoData(manager, lots, events));
    logger.info({ ...result, ms: Date.now() - started }, 'seed complete');
  } finally {
    clearInterval(timer);
    await dataSource.destroy();
  }
} finally {
  await embedded?.stop();
}
