import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import type { SqlClient } from '../database/pool-manager.js';

export interface AuditEntry {
  id: number;
  at: string;
  actorId: number | null;
  actor: string | null;
  action: string;
  reason: string | null;
  outcome: string;
  correlationId: string | null;
  details: Record<string, unknown>;
}

export interface NewAuditEntry {
  actorId: number | null;
  action: string;
  reason: string | null;
  outcome: string;
  correlationId: string | null;
  details?: Record<string, unknown>;
}

interface AuditRow {
  id: string;
  at: Date;
  actor_id: number | null;
  username: string | null;
  action: string;
  reason: string | null;
  outcome: string;
  correlation_id: string | null;
  details: Record<string, unknown>;
}

/**
 * The one INSERT of an audit row, also for programs without the app (the `users` command line,
 * whose rows have no actor id and carry `details.actor`).
 */
export async function insertAuditRow(sql: SqlClient, entry: NewAuditEntry): Promise<number> {
  const rows = await sql.query<{ id: string }>(
    `/* audit.insert */ INSERT INTO admin_audit_log (actor_id, action, reason, outcome, correlation_id, details)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [entry.actorId, entry.action, entry.reason, entry.outcome, entry.correlationId, JSON.stringify(entry.details ?? {})],
  );
  return Number(rows[0]!.id);
}

/**
 * The append-only operator audit trail. An action and its outcome are two rows: rows are never
 * updated (a database trigger refuses it), so what was requested stays on record even when
 * the process dies before the outcome is known.
 */
@Injectable()
export class AuditLogService {
  constructor(private readonly db: DatabaseService) {}

  append(entry: NewAuditEntry): Promise<number> {
    return this.db.run((m) => insertAuditRow(m, entry));
  }

  /** Newest first; `before` is an entry id for the next page. */
  async list(limit: number, before: number | null): Promise<AuditEntry[]> {
    const rows = (await this.db.run((m) =>
      m.query(
        `/* audit.list */ SELECT a.id, a.at, a.actor_id, COALESCE(u.username, a.details->>'actor') AS username, a.action, a.reason, a.outcome, a.correlation_id, a.details
         FROM admin_audit_log a LEFT JOIN users u ON u.id = a.actor_id
         WHERE ($1::bigint IS NULL OR a.id < $1)
         ORDER BY a.id DESC LIMIT $2`,
        [before, limit],
      ),
    )) as AuditRow[];
    return rows.map((r) => ({
      id: Number(r.id),
      at: r.at.toISOString(),
      actorId: r.actor_id,
      actor: r.username,
      action: r.action,
      reason: r.reason,
      outcome: r.outcome,
      correlationId: r.correlation_id,
      details: r.details,
    }));
  }
}
