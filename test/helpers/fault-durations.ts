/**
 * How long the long faults last. `npm test` keeps them short (same code paths, a fast
 * suite); `npm run test:faults` runs them at the lengths: the database gone for
 * 30 s, a receiver down for 2 minutes.
 */
export const DATABASE_OUTAGE_MS = Number(process.env.EVENTFLOW_TEST_DATABASE_OUTAGE_MS ?? 3_000);
export const RECEIVER_OUTAGE_MS = Number(process.env.EVENTFLOW_TEST_RECEIVER_OUTAGE_MS ?? 0);
