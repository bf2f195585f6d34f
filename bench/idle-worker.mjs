/**
 * An idle worker from the built package (run `npm run build` first; `npm run bench` does), in
 * plain JS so no TypeScript loader inflates its memory. Speaks the `idle` part of
 * bench/protocol.ts: `ready`, then on `start` a worker on an empty queue, `rss` after `idleMs`.
 */
import { AT_RISK_CODE, createSundial, PostgresStore, RedisStore, UNCHECKED_CODE } from '../dist/index.js';

process.on('disconnect', () => process.exit(1));

const config = JSON.parse(process.argv[2] ?? '');

/**
 * The Redis engine's warning that the server may lose data says nothing about memory and would
 * repeat every run (bench/stores.ts keeps the server's settings in the results instead).
 */
function onError(error) {
  if (error?.code === AT_RISK_CODE || error?.code === UNCHECKED_CODE) return;
  console.error('store:', error);
}

/** bench/stores.ts's openStore, again in JS: importing that .ts file would load the type stripper. */
function openStore(spec) {
  switch (spec.kind) {
    case 'postgres':
      return new PostgresStore({ connectionString: spec.url, schema: spec.schema, onError });
    case 'redis':
      return new RedisStore({ url: spec.url, prefix: spec.prefix, onError });
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
