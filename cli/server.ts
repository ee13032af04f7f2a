// Finding a Temporal server, or starting the embedded one: `npm start` and `autoresearch worker` work on
// a bare machine, and join an existing server (local, self-hosted or Cloud) when TEMPORAL_ADDRESS says so.
import { startDevServer, type DevServer } from '../temporal/devServer';
import {
  isLocalAddress,
  serverAnswers,
  temporalSettings,
  type TemporalSettings,
} from '../temporal/connection';
import { homePath } from '../system/home';

export interface ServerHandle {
  settings: TemporalSettings;
  /** The Web UI's base URL, when known. */
  uiUrl: string | null;
  /** Set when this process started the server (and so must stop it). */
  started: DevServer | null;
}

export function portOf(address: string): number {
  const port = Number(address.split(':').pop());
  return Number.isInteger(port) && port > 0 ? port : 7233;
}

export function uiUrlFor(settings: TemporalSettings): string | null {
  if (process.env.AUTORESEARCH_UI_URL) return process.env.AUTORESEARCH_UI_URL;
  if (isLocalAddress(settings.address)) return `http://localhost:${portOf(settings.address) + 1000}`;
  if (/\.tmprl\.cloud/.test(settings.address)) return 'https://cloud.temporal.io';
  return null;
}

export function defaultDbFile(): string {
  return process.env.AUTORESEARCH_TEMPORAL_DB ?? homePath('temporal.sqlite');
}

export async function ensureServer(
  log: (line: string) => void,
  options: { headless?: boolean } = {},
): Promise<ServerHandle> {
  const settings = temporalSettings();
  if (await serverAnswers(settings)) return { settings, uiUrl: uiUrlFor(settings), started: null };
  if (!isLocalAddress(settings.address))
    throw new Error(
      `No Temporal server answers at ${settings.address} (TEMPORAL_ADDRESS). Check the address, TLS and API key ` +
        'settings, or unset TEMPORAL_ADDRESS to use the embedded dev server.',
    );
  log(
    `No Temporal server at ${settings.address}; starting the embedded dev server (history in ${defaultDbFile()})...`,
  );
  const started = await startDevServer({
    port: portOf(settings.address),
    dbFile: defaultDbFile(),
    headless: options.headless,
    namespace: settings.namespace,
    log,
  });
  return { settings, uiUrl: started.uiUrl, started };
}
