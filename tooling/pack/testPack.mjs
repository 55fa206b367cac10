// pnpm test:pack — the packages as a user gets them. Packs every public @recur/* package (pnpm pack:
// workspace:* becomes the real version, publishConfig.exports drops the `source` condition), installs the
// tarballs with npm into a fresh project in os.tmpdir() (third-party dependencies from the registry),
// checks what was installed, type-checks and runs the engine README's example there and the installed
// `recur` bin, and compares their tokens with the workspace CLI's. One line and exit 1 on any failure;
// the temp folder is removed either way (RECUR_KEEP_PACK=1 keeps it). The root script builds first.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  engineExample,
  idsFromOutput,
  manifestProblems,
  PackCheckError,
  tokenDifference,
  WORKSPACE_MARKERS,
} from './packChecks.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const model = resolve(root, '../shared/models/stories260K/stories260K.gguf');
// Greedy ids should not hang on how a reduction is split over threads: every run uses the same count.
const env = { ...process.env, RECUR_THREADS: process.env.RECUR_THREADS ?? '1' };
const started = performance.now();

/**
 * Runs a command, returning its stdout; a non-zero exit throws with its last line of stderr.
 * @param {string} command @param {readonly string[]} args @param {string} cwd
 */
function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status === 0) {
    // A run that lost the wasm backend still prints tokens (on tfjs's cpu kernels): that is a failure here.
    const fallback = result.stderr.split('\n').find((line) => line.includes('falling back to cpu'));
    if (fallback !== undefined)
      throw new PackCheckError(`\`${[command, ...args].join(' ').replace(root, '')}\`: ${fallback.trim()}`);
    return result.stdout;
  }
  const why =
    `${result.stderr ?? ''}\n${result.stdout ?? ''}`.trim().split('\n').filter(Boolean).at(-1) ??
    result.error?.message ??
    `signal ${result.signal}`;
  throw new PackCheckError(
    `\`${[command, ...args].join(' ').replace(root, '')}\` failed (exit ${result.status}): ${why}`,
  );
}

/** The pnpm that runs this script (`pnpm test:pack`), else the pinned one through npx. @returns {[string, string[]]} */
function pnpm() {
  const execPath = process.env.npm_execpath;
  if (execPath !== undefined && /pnpm/.test(execPath)) return [process.execPath, [execPath]];
  return ['npx', ['-y', 'pnpm@10.34.9']];
}

/** @param {string} label */
function step(label) {
  console.log(`test:pack: ${label} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

/** Names of the workspace packages that are not private: the ones a user installs. */
function publicPackages() {
  return ['packages', 'apps'].flatMap((group) =>
    readdirSync(join(root, group)).flatMap((dir) => {
      const manifest = join(root, group, dir, 'package.json');
      if (!existsSync(manifest)) return [];
      const pkg = /** @type {{ name: string, private?: boolean }} */ (JSON.parse(readFileSync(manifest, 'utf8')));
      return pkg.private === true ? [] : [pkg.name];
    }),
  );
}

/** @param {readonly string[]} names @param {string} destination @returns {string[]} the tarballs */
function packAll(names, destination) {
  const [command, prefix] = pnpm();
  const filters = names.flatMap((name) => ['--filter', name]);
  const out = run(command, [...prefix, '-r', ...filters, 'pack', '--pack-destination', destination, '--json'], root);
  const packed = /** @type {{ name: string, filename: string, files: { path: string }[] }[]} */ (
    [JSON.parse(out)].flat()
  );
  for (const name of names) {
    const entry = packed.find((p) => p.name === name);
    if (entry === undefined) throw new PackCheckError(`pnpm pack made no tarball for ${name}`);
    const paths = entry.files.map((f) => f.path);
    const missing = ['package.json', 'README.md', 'LICENSE'].filter((f) => !paths.includes(f));
    if (!paths.some((p) => p.startsWith('dist/'))) missing.push('dist/');
    if (missing.length > 0) throw new PackCheckError(`${name}'s tarball lacks ${missing.join(', ')}`);
    const stray = paths.find((p) => !/^(dist\/|assets\/torch\/|package\.json$|README\.md$|LICENSE$)/.test(p));
    if (stray !== undefined) throw new PackCheckError(`${name}'s tarball carries ${stray} (files: ["dist"] only)`);
  }
  return packed.map((p) => p.filename);
}

