// The simulated research the bench measures the orchestration with: a trainer that sleeps for its budget
// and a proposer that thinks for a set time, so that what is left of a slot's time is the orchestration.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeTarget } from '../../test/support/fakeTarget';

/**
 * train.py's knobs, one a line with a blank line between, so edits to two different knobs merge cleanly.
 * Experiment n edits knob n mod KNOBS: with 128, no two experiments within 128 of each other edit the
 * same knob, more than a proposal's parent can lag behind the best with up to 64 pipelined slots (64 in
 * training, 64 waiting). (With several slots the best can move to a candidate that lacks an earlier keep's
 * edit; a proposal made on that earlier keep, editing the same knob again, then conflicts and is proposed
 * afresh, at the proposer's full latency: the bench would measure its own knobs, not the orchestration.)
 */
export const KNOBS = 128;
/** Digits of a knob's number in its name (K000 ... K127), in train.py and in the proposer alike. */
const KNOB_DIGITS = String(KNOBS - 1).length;

export interface SimulatedTarget {
  repo: string;
  /** train.py appends `start<TAB>end<TAB>worktree` (time.time() in seconds) for every training. */
  ledger: string;
}

/** One training as train.py saw it. */
export interface Span {
  start: number;
  end: number;
  /** The slot's worktree it ran in. */
  where: string;
}

/**
 * A target whose train.py sleeps for its budget (AUTORESEARCH_TIME_BUDGET; none: it ends at once) and
 * scores its knobs against fixed values, so some edits keep and some discard.
 */
export async function simulatedTarget(): Promise<SimulatedTarget> {
  const ledger = path.join(mkdtempSync(path.join(tmpdir(), 'ar-bench-ledger-')), 'trainings.tsv');
  const knobs = Array.from({ length: KNOBS }, (_, k) => `K${pad(k)} = 0.5  # knob ${k}\n`).join('\n');
  const names = Array.from({ length: KNOBS }, (_, k) => `K${pad(k)}`).join(', ');
  const aims = Array.from({ length: KNOBS }, (_, k) => (((k * 37) % 10) / 10 + 0.05).toFixed(2)).join(', ');
  const train = `# The bench's simulated trainer: "trains" by sleeping for its budget and scores its knobs.
import os, time

${knobs}
KNOBS = [${names}]
AIMS = [${aims}]
BUDGET = float(os.environ.get("AUTORESEARCH_TIME_BUDGET") or 0)

start = time.time()
while time.time() - start < BUDGET:
    print(f"\\rtraining {time.time() - start:.0f}s", end="", flush=True)
    time.sleep(max(0.0, min(1.0, BUDGET - (time.time() - start))))
end = time.time()
with open(${JSON.stringify(ledger)}, "a") as f:
    f.write(f"{start}\\t{end}\\t{os.getcwd()}\\n")
loss = sum(abs(k - a) for k, a in zip(KNOBS, AIMS))
print()
print("---")
print(f"val_bpb:          {loss:.6f}")
print(f"training_seconds: {end - start:.1f}")
print("peak_vram_mb:     1024.0")
`;
  const repo = await makeTarget(
    {
      'train.py': train,
      'prepare.py': '# frozen: data and evaluation\n',
      'program.md': '# program\nLower val_bpb.\n',
      // The ledger lies outside the worktree: the sandbox lets the training write there and nowhere else.
      'autoresearch.toml':
        `[train]\ncommand = ${JSON.stringify(`${trainerPython()} -S train.py`)}\nsetup = []\ntimeout_seconds = 600\n` +
        `[sandbox]\nwrite_paths = [${JSON.stringify(path.dirname(ledger))}]\n`,
    },
    'ar-bench-',
  );
  return { repo, ledger };
}

/**
 * The simulated proposer, for `--proposer command`: it thinks for `seconds`, then sets the knob of its
 * experiment's number (consecutive experiments edit different knobs) to a value of that number's own,
 * so every candidate is new and proposals made in parallel rebase cleanly onto each other's keeps.
 */
export function simulatedProposer(seconds: number): string {
  const script = path.join(mkdtempSync(path.join(tmpdir(), 'ar-bench-proposer-')), 'propose.py');
  writeFileSync(
    script,
    `import os, re, sys, time
time.sleep(${seconds})
n = int(os.environ["AUTORESEARCH_EXPERIMENT"])
knob, value = f"K{n % ${KNOBS}:0${KNOB_DIGITS}d}", ((n * 7919) % 1000 + 0.5) / 1000
with open("train.py") as f:
    source = f.read()
with open("train.py", "w") as f:
    f.write(re.sub(rf"^{knob} = [0-9.]+", f"{knob} = {value}", source, flags=re.M))
with open(os.environ["AUTORESEARCH_DESCRIPTION_FILE"], "w") as f:
    f.write(f"set {knob} to {value}\\n")
`,
  );
  // By the interpreter's own path, like the trainer: the agent's start-up is the proposer's, not the orchestration's.
  return `${trainerPython()} ${script}`;
}

/**
 * The interpreter `python3` runs, by its own path: the simulated trainer starts as fast as Python can
 * (a version manager's shim, such as pyenv's, adds 100 ms or more of shell scripts; with -S no
 * site-packages are scanned, where a machine's .pth files may import libraries the trainer never uses).
 * Its start-up is the target's own, not the orchestration's the bench measures.
 */
function trainerPython(): string {
  return execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
}

/** The trainings in the ledger, by start time. */
export function readSpans(ledger: string): Span[] {
  let text: string;
  try {
    text = readFileSync(ledger, 'utf8');
  } catch {
    return [];
  }
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t'))
    .map(([start, end, where]) => ({ start: Number(start), end: Number(end), where: where ?? '' }))
    .sort((a, b) => a.start - b.start);
}

function pad(k: number): string {
  return String(k).padStart(KNOB_DIGITS, '0');
}
