// Waiting for a Temporal server this process started to be usable: the dev server (devServer.ts), and a
// server on PostgreSQL (test/support/temporalCluster.ts) both before and after its namespace and search
// attributes are registered.
import { Connection } from '@temporalio/client';
import type { ChildProcess } from 'node:child_process';
import { ALL_SEARCH_ATTRIBUTES } from '../common/searchAttributes';

/**
 * How long a new server may take to be usable. A fresh SQLite file on a loaded 2-core machine takes
 * tens of seconds to create its schema and the namespace; a server that fails exits, and is seen at once.
 */
export const READY_TIMEOUT_MS = 300_000;

export interface ReadyWait {
  namespace: string;
  /** The server's process: its exit ends the wait at once, with its output. */
  child: ChildProcess;
  /** The server's last output, for the error. */
  output: () => string;
  timeoutMs: number;
  /** Wait only for the frontend to answer (a server whose namespace is yet to be created). */
  frontendOnly?: boolean;
  /** The server, for the error ("The Temporal dev server"). */
  name?: string;
}

/**
 * Ready means usable, not only answering: the frontend answers, the namespace is registered and the
 * project's search attributes are listed on it (a run started before that fails on them).
 */
export async function waitUntilReady(address: string, wait: ReadyWait): Promise<void> {
  const { namespace, child, output, timeoutMs } = wait;
  const name = wait.name ?? 'The Temporal dev server';
  const deadline = Date.now() + timeoutMs;
  let exited: string | null =
    child.exitCode !== null
      ? `code ${child.exitCode}`
      : child.signalCode
        ? `signal ${child.signalCode}`
        : null;
  child.once('exit', (code, signal) => (exited = code !== null ? `code ${code}` : `signal ${signal}`));
  let waiting = 'the frontend to answer';
  let lastError = '';
  let pause = 250;
  while (Date.now() < deadline) {
    if (exited !== null)
      throw new Error(
        `${name} exited (${exited}) before it was ready: ${output().trim().slice(-800) || 'it printed nothing'}`,
      );
    let connection: Connection | undefined;
    try {
      waiting = 'the frontend to answer';
      connection = await Connection.connect({ address, connectTimeout: 5000 });
      await connection.workflowService.getSystemInfo({});
      if (wait.frontendOnly) return;
      waiting = `namespace "${namespace}" to be registered`;
      await connection.workflowService.describeNamespace({ namespace });
      waiting = `the search attributes to be listed on namespace "${namespace}"`;
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = ALL_SEARCH_ATTRIBUTES.map((key) => key.name).filter(
        (attribute) => !customAttributes?.[attribute],
      );
      if (missing.length === 0) return;
      lastError = `not listed yet: ${missing.join(', ')}`;
    } catch (err) {
      lastError = (err as Error).message.split('\n')[0]!;
    } finally {
      await connection?.close().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 2000);
  }
  throw new Error(
    `${name} at ${address} was not ready within ${timeoutMs / 1000}s: still waiting for ${waiting} ` +
      `(last answer: ${lastError || 'none'}). Its output: ${output().trim().slice(-800) || 'none'}`,
  );
}
