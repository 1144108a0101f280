import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../config/env.js';
import { createRootLogger } from '../../observability/logger.js';
import { startEmbeddedPostgres } from '../embedded-postgres.js';
import { ENTITIES } from '../entities/index.js';
import { runMigrations } from '../migrate.js';
import { guardedClientClass, keepAliveOptions } from '../pg-client.js';
import { type SeedProgress, seedDemoData } from './seeder.js';

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
    // Large seeds take a minute or two: say how far each table is (at most every 2 s, and
    // every 5 s at least, also while one statement such as the final ANALYZE runs).
    let loggedAt = 0;
    let phase = { table: '', startedAt: started };
    let lastProgressAt = started;
    const report = (progress?: SeedProgress) => {
      loggedAt = Date.now();
      const elapsedS = Math.round((loggedAt - started) / 1000);
      if (!progress) return logger.info({ elapsedS }, 'seeding…');
      const rowsPerS = Math.round(progress.done / Math.max(0.001, (loggedAt - phase.startedAt) / 1000));
      const percent = Math.floor((100 * progress.done) / Math.max(1, progress.total));
      logger.info({ ...progress, percent, rowsPerS, elapsedS }, 'seeding…');
    };
    timer = setInterval(() => Date.now() - loggedAt >= 5000 && report(), 1000);
    const result = await dataSource.transaction((manager) =>
      seedDemoData(manager, lots, events, (progress) => {
        // A table's rate counts from the end of the previous table's last chunk.
        if (progress.table !== phase.table) phase = { table: progress.table, startedAt: phase.table ? lastProgressAt : started };
        lastProgressAt = Date.now();
        if (Date.now() - loggedAt >= 2000 || progress.done === progress.total) report(progress);
      }),
    );
    logger.info({ ...result, ms: Date.now() - started }, 'seed complete');
  } finally {
    clearInterval(timer);
    await dataSource.destroy();
  }
} finally {
  await embedded?.stop();
}
