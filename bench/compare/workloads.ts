/**
 * W1–W4 for a peer: the same counts, concurrency, pacing and timing code as Sundial's workloads
 * (bench/workloads), each run on a fresh PostgreSQL schema or Redis prefix of its own.
 */
import { WorkerProcess } from '../child.ts';
import { QUEUE } from '../fixtures.ts';
import { type StoreSpec, withNamespace } from '../stores.ts';
import * as w1 from '../workloads/w1-single-adds.ts';
import * as w2 from '../workloads/w2-bulk-adds.ts';
import * as w3 from '../workloads/w3-drain.ts';
import * as w4 from '../workloads/w4-latency.ts';
import type { Sample } from '../workloads/workload.ts';
import type { Peer, PeerProducer, PeerTarget, PeerWorkloadId } from './peer.ts';

function target(spec: StoreSpec): PeerTarget {
  switch (spec.kind) {
    case 'postgres':
      return { url: spec.url, namespace: spec.schema };
    case 'redis':
      return { url: spec.url, namespace: spec.prefix };
    case 'sqlite':
      throw new Error('the peers run on PostgreSQL or Redis, not SQLite');
  }
}

/** Runs `work` with `peer` on a fresh namespace and a producer opened (and the schema made) untimed. */
function withPeer<T>(
  peer: Peer,
  tag: string,
  work: (producer: PeerProducer, target: PeerTarget) => Promise<T>,
): Promise<T> {
  return withNamespace(peer.backend, `${tag}${peer.id}`, async (spec) => {
    const where = target(spec);
    const producer = await peer.producer(where);
    try {
      return await work(producer, where);
    } finally {
      await producer.close();
    }
  });
}

async function expectUnfinished(producer: PeerProducer, expected: number): Promise<void> {
  const found = await producer.unfinished();
  if (found !== expected) throw new Error(`expected ${expected} unfinished jobs, found ${found}`);
}

async function addInChunks(producer: PeerProducer, count: number, payload: (n: number) => object) {
  for (let start = 0; start < count; start += w2.BULK_CHUNK) {
    const size = Math.min(w2.BULK_CHUNK, count - start);
    await producer.addBulk(Array.from({ length: size }, (_, i) => payload(start + i)));
  }
}

/** One run of workload `id` for `peer`. */
export function runPeerWorkload(peer: Peer, id: PeerWorkloadId): Promise<Sample> {
  switch (id) {
    case 'W1':
      return withPeer(peer, 'w1', async (producer) => {
        let issued = 0;
        const client = async () => {
          while (issued < w1.TOTAL) {
            issued++;
            await producer.add({ n: issued });
          }
        };
        const started = performance.now();
        await Promise.all(Array.from({ length: w1.IN_FLIGHT }, client));
        const seconds = (performance.now() - started) / 1000;
        await expectUnfinished(producer, w1.TOTAL);
        return { value: w1.TOTAL / seconds };
      });
    case 'W2':
      return withPeer(peer, 'w2', async (producer) => {
        const started = performance.now();
        await addInChunks(producer, w2.TOTAL, (n) => ({ n }));
        const seconds = (performance.now() - started) / 1000;
        await expectUnfinished(producer, w2.TOTAL);
        return { value: w2.TOTAL / seconds };
      });
    case 'W3':
      return withPeer(peer, 'w3', async (producer, where) => {
        await addInChunks(producer, w3.TOTAL, () => ({}));
        const worker = await spawnPeerWorker(peer, where, 'drain', w3.CONCURRENCY, w3.TOTAL);
        let seconds: number;
        try {
          seconds = await w3.timeDrain(worker);
        } finally {
          await worker.stop();
        }
        await expectUnfinished(producer, 0);
        return { value: w3.TOTAL / seconds };
      });
    case 'W4':
      return withPeer(peer, 'w4', async (producer, where) => {
        const worker = await spawnPeerWorker(peer, where, 'latency', w4.CONCURRENCY, w4.TOTAL);
        try {
          return await w4.measureLatency(worker, () => w4.addPaced((sentAt) => producer.add({ sentAt })));
        } finally {
          await worker.stop();
        }
      });
  }
}

function spawnPeerWorker(
  peer: Peer,
  where: PeerTarget,
  mode: 'drain' | 'latency',
  concurrency: number,
  expected: number,
): Promise<WorkerProcess> {
  return WorkerProcess.spawn(
    { mode, peer: peer.id, url: where.url, namespace: where.namespace, queue: QUEUE, concurrency, expected },
    30_000,
  );
}
