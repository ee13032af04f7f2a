// The `mutate` proposer: no model, no API key. A seeded perturbation of one numeric constant, redrawn
// until its tree differs from every candidate so far; a queued `NAME=value` idea sets that constant.
import { proposerRefused } from '../../common/errors';
import type { Repo } from '../../store/git';
import { triedTrees } from '../editGate';
import type { Edit, ProposeInput } from '../proposal';
import { CONSTANT_IDEA, mutate, setConstant } from './rules';
import { seededRandom } from './seededRandom';

/** Draws before the mutate proposer gives up finding an edit not tried before. */
const MAX_DRAWS = 200;

export async function proposeMutation(repo: Repo, input: ProposeInput): Promise<Edit> {
  const tried = await triedTrees(repo, input);
  const sources: Record<string, string> = {};
  for (const file of input.config.files.editable)
    sources[file] = (await repo.readFile(input.parent, file)) ?? '';

  if (input.idea !== undefined) return queuedConstant(repo, input, sources, tried);

  const random = seededRandom(input.seed, input.tag, input.n);
  // A draw that repeats an earlier draw of this call needs no second git write-tree (a small file has
  // few neighbours, and running out of them should be found out fast).
  const drawn = new Set<string>();
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const file = input.config.files.editable[Math.floor(random() * input.config.files.editable.length)]!;
    const mutation = mutate(sources[file]!, random);
    if (!mutation || drawn.has(`${file}\0${mutation.content}`)) continue;
    drawn.add(`${file}\0${mutation.content}`);
    const files = { [file]: mutation.content };
    const tree = await repo.writeTree(input.parent, files);
    if (tried.has(tree)) continue;
    return { files, description: mutation.description, tree };
  }
  // Not a failure of the run: it pauses with this message (nothing is lost), and a person can queue
  // values to try (`autoresearch queue NAME=value`) and resume, or stop it.
  throw proposerRefused(
    `The mutate proposer found no untried edit in ${input.config.files.editable.join(', ')} after ${MAX_DRAWS} draws ` +
      '(it perturbs top-level UPPERCASE constants holding plain numbers). Queue values to try with ' +
      '`autoresearch queue NAME=value` and resume, or stop the run and start one with another proposer.',
  );
}

/** The mutate proposer's reading of a queued idea: `NAME=value` sets that constant, nothing else. */
async function queuedConstant(
  repo: Repo,
  input: ProposeInput,
  sources: Record<string, string>,
  tried: Set<string>,
): Promise<Edit> {
  const idea = input.idea!;
  const m = CONSTANT_IDEA.exec(idea);
  const invalid = (why: string): Edit => ({ files: {}, description: `queued idea: ${idea}`, invalid: why });
  if (!m) return invalid('the mutate proposer takes ideas of the form NAME=value, e.g. LEARNING_RATE=0.01');
  for (const [file, source] of Object.entries(sources)) {
    const mutation = setConstant(source, m[1]!, m[2]!);
    if (!mutation) continue;
    const files = { [file]: mutation.content };
    const tree = await repo.writeTree(input.parent, files);
    if (tried.has(tree)) return invalid(`${idea} was already tried in this run (or is the current value)`);
    return { files, description: mutation.description, tree };
  }
  return invalid(
    `no top-level numeric constant ${m[1]} in ${input.config.files.editable.join(', ')}; queue one that exists`,
  );
}
