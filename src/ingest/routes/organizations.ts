import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v7 as uuidv7 } from 'uuid';
import { withTransaction, type Database } from '../../db/client.ts';
import { apiKeys, organizations } from '../../db/schema.ts';
import { EventFlowError } from '../../errors.ts';
import { generateApiKey } from '../auth.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import { createOrganizationSchema, organizationCreatedSchema, problemSchema } from '../schemas.ts';

export const organizationRoutes: FastifyPluginAsyncZod<{ db: Database }> = async (app, { db }) => {
  app.post(
    '/v1/organizations',
    {
      config: { auth: 'platform' },
      schema: {
        summary: 'Create an organization and its first admin API key',
        tags: ['organizations'],
        body: createOrganizationSchema,
        response: { 201: organizationCreatedSchema, 409: problemSchema },
      },
    },
    async (request, reply) => {
      const { name, slug } = request.body;
      const organizationId = uuidv7();
      const keyId = uuidv7();
      const generated = generateApiKey();
      const created = await withTransaction(db, async (tx) => {
          const [organization] = await tx.insert(organizations).values({ id: organizationId, name, slug }).returning();
          await tx.insert(apiKeys).values({
            id: keyId,
            organizationId,
            name: 'initial admin key',
            prefix: generated.prefix,
            keyHash: generated.hash,
            scopes: ['admin'],
          });
          return organization!;
        })
        .catch((error: unknown) => {
          if (isUniqueViolation(error)) throw new EventFlowError('conflict', `an organization with slug '${slug}' exists`);
          throw error;
        });
      return reply.code(201).send({
        id: created.id,
        name: created.name,
        slug: created.slug,
        created_at: created.createdAt.toISOString(),
        api_key: { id: keyId, key: generated.key, scopes: ['admin'] },
      });
    },
  );
};
