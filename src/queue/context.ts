import type { Batcher, Clock, Masker, SundialEvents, TypedEmitter } from '../core/index.ts';
import type { AddedJob, NewJob, Store } from '../store/index.ts';

/** What queues and workers of one Sundial instance share. */
export interface SundialContext {
  store: Store;
  clock: Clock;
  events: TypedEmitter<SundialEvents>;
  /** Single adds issued in the same event-loop turn go to the store as one batch. */
  addBatcher: Batcher<NewJob, AddedJob>;
  /** Masks secrets in what is stored and reported (job errors); the built-in rules when absent. */
  masker?: Masker;
}
