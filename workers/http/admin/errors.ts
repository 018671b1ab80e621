import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Logger } from '../../../shared/logger.ts';
import { PayloadError } from '../../../shared/errors.ts';
import { UnknownJobError } from '../../../shared/queues.ts';
import { UnknownScheduleError } from '../../schedules/status.ts';

// Every API error has one shape: { error: { code, message, details? } }. `code` is stable
// (clients branch on it); `message` is for humans; `details` lists fields when there are any.

export interface FieldIssue { path: string; message: string }

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
  }
}

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Parses with a zod schema or throws a 400 naming every bad field (prefixed by where it was). */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.output<S> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const details: FieldIssue[] = parsed.error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
  throw new ApiError(400, 'invalid_request', `Invalid request: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
}

function translate(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof PayloadError) {
    const details = err.issues.map((i) => ({ path: i.path ? `payload.${i.path}` : 'payload', message: i.message }));
    return new ApiError(400, 'invalid_payload', err.message, details);
  }
  if (err instanceof UnknownJobError) return new ApiError(404, 'unknown_job', err.message);
  if (err instanceof UnknownScheduleError) return new ApiError(404, 'unknown_schedule', err.message);
  const fe = err as Partial<FastifyError>;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, 'payload_too_large', 'Request body is too large');
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiError(415, 'unsupported_media_type', 'Send JSON (content-type: application/json)');
  if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    return new ApiError(400, 'invalid_json', `Request body is not valid JSON: ${fe.message ?? ''}`.trim());
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new ApiError(fe.statusCode, 'bad_request', fe.message ?? 'Bad request');
  return undefined;
}

export function sendApiError(reply: FastifyReply, err: ApiError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  return reply.code(err.status).send(errorBody(err.code, err.message, err.details));
}

/** The error handler of the API: known errors keep their meaning, anything else is a logged 500. */
export function apiErrorHandler(log: Logger) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const known = translate(err);
    if (known) return sendApiError(reply, known);
    log.error({ err, method: request.method, url: request.routeOptions.url }, 'admin API request failed');
    return sendApiError(reply, new ApiError(500, 'internal', 'Internal error; see the fleet logs'));
  };
}
