// Which proposer answers a proposal step: the run names one (mutate, claude, command), and each is
// whole in its own folder. Every answer is still checked by the step (activities/propose.ts) before it
// becomes a candidate.
import type { Repo } from '../store/git';
import { proposeByClaude, savedClaudeExtra } from './claude/proposer';
import { proposeByCommand } from './command/proposer';
import { proposeMutation } from './mutate/proposer';
import type { Edit, ProposeInput, ProposerRuntime } from './proposal';

export type { Edit, ProposeInput, ProposerRuntime } from './proposal';

export async function proposeEdit(repo: Repo, input: ProposeInput, runtime: ProposerRuntime): Promise<Edit> {
  switch (input.proposer) {
    case 'mutate':
      return proposeMutation(repo, input);
    case 'claude':
      return proposeByClaude(repo, input, runtime);
    case 'command':
      return proposeByCommand(repo, input, runtime);
  }
}

/** What a proposer added to a candidate committed before a crash (claude's hypothesis and cost). */
export function savedExtra(input: ProposeInput): Edit['extra'] {
  return input.proposer === 'claude' ? savedClaudeExtra(input) : {};
}
