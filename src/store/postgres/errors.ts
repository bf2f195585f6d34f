import { StoreUnavailableError } from '../../core/index.ts';

/**
 * Refusals the server reports after rolling the statement back, so it did nothing: too many
 * connections (53300), a statement or lock timeout (57014, 55P03), and a deadlock or serialization
 * failure outside a retried transaction.
 */
export const REFUSED = ['53300', '57014', '55P03', '40P01', '40001'];

/**
 * Trouble that says nothing about the request, so callers hear `StoreUnavailableError` and try
 * again later: the refusals above, and the connection (refused, reset, the server shutting down:
 * SQLSTATE classes 08 and 57P, names that do not resolve), when the request may or may not have
 * been applied.
 */
export const PASSING_TROUBLE = [
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  ...REFUSED,
];

export function unavailableOr(error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  const message = (error as Error)?.message ?? '';
  const connectionTrouble =
    (typeof code === 'string' &&
      (code.startsWith('08') || code.startsWith('57P') || PASSING_TROUBLE.includes(code))) ||
    /Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(
      message,
    );
  if (!connectionTrouble) return error;
  return new StoreUnavailableError(error, { refused: typeof code === 'string' && REFUSED.includes(code) });
}
