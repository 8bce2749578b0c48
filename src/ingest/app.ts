import { randomUUID } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import Fastify, {
  LogController,
  type FastifyReply,
  type FastifyRequest,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { PgBoss } from 'pg-boss';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import { EventFlowError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { SecretBox } from '../secrets.ts';
import { Authenticator, authorize, userPrincipal, type Principal, type Requirement, type TenantPrincipal } from './auth.ts';
import { registerConsole } from './console.ts';
import { parseJsonBody } from './json-body.ts';
import { registerOpenApi } from './openapi.ts';
import { sendProblem, toEventFlowError } from './problem.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { consumerGroupRoutes } from './routes/consumer-groups.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { eventRoutes } from './routes/events.ts';
import { opsRoutes, type Readiness } from './routes/ops.ts';
import { organizationRoutes } from './routes/organizations.ts';
import { sessionRoutes } from './routes/session.ts';
import { streamRoutes } from './routes/streams.ts';
import { userRoutes } from './routes/users.ts';
import { CSRF_HEADER, csrfMatches, SESSION_COOKIE, Sessions } from './sessions.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the route needs: the platform token or an API key scope. Absent: public. */
    auth?: Requirement;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
    /** trace_id / correlation_id of the events a request appended, for its log line. */
    traceContext: Record<string, string | string[]> | undefined;
  }
}

export interface AppDeps {
  db: Database;
  boss: PgBoss;
  config: Config;
  logger: Logger;
  box: SecretBox;
  metrics: Metrics;
  platformToken: string;
  readiness: () => Promise<Readiness>;
  /** false for a worker-only process: it serves /healthz, /readyz and /metrics only. */
  serveApi?: boolean;
}

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  Logger,
  ZodTypeProvider
>;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const CREDENTIAL_PARAMS = ['api_key', 'apikey', 'key', 'token', 'access_token', 'authorization'];

/** The organization of the key or console user that made the request (routes with a scope only). */
export function organizationOf(request: { principal: Principal | undefined }): string {
  return tenantOf(request).organizationId;
}

export function tenantOf(request: { principal: Principal | undefined }): TenantPrincipal {
  const principal = request.principal;
  if (principal?.kind !== 'key' && principal?.kind !== 'user') throw new EventFlowError('forbidden', 'this route needs an API key');
  return principal;
}

/**
 * One log line per request, written when it completes, with the organization and the
 * trace context of the events it carried bound; the same moment feeds the latency metric.
 */
class OneLinePerRequest extends LogController {
  readonly #metrics: Metrics;

  constructor(metrics: Metrics) {
    super({ requestIdLogLabel: 'req_id' });
    this.#metrics = metrics;
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const principal = request.principal;
    const route = request.routeOptions.url ?? 'unknown';
    this.#metrics.requestDuration.observe({ route, method: request.method, status: reply.statusCode }, reply.elapsedTime / 1000);
    request.log[error || reply.statusCode >= 500 ? 'error' : 'info'](
      {
        method: request.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        org: principal && principal.kind !== 'platform' ? principal.organizationId : undefined,
        ...request.traceContext,
      },
      'request',
    );
  }
}

/** Builds the HTTP API without listening, so tests can `inject()` or listen on port 0. */
export async function buildApp(deps: AppDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new OneLinePerRequest(deps.metrics),
    bodyLimit: deps.config.MAX_BODY_BYTES,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Every body is JSON: anything else answers 415 rather than failing validation as a string.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJsonBody);

  const authenticator = new Authenticator(deps.db, deps.platformToken);
  const sessions = new Sessions(deps.db);
  app.decorateRequest('principal', undefined);
  app.decorateRequest('traceContext', undefined);
  await app.register(fastifyCookie);

  /**
   * A bearer token wins; without one, the console's session cookie. A cookie travels with
   * any request the browser makes, so a change also needs the session's CSRF token in a
   * header, which only the console's own page can read (SameSite=Strict is the first guard).
   */
  const authenticate = async (request: FastifyRequest): Promise<Principal> => {
    const token = request.cookies[SESSION_COOKIE];
    if (request.headers.authorization !== undefined || !token) return authenticator.authenticate(request.headers.authorization);
    const user = await sessions.resolve(token);
    if (!user) throw new EventFlowError('unauthorized', 'the console session ended; sign in again');
    const csrf = request.headers[CSRF_HEADER];
    if (!SAFE_METHODS.has(request.method) && !csrfMatches(token, typeof csrf === 'string' ? csrf : undefined)) {
      throw new EventFlowError('forbidden', `a change made with a session cookie needs the session's ${CSRF_HEADER} header`);
    }
    return userPrincipal(user);
  };

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('request-id', request.id);
    const needs = request.routeOptions.config.auth;
    if (!needs) return;
    // A key in a URL ends up in proxy and access logs: refuse it before looking at it.
    if (CREDENTIAL_PARAMS.some((name) => Object.hasOwn(request.query as object, name))) {
      throw new EventFlowError('bad_request', 'credentials go in the Authorization header, never in the URL');
    }
    request.principal = await authenticate(request);
    const stream = (request.params as { stream?: unknown } | undefined)?.stream;
    authorize(request.principal, needs, typeof stream === 'string' ? stream : undefined);
  });

  app.setErrorHandler((error, request, reply) => {
    const problem = toEventFlowError(error);
    if (problem.status >= 500) request.log.error({ err: problem.cause ?? error }, problem.message);
    return sendProblem(request, reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, new EventFlowError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  await registerOpenApi(app);
  await app.register(opsRoutes, { readiness: deps.readiness, metrics: deps.metrics });
  if (deps.serveApi === false) return app;
  await app.register(organizationRoutes, { db: deps.db });
  await app.register(apiKeyRoutes, { db: deps.db, authenticator });
  await app.register(streamRoutes, { db: deps.db });
  await app.register(eventRoutes, { db: deps.db, config: deps.config, metrics: deps.metrics });
  await app.register(consumerGroupRoutes, { db: deps.db, boss: deps.boss, box: deps.box, config: deps.config });
  await app.register(deadLetterRoutes, { db: deps.db, boss: deps.boss });
  await app.register(userRoutes, { db: deps.db });
  await app.register(sessionRoutes, { sessions });
  await registerConsole(app);
  return app;
}
