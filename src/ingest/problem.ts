import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { errorCatalog, EventFlowError, problemType, type ErrorCode, type FieldError } from '../errors.ts';


const FASTIFY_CODES: Record<number, ErrorCode> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  431: 'headers_too_large',
};

/** Turns anything thrown in a request into an EventFlowError; unknown errors become `internal`. */
export function toEventFlowError(error: unknown): EventFlowError {
  if (error instanceof EventFlowError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const errors: FieldError[] = error.validation.map((issue) => ({
      path: issue.instancePath.slice(1).replaceAll('/', '.') || (error.validationContext ?? 'body'),
      message: issue.message ?? 'invalid',
    }));
    const where = error.validationContext ?? 'body';
    return new EventFlowError('validation_failed', `the request ${where} is invalid`, { errors });
  }
  const fastifyError = error as Partial<FastifyError> & { code?: string };
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) {
    return new EventFlowError('malformed_json', 'the body is not valid JSON');
  }
  if (isDatabaseUnavailable(error)) {
    return new EventFlowError('unavailable', 'the database is unavailable; retry shortly', {
      headers: { 'retry-after': '1' },
      cause: error,
    });
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code = FASTIFY_CODES[status] ?? 'bad_request';
    return new EventFlowError(code, fastifyError.message ?? errorCatalog[code].title);
  }
  return new EventFlowError('internal', 'internal error', { cause: error });
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: EventFlowError): FastifyReply {
  const status = error.status;
  const detail = error.code === 'internal' ? `internal error (request ${request.id})` : error.message;
  for (const [name, value] of Object.entries(error.headers ?? {})) void reply.header(name, value);
  return reply
    .code(status)
    .type('application/problem+json')
    .serializer(JSON.stringify)
    .send({
      type: problemType(error.code),
      title: errorCatalog[error.code].title,
      status,
      detail,
      request_id: request.id,
      ...(error.errors ? { errors: error.errors } : {}),
    });
}
