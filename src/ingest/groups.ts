import { sql } from 'drizzle-orm';
import type { Database, Transaction } from '../db/client.ts';
import type { DeliverySettings } from '../db/schema.ts';
import { notFound } from '../errors.ts';
import { GROUP_CHANNEL } from '../channels.ts';

export type GroupRow = {
  id: string;
  name: string;
  webhook_url: string;
  event_types: string[];
  status: 'active' | 'paused';
  delivery: DeliverySettings;
  created_at: string;
  updated_at: string;
};

/** The group as the API shows it: with each stream's watermark and lag, and pending dead letters. */
export async function readGroups(db: Database  , organizationId: string, options: { id?: string; after?: string; limit?: number }) {
  const { rows } = await db.execute<
    GroupRow & { offsets: { stream: string; committed_seq: number; last_seq: number }[]; dead_letters_pending: number }
  >(sql`
    select g.id, g.name, g.webhook_url, g.event_types, g.status, g.delivery, g.created_at, g.updated_at,
      coalesce((select json_agg(json_build_object('stream', s.name, 'committed_seq', o.committed_seq, 'last_seq', s.last_seq) order by s.name)
        from consumer_offsets o join event_streams s on s.id = o.stream_id where o.group_id = g.id), '[]') as offsets,
      (select count(*)::int from dead_letter_events d where d.group_id = g.id and d.status = 'pending') as dead_letters_pending
    from consumer_groups g
    where g.organization_id = ${organizationId} and g.deleted_at is null
      ${options.id ? sql`and g.id = ${options.id}` : sql``}
      ${options.after ? sql`and g.id > ${options.after}` : sql``}
    order by g.id
    limit ${options.limit ?? 1}`);
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    streams: row.offsets.map((offset) => offset.stream),
    webhook_url: row.webhook_url,
    event_types: row.event_types,
    status: row.status,
    delivery: row.delivery,
    offsets: row.offsets.map((offset) => ({ ...offset, lag: offset.last_seq - offset.committed_seq })),
    dead_letters_pending: row.dead_letters_pending,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  }));
}

export type GroupView = Awaited<ReturnType<typeof readGroups>>[number];

export async function readGroup(db: Database  , organizationId: string, id: string): Promise<GroupView> {
  const [group] = await readGroups(db, organizationId, { id });
  if (!group) throw notFound('consumer group');
  return group;
}

/** Tells delivery runs in every worker process that the group changed (see GroupSignals). */
export async function signalGroupChange(tx: Transaction, groupId: string): Promise<void> {
  await tx.execute(sql`select pg_notify(${GROUP_CHANNEL}, ${groupId})`);
}

/** Locks the group row for a change; another organization's group is not found. */
export async function lockGroup(tx: Transaction, organizationId: string, id: string): Promise<GroupRow> {
  const { rows } = await tx.execute<GroupRow>(sql`
    select id, name, webhook_url, event_types, status, delivery, created_at, updated_at from consumer_groups
    where id = ${id} and organization_id = ${organizationId} and deleted_at is null for update`);
  if (!rows[0]) throw notFound('consumer group');
  return rows[0];
}
