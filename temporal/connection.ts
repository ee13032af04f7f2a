// Where the Temporal server is and how to reach it: the standard Temporal environment configuration
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS settings, TEMPORAL_PROFILE and the
// config file), so the same worker joins a local dev server, a self-hosted cluster or Temporal Cloud.
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';

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

/** Errors that mean "no server answers (yet)": worth a retry while one may be starting, and a hint after. */
export const CONNECTION_ERROR =
  /Failed to connect before the deadline|tcp connect error|ConnectionRefused|ECONNREFUSED|connection refused|transport error|14 UNAVAILABLE/i;

export function isConnectionError(err: unknown): boolean {
  return err instanceof Error && CONNECTION_ERROR.test(err.message);
}

export interface RetryOptions {
  /** Keep trying this long while the server does not answer (default 0: one try). */
  retryForMs?: number;
  log?: (line: string) => void;
}

/**
 * `connect()`, tried again with backoff (0.25 s, doubling up to 5 s) while it fails for want of an
 * answering server, for at most `retryForMs`: a server just started, or one starting beside this worker.
 * Any other error, and the last one, is thrown as it was.
 */
export async function withConnectRetry<T>(
  what: string,
  connect: () => Promise<T>,
  { retryForMs = 0, log }: RetryOptions = {},
): Promise<T> {
  const deadline = Date.now() + retryForMs;
  let pause = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (err) {
      if (!isConnectionError(err) || Date.now() + pause > deadline) throw err;
      if (attempt === 1)
        log?.(
          `${what}: ${(err as Error).message.split('\n')[0]}; trying again for up to ${Math.round(retryForMs / 1000)}s`,
        );
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 5000);
    }
  }
}

export async function connectClient(
  settings = temporalSettings(),
  retry: RetryOptions = {},
): Promise<Client> {
  const connection = await withConnectRetry(
    `No Temporal server answers at ${settings.address} yet`,
    () => Connection.connect(settings.connectionOptions as Parameters<typeof Connection.connect>[0]),
    retry,
  );
  return new Client({ connection, namespace: settings.namespace });
}

/** What `autoresearch` adds under an error that says no server answered: the error itself stays as it was. */
export function noServerHint(address: string): string {
  return (
    `No Temporal server answers at ${address}: start one with \`autoresearch server\` ` +
    '(or `npm start` for the demo), or point TEMPORAL_ADDRESS at yours.'
  );
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
