// Preloaded (node --import) into a `recur train` child by trainKill.test.ts: when the save of the
// checkpoint named by RECUR_TEST_PAUSE_SAVE (e.g. step-000000002) is about to open its second file
// (model.safetensors is written, optimizer.safetensors and state.json are not), it says so on stderr
// and hangs, so the test can SIGKILL the process in the middle of the save. Test-only: nothing in
// the CLI knows about it.
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';

const step = process.env.RECUR_TEST_PAUSE_SAVE;
const open = fsPromises.open;
fsPromises.open = async (path, ...rest) => {
  const name = String(path);
  if (step && name.includes(`.tmp-${step}-`) && name.endsWith('optimizer.safetensors')) {
    process.stderr.write('PAUSED-IN-SAVE\n');
    await new Promise(() => undefined); // never resolves: the test kills us here
  }
  return open(path, ...rest);
};
syncBuiltinESMExports();
