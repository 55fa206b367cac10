// Where the Vulkan loader looks for driver manifests on Linux when no env var names them (its LoaderInterfaceArchitecture doc).
const MANIFEST_DIRS = [
  '/usr/local/share/vulkan/icd.d',
  '/usr/share/vulkan/icd.d',
  '/etc/vulkan/icd.d',
  '/usr/local/etc/vulkan/icd.d',
];

function searchedDirs(): string[] {
  const env = (name: string): string[] =>
    (process.env[name] ?? '')
      .split(':')
      .filter((d) => d !== '')
      .map((d) => `${d}/vulkan/icd.d`);
  const home = process.env.HOME ? [`${process.env.HOME}/.local/share/vulkan/icd.d`] : [];
  return [...MANIFEST_DIRS, ...env('XDG_CONFIG_DIRS'), ...env('XDG_DATA_DIRS'), ...home];
}

/**
 * Linux only: why the Vulkan loader will find no driver, or undefined when it may find one. Checked
 * before Dawn starts, because Dawn prints its own multi-line warnings to stderr once it looks and fails.
 * `hint` says what to set. Other platforms (Metal, D3D) are left to Dawn.
 */
export async function missingVulkanDriver(hint: string): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  const { existsSync, readdirSync } = await import('node:fs'); // dynamic: browser bundles of backend.ts never load node:fs
  for (const name of ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES']) {
    const value = process.env[name];
    if (value === undefined || value === '') continue;
    const missing = value.split(':').filter((path) => path !== '' && !existsSync(path));
    return missing.length === 0
      ? undefined
      : `${name} names a Vulkan driver manifest that does not exist (${missing.join(', ')}): ${hint}`;
  }
  const manifests = searchedDirs().flatMap((dir) =>
    existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [],
  );
  return manifests.length > 0
    ? undefined
    : `no Vulkan driver is installed (no manifest in ${MANIFEST_DIRS[1]}): ${hint}`;
}
