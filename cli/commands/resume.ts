// `autoresearch resume`: continue a paused run.
import type { Command } from 'commander';
import { resumeSignal } from '../../workflows/messages';
import { addSignalCommand } from '../session';

export function addResumeCommand(program: Command): void {
  addSignalCommand(program, 'resume', resumeSignal, 'continue a paused run');
}
