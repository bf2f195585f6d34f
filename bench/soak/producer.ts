/**
 * The soak's producer process: adds single jobs open loop at the rate it is given, as independent
 * requests of an app would. It never waits for an add before issuing the next: each loop turn it
 * issues every add the schedule has made due by then, so a slow store makes adds pile up in flight
 * (and their latency grow) rather than the rate drop. Adds issued in one turn share a commit
 * (Sundial's group commit), as concurrent requests of one process do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createSundial } from '../../src/index.ts';
import { openStore } from '../stores.ts';
import { childConfig, ownFigures, sendToParent, summariseLatencies } from './child-side.ts';
import { type ParentMessage, type ProducerConfig, SOAK_JOB, SOAK_QUEUE } from './protocol.ts';

const config = childConfig<ProducerConfig>('bench/soak/producer.ts');
const sundial = createSundial({ store: openStore(config.store) });
await sundial.init();
const queue = sundial.queue(SOAK_QUEUE);

let rate = config.rate;
let running = false;
let issued = 0;
let added = 0;
let failed = 0;
let inFlight = 0;
let lastError: string | null = null;
let latencies: number[] = [];
let maxGapMs = 0;
let allSettled: () => void = () => {};

function issue(): void {
  const sequence = issued++;
  inFlight++;
  const started = performance.now();
  queue
    .add(SOAK_JOB, { sequence })
    .then(
      () => {
        added++;
        latencies.push(performance.now() - started);
      },
      (error: unknown) => {
        failed++;
        lastError = error instanceof Error ? error.message : String(error);
      },
    )
    .finally(() => {
      inFlight--;
      if (!running && inFlight === 0) allSettled();
    });
}

async function produce(): Promise<void> {
  let due = 0;
  let last = performance.now();
  for (;;) {
    await sleep(1);
    if (!running) return;
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    due += (rate * (now - last)) / 1000;
    last = now;
    while (issued < Math.floor(due)) issue();
  }
}

async function stop(): Promise<void> {
  running = false;
  if (inFlight > 0) {
    await Promise.race([new Promise<void>((resolve) => (allSettled = resolve)), sleep(120_000)]);
  }
  sendToParent({ type: 'stopped', issued, added, failed, lastError });
  await sundial.close();
  process.exit(0);
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'start':
      running = true;
      void produce();
      break;
    case 'rate':
      rate = message.perSecond;
      break;
    case 'sample':
      sendToParent({
        type: 'sample',
        role: 'producer',
        issued,
        added,
        failed,
        inFlight,
        latency: summariseLatencies(latencies),
        maxGapMs,
        lastError,
        ...ownFigures(),
      });
      latencies = [];
      maxGapMs = 0;
      break;
    case 'stop':
      void stop();
      break;
  }
});

sendToParent({ type: 'ready' });
