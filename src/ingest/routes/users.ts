import { and, asc, eq, gt } from 'drizzle-orm';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Database } from '../../db/client.ts';
import { isUniqueViolation } from '../../db/errors.ts';
import { users } from '../../db/schema.ts';
import { EventFlowError, notFound } from '../../errors.ts';
import { organizationOf } from '../app.ts';
import { decodeCursor, toPage } from '../pagination.ts';
import { hashPassword } from '../passwords.ts';
import { createUserSchema, idParamsSchema, listQuerySchema, pageOf, problemSchema, userSchema } from '../schemas.ts';

type UserRow = typeof users.$inferSelect;

const present = (row: UserRow) => ({ id: row.id, email: row.email, role: row.role, created_at: row.createdAt.toISOString() });

export const userRoutes: FastifyPluginAsyncZod<{ db: Database }> = async (app, { db }) => {
  app.post(
    '/v1/users',
    {
      config: { auth: 'admin' },
      schema: {
        summary: 'Create a console user',
        tags: ['users'],
        body: createUserSchema,
        response: { 201: userSchema, 400: problemSchema, 409: problemSchema },
      },
    },
    async (request, reply) => {
      const { email, password, role } = request.body;
      const passwordHash = await hashPassword(password);
      const [row] = await db
        .insert(users)
        .values({ id: uuidv7(), organizationId: organizationOf(request), email, passwordHash, role })
        .returning()
        .catch((error: unknown) => {
          // Emails sign in without naming an organization, so they are unique across all of them.
          if (isUniqueViolation(error)) throw new EventFlowError('conflict', `the email ${email} is already in use`);
          throw error;
        });
      return reply.code(201).send(present(row!));
    },
  );

  app.get(
    '/v1/users',
    {
      config: { auth: 'admin' },
      schema: { summary: 'List console users', tags: ['users'], querystring: listQuerySchema, response: { 200: pageOf(userSchema) } },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const after = decodeCursor(cursor, z.uuid());
      const rows = await db
        .select()
        .from(users)
        .where(and(eq(users.organizationId, organizationOf(request)), after ? gt(users.id, after) : undefined))
        .orderBy(asc(users.id))
        .limit(limit + 1);
      return toPage(rows, limit, (row) => row.id, present);
    },
  );

  app.delete(
    '/v1/users/:id',
    {
      config: { auth: 'admin' },
      schema: { summary: 'Delete a console user (its sessions end at once)', tags: ['users'], params: idParamsSchema, response: { 204: z.null(), 404: problemSchema } },
    },
    async (request, reply) => {
      // Sessions reference the user with ON DELETE CASCADE: they end in the same statement.
      const deleted = await db
        .delete(users)
        .where(and(eq(users.id, request.params.id), eq(users.organizationId, organizationOf(request))))
        .returning({ id: users.id });
      if (deleted.length === 0) throw notFound('user');
      return reply.code(204).send(null);
    },
  );
};
