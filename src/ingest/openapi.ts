import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { App } from './app.ts';
import { problemSchema } from './schemas.ts';

/** Every route with credentials can answer these, whatever it declares itself. */
const PROBLEMS_OF_AUTHENTICATED = [400, 401, 403, 404, 429, 500, 503];
const PROBLEMS_OF_BODIES = [413, 415];

/**
 * /openapi.json (OpenAPI 3.1) is generated from the zod schemas that validate the routes,
 * and /docs renders it. Must be registered before the routes it describes.
 */
export async function registerOpenApi(app: App): Promise<void> {
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/')) return;
    const schema = (route.schema ??= {});
    const codes = [...PROBLEMS_OF_AUTHENTICATED, ...(['POST', 'PATCH'].includes(String(route.method)) ? PROBLEMS_OF_BODIES : [])];
    const response = (schema.response ?? {}) as Record<number, unknown>;
    for (const code of codes) response[code] ??= problemSchema;
    schema.response = response;
    if (route.config?.auth) schema.security = [{ bearer: [] }];
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'EventFlow',
        version: '1',
        description: 'Event streams on Postgres, delivered to consumer groups as signed webhooks.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
}
