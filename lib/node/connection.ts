// Where the Temporal server is and how to reach it: the standard Temporal environment configuration
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS settings, TEMPORAL_PROFILE and the
// config file), so the same worker joins a local dev server, a self-hosted cluster or Temporal Cloud.
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';

export const DEFAULT_ADDRESS = 'localhost:7233';

export interface TemporalSettings {
  address: string;
  namespace: string;
  connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

export function temporalSettings(): TemporalSettings {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const address = connectionOptions.address ?? DEFAULT_ADDRESS;
  return { address, namespace: namespace ?? 'default', connectionOptions: { ...connectionOptions, address } };
}

/** True when the address is this machine, where the tool may start a dev server itself. */
export function isLocalAddress(address: string): boolean {
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)(:\d+)?$/.test(address);
}

export async function connectClient(settings = temporalSettings()): Promise<Client> {
  const connection = await Connection.connect(
    settings.connectionOptions as Parameters<typeof Connection.connect>[0],
  );
  return new Client({ connection, namespace: settings.namespace });
}

export async function connectWorkerConnection(settings = temporalSettings()): Promise<NativeConnection> {
  return NativeConnection.connect(settings.connectionOptions);
}

/** Whether a Temporal frontend answers at `address` within `timeoutMs`. */
export async function serverAnswers(settings: TemporalSettings, timeoutMs = 2000): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({
      ...(settings.connectionOptions as Parameters<typeof Connection.connect>[0]),
      connectTimeout: timeoutMs,
    });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => {});
  }
}
