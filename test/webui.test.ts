// The real Temporal Web UI (embedded in the dev server) in headless Chromium: a finished run's search
// attributes as list columns and as a filter, and its page's summary, details, current details and
// activity summaries. Screenshots go to test-artifacts/webui/. Skipped only when no Chromium is installed.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startRun, workflowIdFor } from '../client';
import type { DevServer } from '../temporal/devServer';
import type { RunStatus } from '../common/types';
import { statusQuery } from '../workflows/messages';
import { makeFakeTarget } from './support/fakeTarget';
import {
  freePort,
  startOwnServer,
  startWorkers,
  testClient,
  uniqueQueues,
  type RunningWorkers,
} from './support/temporal';
import { waitFor } from './support/waitFor';

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/webui/', import.meta.url));

/** The Web UI's own key for the workflow list's columns: { [namespace]: [{ label }] }. */
const COLUMNS_STORAGE_KEY = 'namespace-workflow-table-columns';

/**
 * The custom search attribute columns to show and what each must read for the finished run, from its
 * status query. Numbers are compared as numbers (the UI prints 0.14 for the Double 0.14).
 */
function expectedColumns(s: RunStatus): Record<string, string | number> {
  return {
    AutoresearchTag: s.tag,
    AutoresearchExperiments: s.experimentsDone,
    AutoresearchBestMetric: s.best!.metric,
    AutoresearchPhase: s.phase,
    AutoresearchStatus: 'finished',
    AutoresearchKept: s.counts.keep,
    AutoresearchTarget: s.target,
  };
}

/** A literal string inside a RegExp. */
const re = (s: string | number) => String(s).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

/** No network beyond loopback: no sandbox (we may be root), no GPU, no Google services. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-sync',
  '--disable-extensions',
  '--disable-breakpad',
  '--metrics-recording-only',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater',
];

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port for the frontend whose UI port (port + 1000) is free too. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = freePort();
    if ((await portIsFree(port)) && (await portIsFree(port + 1000))) return port;
  }
}

/**
 * A picture of the page into test-artifacts/webui/ (and /tmp/webui-<name>.png). The UI scrolls inside
 * the window, so instead of a full-page shot the window grows: taller by `height`, or with `fitTable`
 * wide enough for the workflow list's columns (saved views folded away).
 */