/** Fails on an installed manifest or built file that still points into the workspace. @param {string} app */
function checkInstalled(app) {
  const scope = join(app, 'node_modules', '@recur');
  const markers = [...WORKSPACE_MARKERS, root];
  for (const dir of readdirSync(scope)) {
    const problems = manifestProblems(readFileSync(join(scope, dir, 'package.json'), 'utf8'));
    if (problems.length > 0)
      throw new PackCheckError(`installed @recur/${dir}/package.json has ${problems.join(' and ')}`);
    for (const file of readdirSync(join(scope, dir, 'dist')).filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(join(scope, dir, 'dist', file), 'utf8');
      const marker = markers.find((m) => text.includes(m));
      if (marker !== undefined)
        throw new PackCheckError(
          `installed @recur/${dir}/dist/${file} contains '${marker}': a path into the workspace`,
        );
    }
  }
}

/**
 * Type-checks the example against the installed packages' .d.ts, as a strict TypeScript user would.
 * @param {string} app
 * @param {string} source
 */
function typecheckExample(app, source) {
  writeFileSync(join(app, 'example.ts'), source);
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      // Node's own typings come from the workspace: the packages under test come only from node_modules here.
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
    },
    files: ['example.ts'],
  };
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], app);
}

/** Which decoder a `recur generate --json` run used (its `path` field: fast | tfjs). @param {string} stdout */
function decodePath(stdout) {
  return /** @type {{ path?: string }} */ (JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}')).path;
}

/**
 * @param {string} who
 * @param {import('./packChecks.mjs').TokenRun} got
 * @param {import('./packChecks.mjs').TokenRun} want
 */
function expectSameTokens(who, got, want) {
  const difference = tokenDifference(got, want);
  if (difference !== undefined) throw new PackCheckError(`${who} differs from the workspace CLI: ${difference}`);
}

/** The folders above `path`, nearest first: Node looks for packages in each one's node_modules. @param {string} path */
function ancestors(path) {
  const found = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    found.push(dir);
    if (dir === dirname(dir)) return found; // the file system's root
  }
}

/** @param {string} temp */
function main(temp) {
  if (!existsSync(model)) throw new PackCheckError(`${model} not found: test:pack runs stories260K from ../shared`);
  const example = engineExample(readFileSync(join(root, 'packages/engine/README.md'), 'utf8'), model);
  const names = publicPackages();
  const tarballs = packAll(names, join(temp, 'tarballs'));
  step(`packed ${names.length} packages`);

  const app = join(temp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'recur-pack-check', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], app);
  checkInstalled(app);
  step('installed the tarballs with npm');

  typecheckExample(app, example.source);
  writeFileSync(join(app, 'example.mjs'), example.source);
  const fromExample = idsFromOutput(run(process.execPath, ['example.mjs'], app), 'the README example');
  const flags = [
    'generate',
    '--model',
    model,
    '--prompt',
    example.prompt,
    '--max-new-tokens',
    String(example.maxNewTokens),
    '--temperature',
    '0',
    '--json',
  ];
  const cliVersion = /** @type {{ version: string }} */ (
    JSON.parse(readFileSync(join(root, 'apps/cli/package.json'), 'utf8'))
  ).version;
  const installedVersion = run('npx', ['--no', '--', 'recur', '--version'], app).trim();
  if (installedVersion !== cliVersion)
    throw new PackCheckError(`the installed recur --version printed '${installedVersion}', expected ${cliVersion}`);
  const binOut = run('npx', ['--no', '--', 'recur', ...flags], app);
  const workspaceOut = run(process.execPath, [join(root, 'apps/cli/dist/recur.js'), ...flags], root);
  const [fromBin, fromWorkspace] = [
    idsFromOutput(binOut, 'the installed recur'),
    idsFromOutput(workspaceOut, 'the workspace CLI'),
  ];
  const [binPath, workspacePath] = [decodePath(binOut), decodePath(workspaceOut)];
  if (binPath !== workspacePath)
    throw new PackCheckError(
      `the installed recur decoded on the ${binPath} path, the workspace CLI on ${workspacePath}`,
    );
  expectSameTokens('the README example (installed packages)', fromExample, fromWorkspace);
  expectSameTokens('the installed recur bin', fromBin, fromWorkspace);
  step(`ok: the README example and the installed recur match the workspace CLI (${fromWorkspace.ids.length} tokens)`);
}

const temp = mkdtempSync(join(tmpdir(), 'recur-pack-'));
try {
  if (!relative(root, temp).startsWith('..'))
    throw new PackCheckError(`the temp folder ${temp} is inside the workspace`);
  const outerModules = ancestors(temp).find((dir) => existsSync(join(dir, 'node_modules')));
  if (outerModules !== undefined)
    console.warn(`test:pack: warning: ${outerModules}/node_modules may satisfy imports the tarballs should`);
  main(temp);
} catch (err) {
  console.error(
    `test:pack: ${err instanceof PackCheckError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
  process.exitCode = 1;
} finally {
  if (process.env.RECUR_KEEP_PACK === '1') console.log(`test:pack: kept ${temp}`);
  else rmSync(temp, { recursive: true, force: true });
}
