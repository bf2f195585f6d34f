/**
 * The example app behind `npm start`: a scheduler and workers on the embedded SQLite store
 * (`.sundial/sundial.db`) with an example task set, printing line by line what fires, what runs and
 * how each run ends. Ctrl-C stops it gracefully (a second Ctrl-C exits at once).
 */
import { createSundial, type Job, Schedule, UnrecoverableError } from '../src/index.ts';

const sundial = createSundial();

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

// The work: handlers for the jobs of queue "examples".
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

// When it runs: the scheduler fires these into the store (each occurrence once, however many
// schedulers share the store); the workers run them.
const schedule = new Schedule();
schedule
  .job('examples', 'send-email', { to: 'ada@example.com' })
  .name('welcome-emails')
  .everyTwoSeconds()
  .allowOverlapping();
schedule
  .job('examples', 'resize-image', { file: 'photo.jpg' }, { attempts: 4, backoff: 'exponential' })
  .name('thumbnails')
  .everyFiveSeconds();
schedule
  .job('examples', 'build-report', { month: '2026-11' }, { timeout: 1000, attempts: 2, backoff: 500 })
  .name('monthly-report')
  .everyTenSeconds();
schedule.job('examples', 'import-csv', { rows: -1 }).name('broken-import').everyThirtySeconds();
schedule
  .call(({ log }) => log(`heap in use: ${Math.round(process.memoryUsage().heapUsed / 1e6)} MB`))
  .name('memory-check')
  .everyFifteenSeconds();
schedule
  .command('echo', ['backup finished, password=hunter2 (masked before it is stored)'])
  .name('backup')
  .everyTwentySeconds();
const tasks = schedule.load(); // validated and compiled once, shared by the scheduler and the runner
sundial.scheduler(tasks);
sundial.taskWorker(tasks);

const time = () => new Date().toISOString().slice(11, 23);
const label = (job: Job) =>
  `#${job.id} ${job.queue === 'sundial.tasks' ? (job.origin?.schedule ?? job.name) : job.name}`.padEnd(22);
const say = (what: string, job: Job, detail: string) =>
  console.log(`${time()}  ${what.padEnd(9)} ${label(job)} ${detail}`);
const shown = (result: unknown) =>
  typeof (result as { output?: unknown })?.output === 'string'
    ? JSON.stringify((result as { output: string }).output.trim())
    : JSON.stringify(result);

sundial.on('task.fired', ({ taskId, catchUp }) =>
  console.log(`${time()}  fired     ${taskId}${catchUp ? ' (catch-up)' : ''}`),
);
sundial.on('task.skipped', ({ taskId, reason }) => console.log(`${time()}  skipped   ${taskId}: ${reason}`));
sundial.on('job.started', ({ job }) => say('started', job, `attempt ${job.attempt}`));
sundial.on('job.completed', ({ job, result, durationMs }) =>
  say('completed', job, `in ${durationMs} ms -> ${shown(result)}`),
);
sundial.on('job.retrying', ({ job, error, delayMs }) =>
  say('retrying', job, `in ${delayMs} ms after: ${error.message}`),
);
sundial.on('job.dead', ({ job, error }) => say('dead', job, error.message.split('\n')[0]!));
sundial.on('job.stalled', ({ job, recovered }) => say('stalled', job, recovered ? 'recovered' : 'given up'));
sundial.on('error', ({ error, context }) => console.error(`${time()}  error     ${context}:`, error));

console.log(`Sundial example: a scheduler and workers on ${(sundial.store as { path?: string }).path ?? ''}`);
for (const task of tasks) console.log(`  ${task.definition.id.padEnd(16)} ${task.frequency}`);
console.log('Press Ctrl-C to stop gracefully.\n');

sundial.closeOnSignals({
  graceMs: 10_000,
  onSignal: (signal) => {
    console.log(
      `\n${time()}  ${signal}: no new jobs; waiting for running ones (Ctrl-C again to exit at once)`,
    );
  },
});
