import type { StoreHarness } from './conformance-helpers.ts';
import { describeJobWorkConformance } from './job-work-conformance.ts';
import { describeLockConformance } from './lock-conformance.ts';
import { describeManagementConformance } from './management-conformance.ts';
import { describeScheduleConformance } from './schedule-conformance.ts';
import { describeWakeUpConformance } from './wakeup-conformance.ts';

export {
  harnessOf,
  newJob,
  type StoreHarness,
  T0,
  useFreshStore,
  useStoreUnderTest,
} from './conformance-helpers.ts';

/**
 * The contract every store engine must meet, with the same observable behaviour, one suite per role
 * of the `Store` contract (the search role's is search-conformance.ts, the handoff's
 * handoff-conformance.ts). Each engine's test file calls this with a factory that makes an empty
 * store.
 */
export function describeStoreConformance(engine: string, makeStore: () => Promise<StoreHarness>): void {
  describeJobWorkConformance(engine, makeStore);
  describeManagementConformance(engine, makeStore);
  describeScheduleConformance(engine, makeStore);
  describeLockConformance(engine, makeStore);
  describeWakeUpConformance(engine, makeStore);
}
