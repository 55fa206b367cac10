// Run by checkpoint.test.ts in a child process (bundled by esbuild): saves one checkpoint and, after
// the file named by argv[4] is written, tells the parent over IPC and waits to be SIGKILLed.
import { encodeCheckpoint } from '../src/node/checkpointEncode.js';
import { writeCheckpointDir } from '../src/node/checkpointFiles.js';
import { fakeCheckpointBase, fakeTensors } from './checkpointFixtures.js';

async function main(): Promise<void> {
  const [root, stepText, pauseAfter] = process.argv.slice(2);
  const step = Number(stepText);
  const files = encodeCheckpoint(fakeCheckpointBase(step), fakeTensors(step, 'w'), fakeTensors(step, 'm'));
  await writeCheckpointDir(root!, step, files, {
    onFileWritten: async (file) => {
      if (file !== pauseAfter) return;
      process.send?.({ paused: file });
      await new Promise(() => undefined); // never resolves: the parent kills us here
    },
  });
  process.send?.({ done: true });
}

void main();
