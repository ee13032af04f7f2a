// The offline proposer: nudges one numeric hyperparameter of the editable file up or down. No API, no
// network; seeded, so the same experiment always proposes the same edit. It finds the knobs the way a
// reader of karpathy's train.py does: top-level UPPERCASE constants holding a plain number.
import { pick } from './seededRandom';

export interface NumericConstant {
  name: string;
  /** The literal as written, e.g. "3e-4". */
  literal: string;
  value: number;
  isInteger: boolean;
  line: number;
}

export interface Mutation {
  content: string;
  description: string;
}

const CONSTANT_LINE =
  /^([A-Z][A-Z0-9_]*)(\s*=\s*)([-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)(\s*(?:#.*)?)$/;
/** What the mutate proposer takes as a queued idea: set one constant, e.g. `LEARNING_RATE=0.01`. */
export const CONSTANT_IDEA = /^\s*([A-Z][A-Z0-9_]*)\s*=\s*([-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)\s*$/;
/** Seeds only reshuffle noise; tuning them would mine luck, not find better ideas. */
const SKIPPED = /SEED/;

export function findNumericConstants(source: string): NumericConstant[] {
  const found: NumericConstant[] = [];
  source.split('\n').forEach((text, line) => {
    const m = CONSTANT_LINE.exec(text);
    if (!m || SKIPPED.test(m[1]!)) return;
    const literal = m[3]!;
    const isInteger = /^[-+]?\d+$/.test(literal);
    found.push({ name: m[1]!, literal, value: Number(literal), isInteger, line });
  });
  return found;
}

const FLOAT_FACTORS = [0.5, 0.7, 0.8, 1.25, 1.4, 2];
const INT_FACTORS = [0.5, 0.75, 1.5, 2];

function formatFloat(value: number, original: string): string {
  const rounded = Number(value.toPrecision(3));
  if (/e/i.test(original)) return rounded.toExponential().replace('e+', 'e');
  const text = String(rounded);
  return /[.e]/i.test(text) ? text : `${text}.0`;
}

function newValue(c: NumericConstant, random: () => number): { literal: string; value: number } | null {
  if (c.isInteger) {
    let value: number;
    if (Math.abs(c.value) <= 3) value = c.value + pick(random, c.value <= 1 ? [1, 2] : [-1, 1, 2]);
    else value = Math.round(c.value * pick(random, INT_FACTORS));
    if (value === c.value || value < 0 || (c.value > 0 && value === 0)) return null;
    return { literal: String(value), value };
  }
  if (c.value === 0) return null;
  const literal = formatFloat(c.value * pick(random, FLOAT_FACTORS), c.literal);
  return Number(literal) === c.value ? null : { literal, value: Number(literal) };
}

/** One random perturbation of one constant, or null when this draw produced no change. */
export function mutate(source: string, random: () => number): Mutation | null {
  const constants = findNumericConstants(source);
  if (constants.length === 0) return null;
  const c = pick(random, constants);
  const next = newValue(c, random);
  if (!next) return null;
  const lines = source.split('\n');
  lines[c.line] = lines[c.line]!.replace(
    CONSTANT_LINE,
    (_all, name, eq, _lit, rest) => `${name}${eq}${next.literal}${rest}`,
  );
  const verb = next.value > c.value ? 'raise' : 'lower';
  return { content: lines.join('\n'), description: `${verb} ${c.name} ${c.literal} -> ${next.literal}` };
}

/** Sets one constant to a value a person chose (a queued idea); null when the source has no such constant. */
export function setConstant(source: string, name: string, literal: string): Mutation | null {
  const c = findNumericConstants(source).find((k) => k.name === name);
  if (!c) return null;
  const lines = source.split('\n');
  lines[c.line] = lines[c.line]!.replace(
    CONSTANT_LINE,
    (_all, n, eq, _lit, rest) => `${n}${eq}${literal}${rest}`,
  );
  const verb = Number(literal) > c.value ? 'raise' : Number(literal) < c.value ? 'lower' : 'set';
  return {
    content: lines.join('\n'),
    description: `${verb} ${name} ${c.literal} -> ${literal} (queued idea)`,
  };
}
