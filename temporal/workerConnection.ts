// A worker's connection to the Temporal server, apart from the client's (temporal/connection.ts), so that
// the client side (starting a run, the run commands) never loads the worker SDK and its native core.
import { NativeConnection } from '@temporalio/worker';
import { temporalSettings, withConnectRetry, type RetryOptions } from './connection';

export async function connectWorkerConnection(
  settings = temporalSettings(),
  retry: RetryOptions = {},
): Promise<NativeConnection> {
  return withConnectRetry(
    `No Temporal server answers at ${settings.address} yet`,
    () => NativeConnection.connect(settings.connectionOptions),
    retry,
  );
}
