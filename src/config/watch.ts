/**
 * Watching the files of a configuration for changes. Directories are watched
 * rather than files: an editor that saves by writing a new file and renaming
 * it over the old one (vim, most IDEs), or a Kubernetes ConfigMap that swaps
 * a symlink, replaces the file's inode, and a watch on the old inode would
 * go quiet. A directory watch sees every such save, and also new files that
 * an include glob will match. Any event in a watched directory counts; the
 * caller tells real changes from noise by the inputs' digest.
 */
import { type FSWatcher, watch } from 'node:fs'
import { dirname, join, parse, sep } from 'node:path'
import type { ConfigInputs } from './sources.ts'

/** A running watch; see `watchConfig`. */
export interface ConfigWatcher {
  /**
   * update switches to the files of a newer load, keeping the watches of
   * directories still needed so no event falls between two watches.
   */
  update(inputs: ConfigInputs, debounceMs: number): void
  /** close stops watching; a pending change is dropped. */
  close(): void
}

const GLOB_RE = /[*?[\]{}]/

/**
 * watchConfig calls `onChange` once things have been quiet for `debounceMs`
 * after a change in a directory holding one of `inputs.files` or matched by
 * one of `inputs.patterns`. A directory that cannot be watched (it vanished)
 * is skipped; the next `update` tries again.
 */
export function watchConfig(inputs: ConfigInputs, debounceMs: number, onChange: () => void): ConfigWatcher {
  const watchers = new Map<string, FSWatcher>()
  let timer: NodeJS.Timeout | undefined
  let debounce = debounceMs

  function changed(): void {
    clearTimeout(timer)
    timer = setTimeout(onChange, debounce)
    timer.unref()
  }

  function update(next: ConfigInputs, nextDebounce: number): void {
    debounce = nextDebounce
    const wanted = directoriesOf(next)
    for (const [key, w] of watchers) {
      if (wanted.has(key)) continue
      w.close()
      watchers.delete(key)
    }
    for (const [key, { dir, recursive }] of wanted) {
      if (watchers.has(key)) continue
      try {
        const w = watch(dir, { persistent: false, recursive }, changed)
        // The directory went away: drop the watch and let a reload (which
        // will most likely fail to read the file, and say so) re-arm it.
        w.on('error', () => {
          w.close()
          watchers.delete(key)
          changed()
        })
        watchers.set(key, w)
      } catch {
        // Nothing to watch there now.
      }
    }
  }

  update(inputs, debounceMs)
  return {
    update,
    close() {
      clearTimeout(timer)
      for (const w of watchers.values()) w.close()
      watchers.clear()
    },
  }
}

/** directoriesOf lists what to watch: each file's directory, and each glob's base (recursively when the glob spans directories). */
function directoriesOf(inputs: ConfigInputs): Map<string, { dir: string; recursive: boolean }> {
  const out = new Map<string, { dir: string; recursive: boolean }>()
  const add = (dir: string, recursive: boolean) =>
    out.set(`${recursive ? 'r' : 'd'}:${dir}`, { dir, recursive })
  for (const file of inputs.files) add(dirname(file), false)
  for (const pattern of inputs.patterns) {
    const { root } = parse(pattern)
    const segments = pattern.slice(root.length).split(sep)
    const firstGlob = segments.findIndex((s) => GLOB_RE.test(s))
    const base = join(root, ...segments.slice(0, firstGlob))
    add(base, firstGlob < segments.length - 1)
  }
  return out
}
