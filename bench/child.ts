import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  ChildMessage,
  ChildMessageType,
  ParentMessage,
  PeerWorkerConfig,
  WorkerConfig,
} from './protocol.ts';

const WORKER_SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
/** The idle worker runs the built package from plain JS, as a deployed worker would. */
const IDLE_WORKER_SCRIPT = fileURLToPath(new URL('./idle-worker.mjs', import.meta.url));
/** A peer's worker (bench/compare), which speaks the same protocol. */
const PEER_WORKER_SCRIPT = fileURLToPath(new URL('./compare/peer-process.ts', import.meta.url));

function scriptFor(config: WorkerConfig | PeerWorkerConfig): string {
  if ('peer' in config) return PEER_WORKER_SCRIPT;
  return config.mode === 'idle' ? IDLE_WORKER_SCRIPT : WORKER_SCRIPT;
}

/** Every child not yet exited, so a failing or interrupted bench can take them down with it. */
const live = new Set<ChildProcess>();

/** Kills every worker process still running. Synchronous, so it is safe in an `exit` handler. */
export function killAllChildren(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

interface Waiter {
  type: ChildMessageType;
  resolve: (message: ChildMessage) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A worker process (`bench/worker-process.ts`, `bench/idle-worker.mjs` or a peer's
 * `bench/compare/peer-process.ts`) seen from the bench: typed messages in and out, waits with
 * deadlines (a stuck child fails its run instead of hanging the bench), and a stop that always
 * ends the process.
 */
export class WorkerProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  /** Messages that arrived before anyone waited for them. */
  private readonly inbox: ChildMessage[] = [];
  private waiters: Waiter[] = [];
  private failure: Error | null = null;

  /** Forks the worker process and waits until its store is open. */
  static async spawn(config: WorkerConfig | PeerWorkerConfig, timeoutMs = 15_000): Promise<WorkerProcess> {
    const worker = new WorkerProcess(config);
    try {
      await worker.receive('ready', timeoutMs);
    } catch (error) {
      await worker.stop();
      throw error;
    }
    return worker;
  }

  private constructor(config: WorkerConfig | PeerWorkerConfig) {
    // process.execPath is the Node 24 that npm put first on PATH, which runs the .ts script directly.
    this.child = fork(scriptFor(config), [JSON.stringify(config)], {
      execPath: process.execPath,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(this.child);
    this.child.on('message', (message: ChildMessage) => this.deliver(message));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        this.fail(new Error(`worker process exited (code ${code}, signal ${signal})`));
        resolve();
      });
    });
    this.child.on('error', (error) => this.fail(error));
  }

  send(message: ParentMessage): void {
    if (!this.child.connected) throw this.failure ?? new Error('worker process is not connected');
    this.child.send(message);
  }

  /** The next message of `type` (one that already arrived, or the next to come). */
  receive<Type extends ChildMessageType>(
    type: Type,
    timeoutMs: number,
  ): Promise<Extract<ChildMessage, { type: Type }>> {
    const index = this.inbox.findIndex((message) => message.type === type);
    if (index >= 0) {
      const [message] = this.inbox.splice(index, 1);
      return Promise.resolve(message as Extract<ChildMessage, { type: Type }>);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        type,
        resolve: (message) => resolve(message as Extract<ChildMessage, { type: Type }>),
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((other) => other !== waiter);
          reject(new Error(`worker process sent no '${type}' within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Asks the worker to close gracefully; kills it if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ParentMessage);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  private deliver(message: ChildMessage): void {
    if (message.type === 'error') {
      this.fail(new Error(`worker process: ${message.message}`));
      return;
    }
    const waiter = this.waiters.find((candidate) => candidate.type === message.type);
    if (!waiter) {
      this.inbox.push(message);
      return;
    }
    this.waiters = this.waiters.filter((other) => other !== waiter);
    clearTimeout(waiter.timer);
    waiter.resolve(message);
  }

  /** Records the first failure and rejects everyone waiting: nothing more useful will arrive. */
  private fail(error: Error): void {
    this.failure ??= error;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(this.failure);
    }
  }
}
