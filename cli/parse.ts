// Option parsers for the CLI: each rejects bad input with what was expected.
import { InvalidArgumentError, Option } from 'commander';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

export function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds > 0');
  return n;
}

const RELATIVE = /^(\d+(?:\.\d+)?)\s*(m|min|h|d)$/i;
const UNIT_MS: Record<string, number> = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** A deadline: an ISO date-time ("2026-11-28T07:00") or a time from now ("8h", "90m", "2d"). */
export function parseDeadline(value: string, now = Date.now()): Date {
  const relative = RELATIVE.exec(value.trim());
  const at = relative
    ? new Date(now + Number(relative[1]) * UNIT_MS[relative[2]!.toLowerCase()]!)
    : new Date(value);
  if (Number.isNaN(at.getTime()))
    throw new InvalidArgumentError(
      'expected an ISO date-time such as 2026-11-28T07:00 or a duration such as 8h, 90m, 2d',
    );
  if (at.getTime() <= now) throw new InvalidArgumentError(`${value} is in the past`);
  return at;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0, e.g. 2');
  return n;
}

export function keepRuleName(value: string): 'strict' | 'noise-aware' {
  if (value === 'strict' || value === 'noise-aware') return value;
  throw new InvalidArgumentError('expected strict or noise-aware');
}

/** The run a command means: --tag, or (absent) the only running one. */
export const tagOption = () => new Option('-t, --tag <tag>', 'the run (default: the only running one)');

/** A repeatable option's values, in order. */
export const collect = (value: string, previous: string[]) => [...previous, value];
