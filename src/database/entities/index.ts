import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type EquipmentState = 'run' | 'idle' | 'down' | 'maint';
export type LotStatus = 'queued' | 'running' | 'hold' | 'done';
export type Role = 'viewer' | 'operator' | 'admin';

export const LOT_STATUSES: readonly LotStatus[] = ['queued', 'running', 'hold', 'done'];
export const EQUIPMENT_STATES: readonly EquipmentState[] = ['run', 'idle', 'down', 'maint'];
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];


@Entity({ name: 'stations' })
export class Station {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'text', unique: true }) code!: string;
  @Column({ type: 'text' }) name!: string;
}

@Entity({ name: 'equipment' })
export class Equipment {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ name: 'station_id', type: 'int' }) stationId!: number;
  @Column({ type: 'text', unique: true }) code!: string;
  @Column({ type: 'text' }) state!: EquipmentState;
  @Column({ name: 'state_since', type: 'timestamptz' }) stateSince!: Date;
}

@Entity({ name: 'lots' })
export class Lot {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'text', unique: true }) code!: string;
  @Column({ type: 'text' }) product!: string;
  @Column({ name: 'station_id', type: 'int' }) stationId!: number;
  @Column({ type: 'text' }) status!: LotStatus;
  @Column({ type: 'int' }) priority!: number;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

@Entity({ name: 'lot_events' })
@Index(['lotId', 'at'])
export class LotEvent {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'lot_id', type: 'int' }) lotId!: number;
  @Column({ type: 'timestamptz' }) at!: Date;
  @Column({ type: 'text' }) kind!: string;
  @Column({ name: 'station_id', type: 'int' }) stationId!: number;
  @Column({ type: 'jsonb' }) payload!: Record<string, unknown>;
}

@Entity({ name: 'lot_notes' })
export class LotNote {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'lot_id', type: 'int' }) lotId!: number;
  @Column({ name: 'author_id', type: 'int' }) authorId!: number;
  @Column({ type: 'text' }) text!: string;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity({ name: 'users' })
export class User {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'text', unique: true }) username!: string;
  @Column({ name: 'password_hash', type: 'text', select: false }) passwordHash!: string;
  @Column({ type: 'text' }) role!: Role;
  @Column({ type: 'boolean', default: false }) disabled!: boolean;
  @Column({ type: 'text', default: 'local' }) source!: 'local' | 'ldap';
  @Column({ name: 'directory_dn', type: 'text', nullable: true }) directoryDn!: string | null;
  @Column({ name: 'must_change_password', type: 'boolean', default: false }) mustChangePassword!: boolean;
  @Column({ name: 'previous_password_hash', type: 'text', nullable: true, select: false }) previousPasswordHash!: string | null;
  @Column({ name: 'password_changed_at', type: 'timestamptz', nullable: true }) passwordChangedAt!: Date | null;
  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true }) lastLoginAt!: Date | null;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

@Entity({ name: 'admin_audit_log' })
export class AdminAuditEntry {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ type: 'timestamptz' }) at!: Date;
  @Column({ name: 'actor_id', type: 'int', nullable: true }) actorId!: number | null;
  @Column({ type: 'text' }) action!: string;
  @Column({ type: 'text', nullable: true }) reason!: string | null;
  @Column({ type: 'text' }) outcome!: string;
  @Column({ name: 'correlation_id', type: 'text', nullable: true }) correlationId!: string | null;
  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" }) details!: Record<string, unknown>;
}

export const ENTITIES = [Station, Equipment, Lot, LotEvent, LotNote, User, AdminAuditEntry];
