import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Answers remembered per user and Idempotency-Key (CONTRACT.md, "Idempotency"). A row is written
 * in the same transaction as the work it answers for, so a stored write always has its key and a
 * rolled-back one never does. `state` is always 'completed' in a committed row: a request still
 * running holds a transaction-scoped advisory lock instead of a row, so a crash can never strand
 * a key "in progress".
 */
export class IdempotencyKeys1764460000000 implements MigrationInterface {
  name = 'IdempotencyKeys1764460000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE idempotency_keys (
        user_id int NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        key text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 128),
        fingerprint text NOT NULL,
        state text NOT NULL DEFAULT 'completed' CHECK (state IN ('completed')),
        status int NOT NULL,
        response jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, key)
      );
      -- The retention purge deletes by age.
      CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE IF EXISTS idempotency_keys');
  }
}
