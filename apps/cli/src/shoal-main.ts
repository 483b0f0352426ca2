/** `shoal`: the all-in-one entry point (`shoal up`). */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { upCommand } from './up/command.js';

await yargs(hideBin(process.argv))
  .scriptName('shoal')
  .command(upCommand)
  .demandCommand(1, 'Say what to do: shoal up')
  .strict()
  .fail((msg, err) => {
    process.stderr.write(`shoal: ${msg ?? err?.message}\n`);
    process.exit(2);
  })
  .parseAsync();
