import type { PgBoss } from 'pg-boss';

export const DELIVER_QUEUE = 'deliver';

export interface DeliverJob {
  group_id: string;
}

/**
 * Asks for a run of the group's delivery job. The deliver queue is `stately` keyed by
 * group: at most one run is active and one waits, so a wake-up while one waits is free.
 * `at` defers the run (a retry's next attempt); an immediate wake-up pulls a waiting,
 * deferred run forward, so new events never wait behind a retry's backoff.
 */
export async function wakeGroup(boss: PgBoss, groupId: string, at?: Date): Promise<void> {
  const data: DeliverJob = { group_id: groupId };
  if (at && at.getTime() > Date.now()) {
    await boss.send(DELIVER_QUEUE, data, { singletonKey: groupId, startAfter: at });
    return;
  }
  await boss.upsert(DELIVER_QUEUE, data, { singletonKey: groupId, startAfter: new Date() });
}
