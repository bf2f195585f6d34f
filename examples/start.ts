/**
 * The example app behind `npm start`: a long-running worker on the embedded SQLite store
 * (`.sundial/sundial.db`) plus a producer that keeps adding example jobs, printing line by line
 * what runs and how each job ends. Ctrl-C stops it gracefully (a second Ctrl-C exits at once).
 */
import { createSundial, type Job, UnrecoverableError } from '../src/index.ts';

const sundial = createSundial();
const jobs = sundial.queue('examples');

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

sundial.worker(
  'examples',
  {
    'send-email': async ({ to }: { to: string }, { signal }) => {
      await sleep(50 + Math.random() * 200, signal);
      return `sent to ${to}`;
    },
    // Fails now and then to show retries with exponential backoff.
    'resize-image': async ({ file }: { file: string }, { signal }) => {
      await sleep(100 + Math.random() * 300, signal);
      if (Math.random() < 0.4) throw new Error(`image service busy while resizing ${file}`);
      return { file, width: 800 };
    },
    // Sometimes takes longer than its 1 s timeout.
    'build-report': async ({ month }: { month: string }, { signal }) => {
      await sleep(Math.random() < 0.3 ? 2000 : 400, signal);
      return `report for ${month}`;
    },
    // Bad input cannot be fixed by retrying: straight to the dead-letter state.
    'import-csv': async ({ rows }: { rows: number }) => {
      if (rows < 0) throw new UnrecoverableError(`rows must not be negative, got ${rows}`);
      return `imported ${rows} rows`;
    },
  },
  { concurrency: 4 },
);

const time = () => new Date().toISOString().slice(11, 23);
const label = (job: Job) => `#${job.id} ${job.name}`.padEnd(22);
const say = (what: string, job: Job, detail: string) =>
  console.log(`${time()}  ${what.padEnd(9)} ${label(job)} ${detail}`);

sundial.on('job.started', ({ job }) =>
  say('started', job, `attempt ${job.attempt} ${JSON.stringify(job.payload)}`),
);
sundial.on('job.completed', ({ job, result, durationMs }) =>
  say('completed', job, `in ${durationMs} ms -> ${JSON.stringify(result)}`),
);
sundial.on('job.retrying', ({ job, error, delayMs }) =>
  say('retrying', job, `in ${delayMs} ms after: ${error.message}`),
);
sundial.on('job.dead', ({ job, error }) => say('dead', job, `${error.message}`));
sundial.on('job.stalled', ({ jobId, name, recovered }) =>
  console.log(`${time()}  stalled   #${jobId} ${name} ${recovered ? 'recovered' : 'given up'}`),
);
sundial.on('error', ({ error, context }) => console.error(`${time()}  error     ${context}:`, error));

let n = 0;
const producer = setInterval(() => {
  n++;
  const adds: Promise<unknown>[] = [jobs.add('send-email', { to: `user${n}@example.com` })];
  if (n % 2 === 0)
    adds.push(jobs.add('resize-image', { file: `photo-${n}.jpg` }, { attempts: 4, backoff: 'exponential' }));
  if (n % 5 === 0)
    adds.push(jobs.add('build-report', { month: '2026-11' }, { timeout: 1000, attempts: 2, backoff: 500 }));
  if (n % 7 === 0) adds.push(jobs.add('import-csv', { rows: n % 14 === 0 ? -1 : n * 10 }));
  Promise.all(adds).catch((error) => console.error('could not add example jobs:', error));
}, 1000);

console.log(
  `Sundial example: worker on queue "examples", store ${(sundial.store as { path?: string }).path ?? ''}`,
);
console.log('Adding example jobs every second. Press Ctrl-C to stop gracefully.\n');

sundial.closeOnSignals({
  graceMs: 10_000,
  onSignal: (signal) => {
    clearInterval(producer);
    console.log(
      `\n${time()}  ${signal}: no new jobs; waiting for running ones (Ctrl-C again to exit at once)`,
    );
  },
});
