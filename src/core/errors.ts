/**
 * Every error Sundial throws on purpose is a `SundialError` with a stable `code`, so callers can
 * branch on `err.code` instead of parsing messages.
 */
export class SundialError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Shows a value the way a user typed it, short enough to sit in one error message. Never throws:
 * the value may be hostile (a revoked proxy, a getter or `toJSON` that throws).
 */
export function describeValue(value: unknown): string {
  try {
    return describeReadable(value);
  } catch {
    return '[a value that cannot be read]';
  }
}

function describeReadable(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(shorten(value));
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'bigint') return shorten(`${value}n`);
  if (typeof value === 'symbol') return shorten(value.toString());
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return shorten(String(value));
    return shorten(text);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function shorten(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** An option, argument or definition field that Sundial cannot accept. Names the field and the value. */
export class InvalidOptionError extends SundialError {
  readonly field: string;
  readonly value: unknown;
  /** What the field takes, in words. */
  readonly expected: string;

  constructor(field: string, value: unknown, expected: string, code = 'SUNDIAL_INVALID_OPTION') {
    super(code, `Invalid ${field}: ${describeValue(value)} (${expected})`);
    this.field = field;
    this.value = value;
    this.expected = expected;
  }
}

/** A cron expression, time or time zone that cannot be scheduled. */
export class InvalidCronError extends InvalidOptionError {
  constructor(field: string, value: unknown, reason: string) {
    super(field, value, reason, 'SUNDIAL_INVALID_CRON');
  }
}

/** A payload or result that cannot be stored as JSON without losing information. */
export class UnserializableError extends SundialError {
  readonly field: string;
  readonly value: unknown;
  readonly reason: string;

  constructor(field: string, value: unknown, reason: string, shown = describeValue(value)) {
    super('SUNDIAL_UNSERIALIZABLE', `Cannot store ${field}: ${shown} ${reason}`);
    this.field = field;
    this.value = value;
    this.reason = reason;
  }

  /** A value that could not even be read: a getter or `toJSON` threw, or a proxy was revoked. */
  static unreadable(field: string, cause: { name: string; message: string }): UnserializableError {
    const why = `${cause.name}: ${cause.message}`;
    const reason = `cannot be read (reading it threw ${why.length > 200 ? `${why.slice(0, 197)}...` : why})`;
    const error = new UnserializableError(field, undefined, reason);
    // Worded without a `field: word` pair, which masking takes for a secret when the field is named
    // like one (`result.secret`).
    error.message = `Cannot store ${field}, whose value ${reason}`;
    return error;
  }
}

export class JobNotFoundError extends SundialError {
  readonly jobId: string;

  constructor(jobId: string) {
    super('SUNDIAL_JOB_NOT_FOUND', `No job with id ${JSON.stringify(jobId)}`);
    this.jobId = jobId;
  }
}

/** An operation that the job's current state does not allow (retrying a completed job, removing an active one). */
export class InvalidJobStateError extends SundialError {
  readonly jobId: string;
  readonly state: string;

  constructor(jobId: string, state: string, operation: string, allowed: readonly string[]) {
    super(
      'SUNDIAL_INVALID_JOB_STATE',
      `Cannot ${operation} job ${jobId}: it is ${state} (allowed: ${allowed.join(', ')})`,
    );
    this.jobId = jobId;
    this.state = state;
  }
}

/**
 * Throw this from a handler when retrying cannot help (bad input, a resource that is gone):
 * the job skips its remaining attempts and goes straight to the dead-letter state.
 */
export class UnrecoverableError extends SundialError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SUNDIAL_UNRECOVERABLE', message, options);
  }
}

/** The job's handler name is not registered on the worker that claimed it. */
export class UnknownHandlerError extends SundialError {
  readonly handler: string;

  constructor(handler: string, queue: string, known: readonly string[]) {
    super(
      'SUNDIAL_UNKNOWN_HANDLER',
      `No handler named ${JSON.stringify(handler)} on the worker for queue ${JSON.stringify(queue)}` +
        ` (registered: ${known.length > 0 ? known.map((k) => JSON.stringify(k)).join(', ') : 'none'})`,
    );
    this.handler = handler;
  }
}

/**
 * A handler returned a result larger than its worker's `maxResultBytes`: the attempt fails for good
 * (retrying would return the same), rather than storing a silently cut result.
 */
export class ResultTooLargeError extends SundialError {
  readonly bytes: number;
  readonly maxBytes: number;

  constructor(bytes: number, maxBytes: number) {
    super(
      'SUNDIAL_RESULT_TOO_LARGE',
      `The handler's result is ${bytes} bytes of JSON, over the worker's maxResultBytes of ${maxBytes}: return less (store large data elsewhere and return a reference), or raise maxResultBytes`,
    );
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/** The attempt ran past the job's `timeout`. */
export class JobTimeoutError extends SundialError {
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super('SUNDIAL_TIMEOUT', `Job timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The store's server cannot be reached right now (a restart, a dropped connection), or turned the
 * request away for now (busy, a timeout, a deadlock). Nothing about the request was wrong: try it
 * again later, unchanged.
 */
export class StoreUnavailableError extends SundialError {
  /**
   * True when the server answered that it did not apply the request (it rolled it back or never
   * ran it); false when the connection went away, and the request may have been applied or not.
   */
  readonly refused: boolean;

  constructor(cause: unknown, { refused = false }: { refused?: boolean } = {}) {
    super('SUNDIAL_STORE_UNAVAILABLE', `The store cannot be reached: ${(cause as Error)?.message ?? cause}`, {
      cause,
    });
    this.refused = refused;
  }
}

export class StoreClosedError extends SundialError {
  constructor() {
    super('SUNDIAL_STORE_CLOSED', 'The store is closed');
  }
}
