/**
 * `npm run bench:crontab -- [--minutes N]`: `sundial run` under a real system crontab, as a user on
 * a server without a daemon would run it (`* * * * * sundial run`). A temp project with a task every
 * second and one every five seconds; cron starts `sundial run` each minute for N whole minutes
 * (default 3) after a minute of warm-up. Then reports, from the store, how late each occurrence started (its run's start
 * against its scheduled time) and which never ran. The goal: every occurrence within a second.
 *
 * Needs root (it installs Debian's `cron` if missing, adds a line to root's crontab and removes it
 * afterwards, and starts the cron daemon if none runs). Not part of `npm run bench`: it takes minutes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSundial } from '../../src/index.ts';
import { percentile } from '../stats.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = join(ROOT, 'bench/results');
const MARK = '# sundial bench:crontab';

interface TaskFigures {
  task: string;
  expected: number;
  ran: number;
  missed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  withinOneSecond: number;
}

function minutesArg(): number {
  const at = process.argv.indexOf('--minutes');
  const minutes = at >= 0 ? Number(process.argv[at + 1]) : 3;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 60) {
    throw new Error(`--minutes: a whole number from 1 to 60, not ${process.argv[at + 1]}`);
  }
  return minutes;
}

function ensureCron(): { started: boolean } {
  if (process.getuid?.() !== 0) throw new Error('bench:crontab needs root (root crontab, the cron daemon)');
  if (spawnSync('which', ['cron']).status !== 0) {
    console.error('installing Debian cron…');
    execFileSync('apt-get', ['install', '-y', '-q', 'cron'], { stdio: 'inherit' });
  }
  if (spawnSync('pgrep', ['-x', 'cron']).status === 0) return { started: false };
  execFileSync('cron');
  return { started: true };
}

function readCrontab(): string {
  const listed = spawnSync('crontab', ['-l'], { encoding: 'utf8' });
  return listed.status === 0 ? listed.stdout : '';
}

function writeCrontab(text: string): void {
  execFileSync('crontab', ['-'], { input: text });
}

async function main(): Promise<void> {
  const minutes = minutesArg();
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const cron = ensureCron();
  const dir = mkdtempSync(join(tmpdir(), 'sundial-crontab-'));
  const db = join(dir, 'app.db');
  writeFileSync(
    join(dir, 'sundial.config.mjs'),
    `export default {
  store: { path: ${JSON.stringify(db)} },
  schedule(schedule) {
    schedule.call(() => {}).name('every-second').everySecond();
    schedule.call(() => {}).name('every-5-seconds').everyFiveSeconds();
  },
};
`,
  );
  const cli = join(ROOT, 'dist/cli/main.js');
  const line = `* * * * * cd ${dir} && ${process.execPath} ${cli} run >> ${join(dir, 'cron.log')} 2>&1 ${MARK}`;
  const before = readCrontab();
  // The window: whole minutes after the line is in, after one more that is warm-up only. Each
  // run hands the first seconds of the next minute over to the next run (cron starts it about a
  // second late); the first minute cron starts has no run before it to do that.
  const installedAt = Date.now();
  const firstMinute = installedAt - (installedAt % 60_000) + 2 * 60_000;
  const lastMinuteEnd = firstMinute + minutes * 60_000;
  writeCrontab(`${before.trimEnd()}${before.trim() ? '\n' : ''}${line}\n`);
  console.error(`cron runs \`sundial run\` each minute in ${dir}; measuring ${minutes} whole minutes…`);
  try {
    // Until the last measured minute's runs have ended (each `run` waits for its runs).
    await new Promise((resolve) => setTimeout(resolve, lastMinuteEnd - Date.now() + 15_000));
  } finally {
    writeCrontab(
      readCrontab()
        .split('\n')
        .filter((entry) => !entry.includes(MARK))
        .join('\n'),
    );
    if (cron.started) spawnSync('pkill', ['-x', 'cron']);
  }

  const sundial = createSundial({ store: { path: db } });
  const runs = await sundial.queue('sundial.tasks').listJobs(undefined, { limit: 1000 });
  await sundial.close();
  const tasks: [string, number][] = [
    ['every-second', 1000],
    ['every-5-seconds', 5000],
  ];
  const figures: TaskFigures[] = tasks.map(([task, every]) => {
    const inWindow = runs.filter((job) => {
      const at = job.origin?.scheduledFor ?? 0;
      return job.origin?.schedule === task && at >= firstMinute && at < lastMinuteEnd;
    });
    const late = inWindow
      .filter((job) => job.startedAt !== null)
      .map((job) => job.startedAt! - job.origin!.scheduledFor);
    const expected = (lastMinuteEnd - firstMinute) / every;
    return {
      task,
      expected,
      ran: late.length,
      missed: expected - late.length,
      p50Ms: late.length ? percentile(late, 50) : Number.NaN,
      p99Ms: late.length ? percentile(late, 99) : Number.NaN,
      maxMs: late.length ? Math.max(...late) : Number.NaN,
      withinOneSecond: late.filter((ms) => ms < 1000).length,
    };
  });
  console.log(`sundial run under cron, ${minutes} whole minutes (goal: every occurrence within 1 s)\n`);
  console.log('task              expected  ran  missed  p50 ms  p99 ms  max ms  within 1 s');
  for (const f of figures) {
    console.log(
      `${f.task.padEnd(18)}${String(f.expected).padStart(8)}${String(f.ran).padStart(5)}${String(f.missed).padStart(8)}` +
        `${String(f.p50Ms).padStart(8)}${String(f.p99Ms).padStart(8)}${String(f.maxMs).padStart(8)}` +
        `${`${f.withinOneSecond}/${f.expected}`.padStart(12)}`,
    );
  }
  const pass = figures.every((f) => f.withinOneSecond === f.expected);
  console.log(`\n${pass ? 'PASS' : 'MISS'}: every occurrence started within a second of its time`);
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `crontab-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ minutes, figures, pass }, null, 2)}\n`);
  console.error(`wrote ${file}`);
  rmSync(dir, { recursive: true, force: true });
}

await main();
