// A short chaos run (npm run chaos is the long one): worker processes SIGKILLed twice in each phase of
// an experiment and the server restarted once, on a fast fake target. Nothing may be lost, recorded or
// trained twice, and every invariant of docs/ARCHITECTURE.md must hold afterwards (test/support/chaos.ts
// checks).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHAOS_PHASES, formatChaosReport, runChaos } from './support/chaos';

describe('chaos', () => {
  it('loses nothing and runs nothing twice with workers SIGKILLed in every phase and a server restart', async () => {
    const report = await runChaos({ kills: 8, restarts: 1, experiments: 10 });
    const text = formatChaosReport(report);
    console.log(text);
    const context = `${text}\n\ntimeline:\n${report.timeline.join('\n')}`;
    assert.deepEqual(report.failures, [], context);
    assert.equal(report.lost.length, 0, context);
    assert.equal(report.duplicated.length, 0, context);
    assert.equal(report.kills, 8, context);
    assert.equal(report.restarts, 1, context);
    for (const phase of CHAOS_PHASES)
      assert.ok(report.killsByPhase[phase] >= 1, `a kill in ${phase}\n${context}`);
    assert.equal(report.experiments, 11, context);
    assert.ok(report.continueAsNew >= 1, `continue-as-new happened under chaos\n${context}`);
  });
});
