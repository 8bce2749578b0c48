import { z } from 'zod';

const booleanFromEnv = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

/** The environment EventFlow reads, as one schema: the only reader of process.env. */
const envSchema = z.object({
  DATABASE_URL: z.url().optional(),
  EVENTFLOW_DATA_DIR: z.string().min(1).default('./.eventflow'),
  EVENTFLOW_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  EVENTFLOW_ROLE: z.enum(['api', 'worker', 'all']).default('all'),
  EVENTFLOW_ADMIN_TOKEN: z.string().min(16).optional(),
  /** 32 bytes, base64: encrypts webhook secrets at rest. Unset: generated in the data dir. */
  EVENTFLOW_SECRET_KEY: z
    .string()
    .refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes, base64-encoded')
    .optional(),
  INGEST_RATE_LIMIT: z.coerce.number().positive().optional(),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  MAX_PAYLOAD_BYTES: z.coerce.number().int().min(1).default(262_144),
  WEBHOOK_ALLOW_PRIVATE: booleanFromEnv.default(false),
  /** Delivery attempts older than this are deleted (dead letters keep their own record). */
  DELIVERY_ATTEMPT_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = Readonly<z.infer<typeof envSchema>>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}
