import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Database } from '../../db/client.ts';
import { apiKeys } from '../../db/schema.ts';
import { EventFlowError, notFound } from '../../errors.ts';
import { organizationOf } from '../app.ts';
import { generateApiKey, type Authenticator } from '../auth.ts';
import { decodeCursor, toPage } from '../pagination.ts';
import {
  apiKeySchema,
  createApiKeySchema,
  createdApiKeySchema,
  idParamsSchema,
  listQuerySchema,
  pageOf,
  problemSchema,
} from '../schemas.ts';

type ApiKeyRow = typeof apiKeys.$inferSelect;

const present = (row: ApiKeyRow) => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  scopes: row.scopes,
  streams: row.streams,
  expires_at: row.expiresAt?.toISOString() ?? null,
  revoked_at: row.revokedAt?.toISOString() ?? null,
  last_used_at: row.lastUsedAt?.toISOString() ?? null,
  created_at: row.createdAt.toISOString(),
});

export const apiKeyRoutes: FastifyPluginAsyncZod<{ db: Database; authenticator: Authenticator }> = async (
  app,
  { db, authenticator },
) => {
  app.post(
    '/v1/api-keys',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Create an API key (the key is shown once)',
        tags: ['api-keys'],
        body: createApiKeySchema,
        response: { 201: createdApiKeySchema, 400: problemSchema },
      },
    },
    async (request, reply) => {
      const organizationId = organizationOf(request);
      const { name, scopes, streams, expires_at } = request.body;
      const expiresAt = expires_at ? new Date(expires_at) : null;
      if (expiresAt && expiresAt.getTime() <= Date.now()) {
        throw new EventFlowError('validation_failed', 'expires_at is in the past', {
          errors: [{ path: 'expires_at', message: 'must be in the future' }],
        });
      }
      const generated = generateApiKey();
      const [row] = await db
        .insert(apiKeys)
        .values({
          id: uuidv7(),
          organizationId,
          name,
          prefix: generated.prefix,
          keyHash: generated.hash,
          scopes: [...new Set(scopes)],
          streams: streams ? [...new Set(streams)] : null,
          expiresAt,
        })
        .returning();
      return reply.code(201).send({ ...present(row!), key: generated.key });
    },
  );

  app.get(
    '/v1/api-keys',
    {
      config: { auth: 'admin' },
      schema: { summary: 'List API keys (no secrets)', tags: ['api-keys'], querystring: listQuerySchema, response: { 200: pageOf(apiKeySchema) } },
    },
    async (request) => {
      const organizationId = organizationOf(request);
      const { limit, cursor } = request.query;
      const after = decodeCursor(cursor, z.uuid());
      const rows = await db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.organizationId, organizationId), after ? gt(apiKeys.id, after) : undefined))
        .orderBy(asc(apiKeys.id))
        .limit(limit + 1);
      return toPage(rows, limit, (row) => row.id, present);
    },
  );

  app.delete(
    '/v1/api-keys/:id',
    {
      config: { auth: 'admin' },
      schema: { summary: 'Revoke an API key', tags: ['api-keys'], params: idParamsSchema, response: { 204: z.null(), 404: problemSchema } },
    },
    async (request, reply) => {
      const organizationId = organizationOf(request);
      const [row] = await db
        .update(apiKeys)
        .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
        .where(and(eq(apiKeys.id, request.params.id), eq(apiKeys.organizationId, organizationId)))
        .returning({ prefix: apiKeys.prefix });
      if (!row) throw notFound('API key');
      authenticator.forget(row.prefix);
      return reply.code(204).send(null);
    },
  );
};

