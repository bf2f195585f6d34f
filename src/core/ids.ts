import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * Identifies one worker (or scheduler) instance in lease owners and lock records: the host and pid
 * say where it runs, the random suffix tells apart two instances in one process.
 */
export function newOwnerId(kind: string): string {
  return `${kind}:${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
