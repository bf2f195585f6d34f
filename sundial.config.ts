/**
 * The example behind `npm start` (`sundial work` on this config): a scheduler and workers on the
 * embedded SQLite store (`.sundial/sundial.db`) with an example task set. In another terminal,
 * `npx sundial list`, `npx sundial queues`, `npx sundial jobs examples`, `npx sundial dlq list
 * examples` and `npx sundial test memory-check` work on it.
 */
import { defineConfig, UnrecoverableError } from './src/index.ts';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

export default defineConfig({
  // When it runs: the scheduler fires these into the store (each occurrence once, however many
  // schedulers share the store); the workers run them.
  schedule: (schedule) => {
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
  },
  // The work: handlers for the jobs of queue "examples".
  workers: {
    examples: {
      handlers: {
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
      options: { concurrency: 4 },
    },
  },
  taskRunner: { allowedCommands: ['echo'] },
});
