import { describe, expect, it } from 'vitest';
import { statementName } from './statement-name.js';

describe(statementName.name, () => {
  it('takes the leading comment as the name', () => {
    expect(statementName('/* lots.get */ SELECT id FROM lots WHERE id = $1')).toBe('lots.get');
  });

  it('derives verb and first table otherwise', () => {
    expect(statementName('SELECT id FROM lots WHERE id = $1')).toBe('select_lots');
    expect(statementName('  INSERT INTO lot_notes (a) VALUES ($1)')).toBe('insert_lot_notes');
    expect(statementName('UPDATE users SET disabled = true')).toBe('update_users');
    expect(statementName('BEGIN')).toBe('begin');
    expect(statementName('SELECT 1')).toBe('select');
    expect(statementName('SELECT pg_try_advisory_xact_lock($1::int, hashtext($2)) AS locked')).toBe('select_pg_try_advisory_xact_lock');
  });

  it('never lets a comment become an unbounded or odd label', () => {
    expect(statementName("/* robert'); DROP TABLE x; -- */ SELECT 1 FROM lots")).toBe('select_lots');
  });

  it('caps the number of distinct names', () => {
    for (let i = 0; i < 150; i += 1) statementName(`SELECT 1 FROM table_${i}`);
    expect(statementName('SELECT 1 FROM one_more_table')).toBe('other');
    expect(statementName('SELECT id FROM lots WHERE id = $1')).toBe('select_lots');
  });
});
