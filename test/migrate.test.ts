import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { expect, inject, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { migrate, migrationsFolder } from '../src/db/migrate.ts';
import { withDatabase } from './helpers/global-setup.ts';

it('migrates an empty database safely when several processes start at once', async () => {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `eventflow_migrate_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = withDatabase(adminUrl, name);
  try {
    await Promise.all(Array.from({ length: 4 }, () => migrate(url)));
    await migrate(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const applied = await client.query('select count(*)::int as n from drizzle.__drizzle_migrations');
      const journal = JSON.parse(await readFile(path.join(migrationsFolder, 'meta/_journal.json'), 'utf8'));
      expect(applied.rows[0].n).toBe(journal.entries.length);
      const tables = await client.query(
        `select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
      );
      expect(tables.rows.map((row: { table_name: string }) => row.table_name)).toEqual([
        'api_keys',
        'consumer_group_secrets',
        'consumer_groups',
        'consumer_offsets',
        'dead_letter_events',
        'delivery_attempts',
        'delivery_retries',
        'event_streams',
        'events',
        'organizations',
        'sessions',
        'sign_in_failures',
        'users',
      ]);
      const queues = await client.query(`select name from pgboss.queue`);
      expect(queues.rows.map((row: { name: string }) => row.name)).toContain('dispatch');
    } finally {
      await client.end();
    }
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
});
