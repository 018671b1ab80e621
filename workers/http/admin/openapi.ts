import { z } from 'zod';
import type { AnyJob } from '../../../shared/job.ts';
import { enqueueBody, runsQuery, jobView, queueView, scheduleView, runView, errorView } from './schemas.ts';

type Json = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'output'): Json {
  try {
    const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
    return rest;
  } catch {
    return { description: 'not representable as JSON Schema; see the job definition' };
  }
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json) => ({ content: { 'application/json': { schema } } });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: ERROR_TEXT[c], ...json(ref('Error')) }]));
const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid request or payload; details lists every bad field', 401: 'Missing, unknown, revoked or expired token',
  404: 'No such job, queue, schedule or job id', 409: 'Not possible in the current state', 413: 'Body too large',
  429: 'Locked out after repeated failed logins from this address (Retry-After)',
};
const AUTH = [401, 429];
const path = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const JOB = path('job', 'Job (= queue) name');
const ID = path('id', 'Job id');

function queryParameters(schema: z.ZodObject): Json[] {
  const s = jsonSchema(schema, 'input') as { properties?: Record<string, Json> };
  return Object.entries(s.properties ?? {}).map(([name, p]) => ({ name, in: 'query', required: false, schema: p, description: p.description }));
}

/** The OpenAPI 3.1 document of the admin API, with each job's payload schema. */
export function openApiDocument(jobs: readonly AnyJob[]): Json {
  const payloadSchemas = Object.fromEntries(jobs.map((j) => [`Payload.${j.name}`, { ...jsonSchema(j.schema, 'input'), description: j.description }]));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Stockroom fleet admin API', version: '1',
      description: 'Enqueue and inspect jobs, pause queues, run schedules, read the job_runs audit. '
        + 'Every endpoint needs `Authorization: Bearer <token>` (`fleet admin create-token`); only /metrics and /healthz are open. '
        + 'Errors are always `{ "error": { "code", "message", "details"? } }`.',
    },
    security: [{ bearer: [] }],
    paths: {
      '/api/jobs/{job}': {
        post: {
          summary: 'Enqueue a job', parameters: [JOB],
          requestBody: { required: false, ...json({ ...jsonSchema(enqueueBody, 'input'), description: `payload: one of ${jobs.map((j) => `Payload.${j.name}`).join(', ')}` }) },
          responses: { 202: { description: 'Enqueued', ...json({ type: 'object', properties: { job: { type: 'string' }, id: { type: 'string' } } }) }, ...errors(400, ...AUTH, 404, 413) },
        },
      },
      '/api/jobs/{job}/{id}': {
        get: { summary: 'State, progress, result and failure of a job', parameters: [JOB, ID], responses: { 200: { description: 'The job', ...json(ref('Job')) }, ...errors(...AUTH, 404) } },
        delete: { summary: 'Remove a job that is not running', parameters: [JOB, ID], responses: { 204: { description: 'Removed' }, ...errors(...AUTH, 404, 409) } },
      },
      '/api/jobs/{job}/{id}/retry': {
        post: { summary: 'Retry a failed job', parameters: [JOB, ID], responses: { 200: { description: 'Back in the queue', ...json(ref('Job')) }, ...errors(...AUTH, 404, 409) } },
      },
      '/api/queues': {
        get: { summary: 'Counts per state, paused flag and schedules of every queue', responses: { 200: { description: 'Queues', ...json({ type: 'object', properties: { queues: { type: 'array', items: ref('Queue') } } }) }, ...errors(...AUTH) } },
      },
      ...Object.fromEntries((['pause', 'resume'] as const).map((action) => [`/api/queues/{queue}/${action}`, {
        post: {
          summary: `${action === 'pause' ? 'Pause' : 'Resume'} a queue fleet-wide`, parameters: [path('queue', 'Queue name')],
          responses: { 200: { description: 'New state', ...json({ type: 'object', properties: { queue: { type: 'string' }, paused: { type: 'boolean' } } }) }, ...errors(...AUTH, 404) },
        },
      }])),
      '/api/schedules': {
        get: { summary: 'Every schedule with next run and last result', responses: { 200: { description: 'Schedules', ...json({ type: 'object', properties: { schedules: { type: 'array', items: ref('Schedule') } } }) }, ...errors(...AUTH) } },
      },
      '/api/schedules/{name}/run': {
        post: {
          summary: "Run a schedule now, with its payload (job_runs.enqueued_by = 'schedule:<name>/admin:<you>')", parameters: [path('name', 'Schedule name')],
          responses: { 202: { description: 'Enqueued', ...json({ type: 'object', properties: { schedule: { type: 'string' }, job: { type: 'string' }, id: { type: 'string' } } }) }, ...errors(...AUTH, 404) },
        },
      },
      '/api/runs': {
        get: {
          summary: 'job_runs history, newest first, keyset-paginated', parameters: queryParameters(runsQuery),
          responses: { 200: { description: 'A page of runs', ...json({ type: 'object', properties: { runs: { type: 'array', items: ref('Run') }, nextBefore: { type: ['integer', 'null'] } } }) }, ...errors(400, ...AUTH) },
        },
      },
      '/api/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' }, ...errors(...AUTH) } } },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from `fleet admin create-token --name <admin>`' } },
      schemas: {
        Error: jsonSchema(errorView), Job: jsonSchema(jobView), Queue: jsonSchema(queueView), Schedule: jsonSchema(scheduleView), Run: jsonSchema(runView),
        ...payloadSchemas,
      },
    },
  };
}
