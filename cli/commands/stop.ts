// `autoresearch stop`: end the run once the experiment in flight is done, with a summary.
import type { Command } from 'commander';
import { stopSignal } from '../../workflows/messages';
import { addSignalCommand } from '../session';

export function addStopCommand(program: Command): void {
  addSignalCommand(
    program,
    'stop',
    stopSignal,
    'finish the experiment in flight, then end the run with a summary',
  );
}
