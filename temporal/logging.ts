// The SDK's own log lines, trimmed to what a person running a worker needs: warnings and errors,
// without the expected notice that a training-only worker registers no workflows.
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';

const EXPECTED = /No workflows registered, not polling for workflow tasks/;

export function installQuietRuntime(): void {
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry: LogEntry) => {
      if (EXPECTED.test(entry.message)) return;
      console.error(`[${entry.level}] ${entry.message}`, entry.meta ?? '');
    }),
  });
}
