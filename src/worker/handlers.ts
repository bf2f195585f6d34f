import { checkName, InvalidOptionError, type Job } from '../core/index.ts';

/** What a handler gets besides the payload. */
export interface JobContext<Payload = unknown> {
  job: Job<Payload>;
  /**
   * Aborts when the attempt's `timeout` passes, when the job is cancelled or its lease is lost,
   * and when the worker shuts down past its grace period. Pass it to fetch, streams and child
   * processes so work stops when nobody waits for it any more.
   */
  signal: AbortSignal;
  /** The run number (1 on the first run). */
  attempt: number;
  /** The id of the worker running the job. */
  worker: string;
}

// biome-ignore lint/suspicious/noExplicitAny: the default lets handlers with typed payloads sit in one `Handlers` record (parameters are contravariant).
export type HandlerFunction<Payload = any, Result = unknown> = (
  payload: Payload,
  context: JobContext<Payload>,
) => Result | Promise<Result>;

// biome-ignore lint/suspicious/noExplicitAny: as above.
export interface HandlerDefinition<Payload = any, Result = unknown> {
  handle: HandlerFunction<Payload, Result>;
  /** Errors for which retrying cannot help: the job goes straight to dead. */
  isPermanent?: (error: unknown) => boolean;
  /** Overrides the job's backoff: ms to wait after `failures` failed attempts. */
  backoff?: (failures: number, error: unknown, job: Job<Payload>) => number;
}

/** Handlers by job name. A plain function, or a definition with error policy. */
export type Handlers = Record<string, HandlerFunction | HandlerDefinition>;

export function normaliseHandlers(handlers: unknown): Map<string, HandlerDefinition> {
  if (typeof handlers !== 'object' || handlers === null || Array.isArray(handlers)) {
    throw new InvalidOptionError('handlers', handlers, 'an object mapping job names to handler functions');
  }
  const map = new Map<string, HandlerDefinition>();
  for (const [name, value] of Object.entries(handlers)) {
    checkName(`handlers.${name}`, name);
    if (typeof value === 'function') {
      map.set(name, { handle: value as HandlerFunction });
    } else if (typeof value === 'object' && value !== null && typeof value.handle === 'function') {
      for (const key of ['isPermanent', 'backoff'] as const) {
        if (value[key] !== undefined && typeof value[key] !== 'function') {
          throw new InvalidOptionError(`handlers.${name}.${key}`, value[key], 'a function');
        }
      }
      map.set(name, value as HandlerDefinition);
    } else {
      throw new InvalidOptionError(
        `handlers.${name}`,
        value,
        'a function or { handle, isPermanent?, backoff? }',
      );
    }
  }
  return map;
}
