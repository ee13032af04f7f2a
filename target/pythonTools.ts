// Training targets run with uv, as karpathy/autoresearch does (`uv sync`, `uv run train.py`). If uv is
// not on PATH, the project installs it once into its own virtual environment from PyPI.
import { execa } from 'execa';
import path from 'node:path';
import { findOnPath, isExecutable } from '../system/executables';
import { homePath } from '../system/home';

/** The project's own tool environment, whose bin/ holds uv. */
export function toolsBin(): string {
  return homePath('tools', 'bin');
}

/** Returns the directory to put first on the training's PATH so that `uv` resolves (empty when PATH has it). */
export async function ensureUv(log: (line: string) => void = () => {}): Promise<string[]> {
  if (findOnPath('uv')) return [];
  const bin = toolsBin();
  if (isExecutable(path.join(bin, 'uv'))) return [bin];
  log(
    'Installing uv (the Python project manager autoresearch targets use) into ' + path.dirname(bin) + ' ...',
  );
  const python = process.env.AUTORESEARCH_PYTHON ?? 'python3';
  const venv = await execa(python, ['-m', 'venv', path.dirname(bin)], { reject: false });
  if (venv.exitCode !== 0)
    throw new Error(
      `Could not create a virtual environment with ${python}: ${venv.stderr.trim()}. Install Python 3.10+ or uv (https://docs.astral.sh/uv/).`,
    );
  const pip = await execa(path.join(bin, 'pip'), ['install', '--quiet', 'uv'], { reject: false });
  if (pip.exitCode !== 0)
    throw new Error(
      `Could not install uv with pip: ${pip.stderr.trim().split('\n').slice(-2).join(' ')}. Install uv yourself and put it on PATH.`,
    );
  return [bin];
}
