import type { BackoffSpec, Job } from '../core/index.ts';

/** What every engine shares in how it stores and hands out jobs. */

// Most jobs share one backoff object (the queue's default): serialise each object once.
const backoffTexts = new WeakMap<BackoffSpec, string>();

export function backoffJson(spec: BackoffSpec): string {
  let text = backoffTexts.get(spec);
  if (text === undefined) {
    text = JSON.stringify(spec);
    backoffTexts.set(spec, text);
  }
  return text;
}

// Most jobs of a queue share one backoff; parsing each distinct spec once keeps claims cheap.
const backoffCache = new Map<string, BackoffSpec>();

export function parseBackoff(text: string): BackoffSpec {
  let spec = backoffCache.get(text);
  if (spec === undefined) {
    spec = Object.freeze(JSON.parse(text)) as BackoffSpec;
    if (backoffCache.size < 1000) backoffCache.set(text, spec);
  }
  return spec;
}

/** The order claims hand jobs out in: priority (high first), then run-at, then id. */
export function claimOrder(a: Job, b: Job): number {
  return b.priority - a.priority || a.runAt - b.runAt || Number(a.id) - Number(b.id);
}
