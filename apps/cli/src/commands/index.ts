import type { Command } from '../command.ts';
import { datasetCommands } from './datasets.ts';
import { modelCommands } from './models.ts';
import { jobCommands } from './jobs.ts';
import { jobEventsCommand } from './job-events.ts';
import { jobWaitCommand } from './job-wait.ts';
import { jobDownloadCommand } from './job-download.ts';

export const COMMANDS: Command[] = [...datasetCommands, ...modelCommands, ...jobCommands, jobEventsCommand, jobWaitCommand, jobDownloadCommand];
