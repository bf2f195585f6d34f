/**
 * The soak's worker process: one Sundial worker on the soak queue, each handler waiting
 * `handlerMs` before it returns, counting what completes (`job.completed` fires once the
 * completion is committed) and telling the parent its progress every 100 ms.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createSundial } from '../../src/index.ts';
import { openStore } from '../stores.ts';
import { childConfig, ownFigures, sendToParent } from './child-side.ts';
import { type ParentMessage, SOAK_JOB, SOAK_QUEUE, type WorkerConfig } from './protocol.ts';

const config = childConfig<WorkerConfig>('bench/soak/worker.ts');
const sundial = createSundial({ store: openStore(config.store) });
let completed = 0;
let failed = 0;
let storeErrors = 0;
let lastError: string | null = null;
// A store that is briefly slow or away is part of what a soak shows: count it, carry on.
sundial.on('error', ({ error, context }) => {
  storeErrors++;
  lastError = `${context}: ${error instanceof Error ? error.message : String(error)}`;
});
sundial.on('job.completed', () => completed++);
sundial.on('job.failed', () => failed++);
await sundial.init();

const worker = sundial.worker(
  SOAK_QUEUE,
  { [SOAK_JOB]: () => sleep(config.handlerMs) },
  { concurrency: config.concurrency, autostart: false },
);

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'start':
      worker.start();
      setInterval(() => sendToParent({ type: 'progress', completed }), 100).unref();
      break;
    case 'sample':
      sendToParent({
        type: 'sample',
        role: 'worker',
        completed,
        failed,
        storeErrors,
        lastError,
        ...ownFigures(),
      });
      break;
    case 'stop':
      sundial.close({ graceMs: 5_000 }).then(
        () => process.exit(0),
        () => process.exit(1),
      );
      break;
    case 'rate':
      break;
  }
});

sendToParent({ type: 'ready' });
