/**
 * A peer's worker in its own process, the counterpart of bench/worker-process.ts: the same
 * protocol, the same handlers (nothing, or note the time), so both are timed alike by the bench.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildMessage, ParentMessage, PeerWorkerConfig, TimedPayload } from '../protocol.ts';
import { preciseNow } from '../protocol.ts';
import { peerById } from './peers.ts';

if (!process.send)
  throw new Error('bench/compare/peer-process.ts must be started by the bench (it needs IPC)');

function send(message: ChildMessage): void {
  process.send?.(message);
}

// An orphan would keep a core busy and skew every later run: die with the parent.
process.on('disconnect', () => process.exit(1));

const config = JSON.parse(process.argv[2] ?? '') as PeerWorkerConfig;
const peer = peerById(config.peer);

let handled = 0;
const latencies: number[] = [];

const consumer = await peer.consumer(
  { url: config.url, namespace: config.namespace },
  { mode: config.mode, concurrency: config.concurrency },
  (payload) => {
    if (config.mode === 'latency') latencies.push(preciseNow() - (payload as TimedPayload).sentAt);
    handled++;
    if (handled === config.expected) void reportWhenFinished();
  },
);

/**
 * The handlers have all run, but a job counts as done only once the peer has stored its completion
 * (as Sundial's `job.completed` does): some peers batch completions, so wait until none is left
 * unfinished. The few milliseconds of this wait are part of the timing, as they are of the work.
 */
async function reportWhenFinished(): Promise<void> {
  try {
    while ((await consumer.unfinished()) > 0) await sleep(2);
    send({ type: 'done', completed: handled, latencies });
  } catch (error) {
    send({ type: 'error', message: `counting unfinished jobs: ${String(error)}` });
  }
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'start':
      consumer.start().then(
        () => send({ type: 'started' }),
        (error: unknown) => send({ type: 'error', message: `starting: ${String(error)}` }),
      );
      break;
    case 'ping':
      send({ type: 'pong', id: message.id, now: preciseNow() });
      break;
    case 'stop':
      consumer.close().then(
        () => process.exit(0),
        (error: unknown) => {
          send({ type: 'error', message: `closing: ${String(error)}` });
          process.exit(1);
        },
      );
      break;
  }
});

send({ type: 'ready' });
