import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { EventFlowError } from '../errors.ts';
import type { App } from './app.ts';

/** Built by `npm install` (the `prepare` script runs `vite build` over console/). */
export const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist', import.meta.url));

/** The page may load only its own files and talk only to this server. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** The operator console: static files at /console/, which talk to the public /v1 API. */
export async function registerConsole(app: App): Promise<void> {
  app.get('/console', { schema: { hide: true } }, (_request, reply) => reply.redirect('/console/'));
  if (!existsSync(CONSOLE_DIST)) {
    app.get('/console/*', { schema: { hide: true } }, () => {
      throw new EventFlowError('not_found', 'the console is not built: run `npm install` (or `npx vite build console`)');
    });
    return;
  }
  await app.register(fastifyStatic, {
    root: CONSOLE_DIST,
    prefix: '/console/',
    schemaHide: true,
    setHeaders(response, filePath: string) {
      void response.header('content-security-policy', CONTENT_SECURITY_POLICY);
      void response.header('x-content-type-options', 'nosniff');
      // Vite names assets by their hash: they never change; the page itself always revalidates.
      void response.header('cache-control', filePath.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
