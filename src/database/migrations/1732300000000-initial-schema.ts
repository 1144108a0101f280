import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The domain schema of DOMAIN.md. Indexes follow the queries the endpoints run. */
export class InitialSchema1732300000000 implements MigrationInterface {
  name = 'InitialSchema1732300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE stations (
        id serial PRIMARY KEY,
        code text NOT NULL UNIQUE,
        name text NOT NULL
      );
      CREATE TABLE equipment (
        id serial PRIMARY KEY,
        station_id int NOT NULL REFERENCES stations(id),
        code text NOT NULL UNIQUE,
        state text NOT NULL CHECK (state IN ('run','idle','down','maint')),
        state_since timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX equipment_station_idx ON equipment (station_id);
      CREATE TABLE lots (
        id serial PRIMARY KEY,
        code text NOT NULL UNIQUE,
        product text NOT NULL,
        station_id int NOT NULL REFERENCES stations(id),
        status text NOT NULL CHECK (status IN ('queued','running','hold','done')),
        priority int NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      -- keyset pagination by id, optionally filtered by status and/or station
      CREATE INDEX lots_status_id_idx ON lots (status, id);
      CREATE INDEX lots_station_id_idx ON lots (station_id, id);
      CREATE INDEX lots_station_status_idx ON lots (station_id, status);
      CREATE TABLE lot_events (
        id bigserial PRIMARY KEY,
        lot_id int NOT NULL REFERENCES lots(id),
        at timestamptz NOT NULL,
        kind text NOT NULL,
        station_id int NOT NULL REFERENCES stations(id),
        payload jsonb NOT NULL DEFAULT '{}'::jsonb
      );
      CREATE INDEX lot_events_lot_at_idx ON lot_events (lot_id, at DESC);
      CREATE TABLE users (
        id serial PRIMARY KEY,
        username text NOT NULL UNIQUE,
        password_hash text NOT NULL,
        role text NOT NULL CHECK (role IN ('viewer','operator','admin')),
        disabled boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE lot_notes (
        id bigserial PRIMARY KEY,
        lot_id int NOT NULL REFERENCES lots(id),
        author_id int NOT NULL REFERENCES users(id),
        text text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 2000),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX lot_notes_lot_created_idx ON lot_notes (lot_id, created_at DESC);
      CREATE TABLE admin_audit_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor_id int REFERENCES users(id),
        action text NOT NULL,
        reason text,
        outcome text NOT NULL,
        correlation_id text,
        details jsonb NOT NULL DEFAULT '{}'::jsonb
      );
      CREATE INDEX admin_audit_log_at_idx ON admin_audit_log (at DESC, id DESC);

      -- Append-only is enforced by the database, not by convention.
      CREATE FUNCTION admin_audit_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'admin_audit_log is append-only';
      END $$;
      CREATE TRIGGER admin_audit_log_no_update BEFORE UPDATE OR DELETE ON admin_audit_log
        FOR EACH ROW EXECUTE FUNCTION admin_audit_log_immutable();

      -- Realtime sync: lot and equipment changes are published on one channel.
      CREATE FUNCTION rampart_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- Bulk seeding sets this for its transaction; a notification per seeded row helps nobody.
        IF current_setting('rampart.silent', true) = 'on' THEN RETURN NEW; END IF;
        PERFORM pg_notify('rampart_events', json_build_object(
          'entity', TG_ARGV[0], 'op', lower(TG_OP), 'id', NEW.id,
          'status', CASE WHEN TG_ARGV[0] = 'lot' THEN to_jsonb(NEW)->>'status' ELSE to_jsonb(NEW)->>'state' END,
          'stationId', to_jsonb(NEW)->'station_id', 'lotId', to_jsonb(NEW)->'lot_id')::text);
        RETURN NEW;
      END $$;
      CREATE TRIGGER lots_notify AFTER INSERT OR UPDATE ON lots
        FOR EACH ROW EXECUTE FUNCTION rampart_notify_change('lot');
      CREATE TRIGGER equipment_notify AFTER INSERT OR UPDATE ON equipment
        FOR EACH ROW EXECUTE FUNCTION rampart_notify_change('equipment');
      CREATE TRIGGER lot_notes_notify AFTER INSERT ON lot_notes
        FOR EACH ROW EXECUTE FUNCTION rampart_notify_change('note');
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE IF EXISTS admin_audit_log, lot_notes, users, lot_events, lots, equipment, stations CASCADE;
      DROP FUNCTION IF EXISTS admin_audit_log_immutable();
      DROP FUNCTION IF EXISTS rampart_notify_change();
    `);
  }
}
