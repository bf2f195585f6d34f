/**
 * A worker in its own process, as it runs in production, so its claims and completions contend with
 * the producer for the store across processes and wake-ups cross a process boundary (the WAL watch
 * on SQLite, LISTEN/NOTIFY on PostgreSQL, pub/sub on Redis).
 * Started by `bench/child.ts`; speaks `bench/protocol.ts` over the IPC channel.
 */
import { createSundial, type Handlers } from '../src/index.ts';
import type { ChildMessage, ParentMessage, TimedPayload, WorkerConfig } from './protocol.ts';
import { preciseNow } from './protocol.ts';
import { openStore } from './stores.ts';

if (!process.send)
  throw new Error('bench/worker-process.ts must be started by the bench (it needs an IPC channel)');

function send(message: ChildMessage): void {
  process.send?.(message);
}

// An orphan would keep a core busy and skew every later run: die with the parent.
process.on('disconnect', () => process.exit(1));

const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
const sundial = createSundial({ store: openStore(config.store) });
sundial.on('error', ({ error, context }) => send({ type: 'error', message: `${context}: ${String(error)}` }));
// Open and migrate now, so the timed part starts with a store ready to claim from.
await sundial.init();

let completed = 0;
const latencies: number[] = [];

function startWorker(): void {
  // The handlers do nothing (or only note the time) so what is measured is Sundial's overhead.
  const handlers: Handlers =
    config.mode === 'latency'
      ? { timed: async ({ sentAt }: TimedPayload) => void latencies.push(preciseNow() - sentAt) }
      : { noop: async () => {} };
  const worker = sundial.worker(config.queue, handlers, {
    concurrency: config.concurrency,
    prefetch: config.mode === 'drain' ? config.prefetch : 0,
    autostart: false,
  });
  if (config.mode === 'idle') {
    worker.start();
    setTimeout(() => send({ type: 'rss', bytes: process.memoryUsage().rss }), config.idleMs);
    return;
  }
  const expected = config.expected;
  // `job.completed` fires once the completion is committed, so the count is of durably finished jobs.
  sundial.on('job.completed', () => {
    completed++;
    if (completed === expected) send({ type: 'done', completed, latencies });
  });
  worker.start();
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'start':
      startWorker();
      send({ type: 'started' });
      break;
    case 'ping':
      send({ type: 'pong', id: message.id, now: preciseNow() });
      break;
    case 'stop':
      sundial.close({ graceMs: 1000 }).then(
        () => process.exit(0),
        (error: unknown) => {
          send({ type: 'error', message: `closing: ${String(error)}` });
          process.exit(1);
        },
      );
      break;
  }
});

send({ type: 'ready' });
