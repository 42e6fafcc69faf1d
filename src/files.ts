/**
 * File helpers shared by the services that write files through temporary names (the KB working tree, local
 * asset storage): a process killed between writing a temporary file and renaming it leaves the file behind.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

export interface StaleFileSweep {
  /** File names to remove. */
  name: RegExp;
  /** Only files last modified before this (epoch ms): a newer one may belong to a write still in flight. */
  before: number;
  /** Folder names directly under the root that are not walked. */
  skipTopLevel?: readonly string[];
}

/**
 * Removes the matching files under `root` (walked depth-first, symbolic links not followed; a root that does
 * not exist has nothing to remove). Returns how many were removed.
 */
export async function removeStaleFiles(root: string, sweep: StaleFileSweep): Promise<number> {
  let removed = 0;
  const walk = async (dir: string): Promise<void> => {
    const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (dir === root && sweep.skipTopLevel?.includes(e.name)) continue;
        await walk(path);
      } else if (e.isFile() && sweep.name.test(e.name)) {
        const st = await fsp.stat(path).catch(() => null);
        if (!st || st.mtimeMs >= sweep.before) continue;
        if (
          await fsp.unlink(path).then(
            () => true,
            () => false,
          )
        )
          removed++;
      }
    }
  };
  await walk(root);
  return removed;
}
