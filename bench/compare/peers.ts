import type { StoreKind } from '../stores.ts';
import { bullmq } from './bullmq.ts';
import { graphileWorker } from './graphile-worker.ts';
import type { Peer, PeerId } from './peer.ts';
import { pgBoss } from './pg-boss.ts';

export type { Peer, PeerId, PeerWorkloadId } from './peer.ts';

/** Every peer, in the order their columns are printed. */
export const peers: readonly Peer[] = [bullmq, pgBoss, graphileWorker];

/** The peers that run on the same kind of server as `store` (none for SQLite). */
export function peersFor(store: StoreKind): Peer[] {
  return peers.filter((peer) => peer.backend === store);
}

export function peerById(id: string): Peer {
  const peer = peers.find((candidate) => candidate.id === id);
  if (!peer)
    throw new Error(`unknown peer ${JSON.stringify(id)}; known: ${peers.map((p) => p.id).join(', ')}`);
  return peer;
}

export function isPeerId(id: string): id is PeerId {
  return peers.some((peer) => peer.id === id);
}
