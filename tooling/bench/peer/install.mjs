// node-llama-cpp for the peer comparisons, installed on first use into tooling/bench/.peer (git-ignored),
// never by the workspace install or CI.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { root } from '../record.mjs';

export const peerDir = `${root}tooling/bench/.peer`;
export const llamaVersion = '3.22.1';

export function installPeer() {
  if (existsSync(`${peerDir}/node_modules/node-llama-cpp/package.json`)) return;
  console.log(`installing node-llama-cpp@${llamaVersion} into ${peerDir} (prebuilt binaries, once)…`);
  mkdirSync(peerDir, { recursive: true });
  execFileSync(
    'npm',
    [
      'install',
      '--prefix',
      peerDir,
      '--no-save',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      `node-llama-cpp@${llamaVersion}`,
    ],
    { stdio: 'inherit' },
  );
}
