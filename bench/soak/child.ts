import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ParentMessage, ProducerConfig, WorkerConfig } from './protocol.ts';

const SCRIPTS = {
  producer: fileURLToPath(new URL('./producer.ts', import.meta.url)),
  worker: fileURLToPath(new URL('./worker.ts', import.meta.url)),
};

type Of<Type extends ChildMessage['type']> = Extract<ChildMessage, { type: Type }>;

/** Every child not yet exited, so an interrupted soak takes them down with it. */
const live = new Set<ChildProcess>();

/** Kills every child still running. Synchronous, so it is safe in an `exit` handler. */
export function killSoakChildren(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/**
 * The producer or the worker process seen from the soak: it sends messages, waits for the next one
 * of a type (with a deadline), and hears `progress` as it comes. A child that dies, or reports a
 * `fatal` error, fails every wait from then on.
 */
export class SoakChild {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private readonly inbox: ChildMessage[] = [];
  private readonly waiters: { type: string; resolve: (message: ChildMessage) => void }[] = [];
  private failure: Error | null = null;
  private readonly failed: Promise<never>;
  private rejectAll: (error: Error) => void = () => {};
  /** Called with each `progress` message. */
  onProgress: (completed: number) => void = () => {};

  static async start(config: ProducerConfig | WorkerConfig): Promise<SoakChild> {
    const child = new SoakChild(config);
    try {
      await child.next('ready', 30_000);
    } catch (error) {
      await child.stop(1_000);
      throw error;
    }
    return child;
  }

  private constructor(config: ProducerConfig | WorkerConfig) {
    // process.execPath is the Node 24 npm put first on PATH, which runs .ts directly.
    this.child = fork(SCRIPTS[config.role], [JSON.stringify(config)], {
      execPath: process.execPath,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(this.child);
    this.failed = new Promise<never>((_, reject) => {
      this.rejectAll = reject;
    });
    this.failed.catch(() => {}); // read through `next`; never unhandled
    this.child.on('message', (message: ChildMessage) => this.deliver(message));
    this.child.on('error', (error) => this.fail(error));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        this.fail(new Error(`${config.role} process exited (code ${code}, signal ${signal})`));
        resolve();
      });
    });
  }

  send(message: ParentMessage): void {
    if (this.failure) throw this.failure;
    this.child.send(message);
  }

  /** The next message of `type` (one already arrived, or the next to come). */
  next<Type extends ChildMessage['type']>(type: Type, timeoutMs: number): Promise<Of<Type>> {
    const index = this.inbox.findIndex((message) => message.type === type);
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0] as Of<Type>);
    if (this.failure) return Promise.reject(this.failure);
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<Of<Type>>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no '${type}' within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ type, resolve: (message) => resolve(message as Of<Type>) });
    });
    return Promise.race([arrived, this.failed]).finally(() => clearTimeout(timer));
  }

  /** Sends `message` and waits for the answer of `type`. */
  ask<Type extends ChildMessage['type']>(
    message: ParentMessage,
    type: Type,
    timeoutMs: number,
  ): Promise<Of<Type>> {
    this.send(message);
    return this.next(type, timeoutMs);
  }

  /** Waits up to `timeoutMs` for the process to exit by itself, then kills it. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  private deliver(message: ChildMessage): void {
    if (message.type === 'progress') {
      this.onProgress(message.completed);
      return;
    }
    if (message.type === 'fatal') {
      this.fail(new Error(message.message));
      return;
    }
    const index = this.waiters.findIndex((waiter) => waiter.type === message.type);
    if (index < 0) this.inbox.push(message);
    else this.waiters.splice(index, 1)[0]!.resolve(message);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.rejectAll(error);
  }
}
