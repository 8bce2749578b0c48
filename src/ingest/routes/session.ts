import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EventFlowError } from '../../errors.ts';
import { problemSchema, sessionSchema, signInSchema } from '../schemas.ts';
import { csrfTokenOf, SESSION_COOKIE, SESSION_TTL_MS, type Sessions, type SessionUser } from '../sessions.ts';

const presentSession = (token: string, user: SessionUser) => ({
  user: { id: user.userId, email: user.email, role: user.role, organization_id: user.organizationId },
  csrf_token: csrfTokenOf(token),
});

export const sessionRoutes: FastifyPluginAsyncZod<{ sessions: Sessions }> = async (app, { sessions }) => {
  app.post(
    '/v1/session',
    {
      schema: {
        summary: 'Sign in to the console (sets an HttpOnly, SameSite=Strict session cookie)',
        tags: ['session'],
        body: signInSchema,
        response: { 200: sessionSchema, 401: problemSchema, 429: problemSchema },
      },
    },
    async (request, reply) => {
      const { token, user } = await sessions.signIn(request.body.email, request.body.password, request.ip);
      void reply.setCookie(SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'strict',
        // Secure whenever the console is reached over TLS; plain http is for loopback use.
        secure: request.protocol === 'https',
        path: '/',
        maxAge: SESSION_TTL_MS / 1000,
      });
      return presentSession(token, user);
    },
  );

  app.get(
    '/v1/session',
    {
      schema: { summary: 'The signed-in console user', tags: ['session'], response: { 200: sessionSchema, 401: problemSchema } },
    },
    async (request) => {
      const token = request.cookies[SESSION_COOKIE];
      const user = token ? await sessions.resolve(token) : undefined;
      if (!token || !user) throw new EventFlowError('unauthorized', 'not signed in');
      return presentSession(token, user);
    },
  );

  app.delete(
    '/v1/session',
    { schema: { summary: 'Sign out of the console', tags: ['session'], response: { 204: z.null() } } },
    async (request, reply) => {
      const token = request.cookies[SESSION_COOKIE];
      if (token) await sessions.signOut(token);
      void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );
};
