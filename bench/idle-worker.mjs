/**
 * An idle worker from the built package (run `npm run build` first; `npm run bench` does), in
 * plain JS so no TypeScript loader inflates its memory. Speaks the `idle` part of
 * bench/protocol.ts: `ready`, then on `start` a worker on an empty queue, `rss` after `idleMs`.
 */
import { createSundial, PostgresStore, RedisStore } from '../dist/index.js';

process.on('disconnect', () => process.exit(1));

const config = JSON.parse(process.argv[2] ?? '');

/** bench/stores.ts's openStore, again in JS: importing that .ts file would load the type stripper. */
function openStore(spec) {
  switch (spec.kind) {
    case 'postgres':
      return new PostgresStore({ connectionString: spec.url, schema: spec.schema });
    case 'redis':
      return new RedisStore({ url: spec.url, prefix: spec.prefix });
    default:
      return { path: spec.path };
  }
}

const sundial = createSundial({ store: openStore(config.store) });
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
