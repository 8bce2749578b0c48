import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Metrics } from '../../metrics.ts';

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
}

const readinessSchema = z.object({ status: z.enum(['ok', 'not ready']), checks: z.record(z.string(), z.boolean()) });

export const opsRoutes: FastifyPluginAsyncZod<{ readiness: () => Promise<Readiness>; metrics: Metrics }> = async (
  app,
  { readiness, metrics },
) => {
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['ops'], produces: ['text/plain'] } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).serializer((body: string) => body).send(await metrics.registry.metrics()),
  );

  app.get(
    '/healthz',
    { schema: { summary: 'Liveness', tags: ['ops'], response: { 200: z.object({ status: z.literal('ok') }) } } },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: database reachable, migrations applied, workers started',
        tags: ['ops'],
        response: { 200: readinessSchema, 503: readinessSchema },
      },
    },
    async (_request, reply) => {
      const { ready, checks } = await readiness();
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'not ready', checks });
    },
  );
};
