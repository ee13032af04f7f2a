// A workflow for test/support/backlogLatency.ts: `count` activities scheduled at once, or one after the other.
import { proxyActivities } from '@temporalio/workflow';

const { pause } = proxyActivities<{ pause(ms: number): Promise<void> }>({ startToCloseTimeout: '1 minute' });

export async function fanout(count: number, ms: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => pause(ms)));
}