async function screenshot(page: Page, name: string, options: { fitTable?: boolean; height?: number } = {}) {
  const original = page.viewportSize()!;
  const height = options.height ?? original.height;
  await page.setViewportSize({ width: original.width, height });
  if (options.fitTable) {
    const collapse = page.getByRole('button', { name: 'Collapse saved views' });
    if (await collapse.count()) await collapse.click();
    await page.mouse.move(0, 0);
    const table = page.locator('table').first();
    for (let width = original.width; width <= 3200; width += 160) {
      await page.setViewportSize({ width, height });
      const clipped = await table.evaluate((e) => {
        for (let n = e.parentElement; n; n = n.parentElement)
          if (n.scrollWidth > n.clientWidth + 1) return true;
        return false;
      });
      if (!clipped) break;
    }
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  copyFileSync(file, `/tmp/webui-${name}.png`);
  await page.setViewportSize(original);
  return file;
}

const chromiumPath = findChromium();

describe(
  'the Temporal Web UI shows a run',
  {
    skip: chromiumPath
      ? false
      : 'no Chromium: install it (apt-get install chromium) or set CHROMIUM_PATH to its binary',
  },
  () => {
    const tag = `webui-${Date.now().toString(36)}`;
    const workflowId = workflowIdFor(tag);
    let server: DevServer | undefined;
    let client: Client | undefined;
    let workers: RunningWorkers | undefined;
    let browser: Browser | undefined;
    let context: BrowserContext;
    let page: Page;
    let ui: string;
    let runId: string;
    let status: RunStatus;
    const blocked: string[] = [];

    before(async () => {
      server = await startOwnServer(undefined, await freePortPair(), { ui: true });
      assert.ok(server.uiUrl, 'the dev server serves the UI');
      ui = server.uiUrl;
      client = await testClient(server.address);
      const queues = uniqueQueues('webui');
      // The workers stay up while the browser looks: the UI's "Current Details" is a query they answer.
      workers = await startWorkers(server.address, queues);
      const repo = await makeFakeTarget();
      const handle = await startRun(client, { repo, tag, maxExperiments: 2, seed: 1, ...queues });
      runId = handle.firstExecutionRunId;
      await handle.result();
      status = await handle.query(statusQuery);
      // Visibility (what the list reads) catches up with the last upserts.
      await waitFor('the list to see the finished run', async () => {
        const query = `AutoresearchTag="${tag}" AND AutoresearchExperiments=${status.experimentsDone}`;
        return (await client!.workflow.count(query)).count === 1 ? true : undefined;
      });

      browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
      context = await browser.newContext({ viewport: { width: 1920, height: 1000 }, timezoneId: 'UTC' });
      // The page talks to the UI server only.
      await context.route('**/*', (route) => {
        const { hostname } = new URL(route.request().url());
        if (['localhost', '127.0.0.1', '[::1]'].includes(hostname)) return route.continue();
        blocked.push(route.request().url());
        return route.abort();
      });
      // A generous wait for each element (a loaded machine renders slowly), as for every condition here.
      context.setDefaultTimeout(90_000);
      page = await context.newPage();
    });

    after(async () => {
      await browser?.close();
      await workers?.stop();
      await client?.connection.close();
      await server?.stop();
    });

    /** The list's header labels and the run's row, cell by cell, keyed by header. */
    async function rowByHeader(): Promise<Record<string, string>> {
      const row = page
        .getByTestId('workflows-summary-configurable-table-row')
        .filter({ has: page.getByRole('link', { name: workflowId, exact: true }) });
      await row.waitFor();
      // The header and the row render apart (a page just loaded may show the default header a moment
      // longer): read both until they agree on the columns.
      const read = async () => ({
        headers: await page.locator('table thead th').allInnerTexts(),
        cells: await row.locator('td').allInnerTexts(),
      });
      // Past the wait, the last read goes to the assertion below, which says what differed.
      const { headers, cells } = await waitFor(
        'the table header to match the row',
        async () => {
          const seen = await read();
          return seen.headers.length === seen.cells.length ? seen : undefined;
        },
        15_000,
      ).catch(read);
      assert.equal(
        cells.length,
        headers.length,
        `cells ${JSON.stringify(cells)}, headers ${JSON.stringify(headers)}`,
      );
      return Object.fromEntries(headers.map((h, i) => [h.trim(), cells[i]!.trim()]));
    }

    function assertRowMatches(cells: Record<string, string>) {
      for (const [column, want] of Object.entries(expectedColumns(status))) {
        assert.ok(column in cells, `column ${column} is shown: ${JSON.stringify(Object.keys(cells))}`);
        const got = cells[column]!;
        if (typeof want === 'number') assert.equal(Number(got.replace(/,/g, '')), want, `${column}: ${got}`);
        else assert.equal(got, want, column);
      }
      assert.equal(cells['Workflow ID'], workflowId);
      assert.equal(cells['Status'], 'Completed');
    }

    it('lists the run with its search attributes as columns, chosen in "Configure Workflows Table"', async (t) => {
      const columns = Object.keys(expectedColumns(status));
      await page.goto(`${ui}/namespaces/default/workflows`);
      await page.getByRole('link', { name: workflowId, exact: true }).first().waitFor();
      const before = await page.locator('table thead th').allInnerTexts();
      for (const c of columns) assert.ok(!before.includes(c), `${c} is not a default column`);

      // The gear under the table opens the drawer; each custom attribute has an "Add <name> column" button.
      await page.getByTestId('workflows-summary-table-configuration-button').click();
      const drawer = page.locator('#workflows-table-configuration-drawer');
      await drawer.waitFor();
      for (const c of columns)
        await drawer.getByRole('button', { name: `Add ${c} column`, exact: true }).click();
      await drawer.getByTestId('drawer-close-button').click();
      await drawer.waitFor({ state: 'hidden' });

      // The choice lives in the browser's localStorage, per namespace.
      const stored = JSON.parse(
        (await page.evaluate(`localStorage.getItem(${JSON.stringify(COLUMNS_STORAGE_KEY)})`)) as string,
      ) as Record<string, { label: string }[]>;
      const labels = stored.default!.map((c) => c.label);
      assert.deepEqual(labels.slice(-columns.length), columns);
      t.diagnostic(`localStorage ${COLUMNS_STORAGE_KEY} = ${JSON.stringify(stored)}`);

      assertRowMatches(await rowByHeader());
      t.diagnostic(`screenshot ${await screenshot(page, 'list-columns', { fitTable: true })}`);
    });

    it('filters the list by the search attributes, typed into the query box', async (t) => {
      await page.goto(`${ui}/namespaces/default/workflows`);
      await page.getByTestId('toggle-manual-query').click();
      const box = page.getByTestId('manual-search-input');
      await box.fill(`AutoresearchTag="${tag}"`);
      await box.press('Enter');
      await page.waitForURL(/[?&]query=/);
      assert.match(
        decodeURIComponent(new URL(page.url()).searchParams.get('query') ?? ''),
        /AutoresearchTag/,
      );
      // The UI parses the query into a filter chip on the attribute.
      assert.equal(await page.getByTestId('dropdown-filter-chip-AutoresearchTag-0-text').inputValue(), tag);
      assertRowMatches(await rowByHeader()); // the columns chosen before are still there (localStorage)
      assert.equal(await page.getByTestId('workflows-summary-configurable-table-row').count(), 1);
      t.diagnostic(`screenshot ${await screenshot(page, 'list-filtered', { fitTable: true })}`);

      // Typed comparisons on the Int and Double attributes, and a tag that matches nothing.
      const list = async (query: string) => {
        await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
        await page.getByText(/^\d+ Workflows?$/).waitFor();
      };
      const best = status.best!.metric;
      await list(
        `AutoresearchExperiments >= ${status.experimentsDone} AND AutoresearchBestMetric <= ${best}`,
      );
      await rowByHeader();
      await list(`AutoresearchTag="${tag}-nope"`);
      await page.getByText('No Results', { exact: true }).waitFor();
      assert.equal(await page.getByTestId('workflows-summary-configurable-table-row').count(), 0);
      await list(`AutoresearchExperiments > ${status.experimentsDone}`);
      await page.getByText('No Results', { exact: true }).waitFor();
    });

    it("shows the activity summaries in the run's event history", async (t) => {
      await page.goto(`${ui}/namespaces/default/workflows/${workflowId}/${runId}/history`);
      await page.getByRole('heading', { name: workflowId }).first().waitFor();
      const experiments = status.recent;
      assert.ok(experiments.length >= 2, 'the run has a baseline and experiments');
      for (const r of experiments) {
        // The timeline labels each activity "<type> • <summary>".
        await page
          .getByText(`trainCandidate • exp ${r.n} train: ${r.description}`, { exact: true })
          .first()
          .waitFor();
      }
      await page.getByText(`prepareRun • prepare ${tag}: validate target, create branch`).first().waitFor();
      t.diagnostic(`screenshot ${await screenshot(page, 'workflow-history', { height: 1600 })}`);
    });

    it('shows the summary, details, current details and activity summaries under User Metadata', async (t) => {
      await page.goto(`${ui}/namespaces/default/workflows/${workflowId}/${runId}/history`);
      await page.getByTestId('user-metadata-tab').click();
      await page.waitForURL(/\/user-metadata$/);
      const sections = page.getByTestId('user-metadata-summary-heading');
      await sections.first().waitFor();
      assert.deepEqual(await sections.allInnerTexts(), ['Summary', 'Details', 'Events with Metadata']);

      // Summary, Details and Current Details (in that order) are Markdown, each rendered in an iframe of
      // the UI's own /render page.
      const frames = page.locator('iframe[title="output"]');
      await waitFor('three rendered Markdown panels', async () =>
        (await frames.count()) === 3 ? 1 : undefined,
      );
      const text = async (i: number) =>
        (await frames.nth(i).contentFrame().locator('body').innerText()).trim();
      assert.equal(await text(0), `autoresearch ${tag}: mutate proposer on ${status.target}`);
      const details = await text(1);
      assert.match(details, new RegExp(`Target: .*branch autoresearch/${re(tag)}`));
      assert.match(details, /Proposer: mutate \(seed 1\)/);
      assert.match(details, /Limits: 2 max experiments/);

      await page.getByRole('heading', { name: 'Current Details' }).waitFor();
      const best = status.best!;
      const current = await waitFor('the current details', async () => {
        const s = await text(2);
        return s.includes('Finished') ? s : undefined;
      });
      assert.match(
        current,
        new RegExp(
          `Finished \\(max-experiments\\): ${status.experimentsDone} experiments, best ${re(best.metric)}`,
        ),
      );
      assert.match(
        current,
        new RegExp(`Best val_bpb: ${re(best.metric.toFixed(6))} \\(experiment ${best.n}`),
      );
      for (const r of status.recent) assert.match(current, new RegExp(`${r.n}\\s+${r.status}\\s+`));

      // "Events with Metadata": one line per activity with its summary.
      for (const r of status.recent) {
        await page.getByText(`exp ${r.n} train: ${r.description}`, { exact: true }).waitFor();
        await page.getByText(`exp ${r.n} record: ${r.status}`, { exact: true }).waitFor();
      }
      t.diagnostic(`screenshot ${await screenshot(page, 'workflow-user-metadata', { height: 1300 })}`);
      if (blocked.length) t.diagnostic(`blocked non-loopback requests: ${blocked.join(', ')}`);
    });
  },
);
