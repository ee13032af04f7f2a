// The claude proposer's defaults and its time bound: what the client and the CLI need to know about it
// without loading the Anthropic SDK.
import type { ClaudeSettings } from '../../common/types';

export const DEFAULT_CLAUDE: ClaudeSettings = { model: 'claude-sonnet-5-5', maxTokens: 8192 };
/** How long one API call may take, and the most calls a proposal makes (the answer and one repair). */
export const CALL_TIMEOUT_SECONDS = 10 * 60;
const CALLS_PER_PROPOSAL = 2;
/** The longest a claude proposal can take: what the proposal step's timeout must allow for. */
export const CLAUDE_PROPOSAL_SECONDS = CALL_TIMEOUT_SECONDS * CALLS_PER_PROPOSAL;
