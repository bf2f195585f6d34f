/**
 * An idle worker from the built package (run `npm run build` first; `npm run bench` does), in
 * plain JS so no TypeScript loader inflates its memory. Speaks the `idle` part of
 * bench/protocol.ts: `ready`, then on `start` a worker on an empty queue, `rss` after `idleMs`.
 */
import { createSundial } from '../dist/index.js';

process.on('disconnect', () => process.exit(1));

const config = JSON.parse(process.argv[2] ?? '');
const sundial = createSundial({ store: { path: config.dbPath } });
await sundial.init();

process.on('message', (message) => {
  if (message.type === 'start') {
    sundial.worker(config.queue, { noop: async () => {} }, { concurrency: config.concurrency });
    process.send({ type: 'started' });
    setTimeout(() => process.send({ type: 'rss', bytes: process.memoryUsage().rss }), config.idleMs);
  } else if (message.type === 'stop') {
    sundial.close({ graceMs: 1000 }).then(() => process.exit(0));
  }
});

process.send({ type: 'ready' });
