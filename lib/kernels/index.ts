/**
 * Backend selection: METATASK_BACKEND=native|js|auto (default auto: native when the addon loads,
 * else the TypeScript kernels), or setBackend(name) at run time. METATASK_HUGE_PAGES=on|off
 * (default off) chooses whether the native backend's new buffers come from transparent huge pages.
 */
import { setHugePageAdvice, setPrefault } from '../core/bufferLease.js';
import { BackendError, ConfigError } from '../core/errors.js';
import { describe } from '../core/matrix.js';
import { onOffSetting } from '../core/options.js';
import { didYouMean } from '../core/suggest.js';
import { jsKernels } from './js/index.js';
import { wasmSimdActive } from './js/products.js';
import { capSimd, loadAddon, nativeInfo, nativeKernels, prefaultWith, useHugePages, type Addon } from './native.js';
import type { BackendInfo, Kernels } from './types.js';

export type BackendName = 'native' | 'js' | 'auto';

let addonState: { addon: Addon | null; path?: string; attempts: string[] } | undefined;
let native: Kernels | null | undefined;
let current: Kernels | undefined;

const FIX =
  `Install a prebuilt binary for this platform (reinstall metatask) or build one with 'npm rebuild metatask' ` +
  `(needs a C++17 compiler, make, pkg-config and Eigen 3.4: 'apt-get install g++ make pkg-config libeigen3-dev' ` +
  `or 'brew install eigen pkg-config')`;

function addon(): Addon | null {
  addonState ??= loadAddon();
  return addonState.addon;
}

/** Why the native addon is or is not available, and how to fix it (for warnings and `metatask info`). */
export interface NativeStatus {
  loaded: boolean;
  /** The file the addon was loaded from (a prebuilt binary under prebuilds/, or a source build under build/). */
  path?: string;
  /** Every place the loader looked and why it failed (empty when it loaded). */
  attempts: string[];
  /** What to do about it (when not loaded). */
  fix?: string;
}

export function nativeStatus(): NativeStatus {
  const a = addon();
  return a ? { loaded: true, path: addonState!.path, attempts: [] } : { loaded: false, attempts: addonState!.attempts, fix: FIX };
}

function nativeOrThrow(): Kernels {
  const a = addon();
  if (!a) {
    const lines = addonState!.attempts.map((s) => `  - ${s}`).join('\n');
    throw new BackendError(
      `the native backend was requested but the metatask addon could not be loaded. Looked in:\n${lines}\n` +
        `${FIX}, or use the TypeScript kernels with METATASK_BACKEND=js.`,
    );
  }
  if (!native) {
    const cap = process.env.METATASK_SIMD;
    if (cap) capSimd(a, cap);
    // On: new buffers from 2 MiB pages marked for transparent huge pages (docs/backends.md; the
    // figures behind the default are in native/src/runtime/memory.h).
    const hugePages = onOffSetting('METATASK_HUGE_PAGES', 'off');
    native = nativeKernels(a);
    setHugePageAdvice(useHugePages(a, hugePages));
    // Without them, new buffers' pages are faulted in by one call each before their first writes.
    setPrefault(hugePages ? null : prefaultWith(a));
  }
  return native;
}

let warned = false;

/**
 * npm hides install output, so a fallback to the TypeScript kernels is said once per process, at
 * first use, as a process warning (code METATASK_NATIVE_UNAVAILABLE). Choosing METATASK_BACKEND=js
 * (or setBackend('js')) says nothing.
 */
function warnFallback(): void {
  if (warned) return;
  warned = true;
  const why = addonState!.attempts.join('; ');
  process.emitWarning(
    `the native addon could not be loaded (${why}); metatask runs on its TypeScript kernels, several times slower. ` +
      `${FIX}. Set METATASK_BACKEND=js to choose the TypeScript kernels without this warning.`,
    { type: 'MetataskWarning', code: 'METATASK_NATIVE_UNAVAILABLE' },
  );
}

function select(name: unknown, source: string): Kernels {
  switch (name) {
    case 'native':
      return nativeOrThrow();
    case 'js':
      return jsKernels;
    case 'auto':
    case undefined:
    case '':
      if (addon()) return nativeOrThrow();
      warnFallback();
      return jsKernels;
    default:
      throw new ConfigError(`${source} must be 'native', 'js' or 'auto', got ${describe(name)}${didYouMean(name, ['native', 'js', 'auto'])}`);
  }
}

/** The kernels every algorithm calls (selected on first use). */
export function kernels(): Kernels {
  current ??= select(process.env.METATASK_BACKEND, 'METATASK_BACKEND');
  return current;
}

/** Choose the backend for all later calls; returns its info. Throws BackendError if native cannot load. */
export function setBackend(name: BackendName): BackendInfo {
  current = select(name, 'setBackend(name)');
  return backend();
}

/** Which backend runs, its version, SIMD sets and thread bound. */
export function backend(): BackendInfo {
  const k = kernels();
  if (k.name === 'native') return { ...nativeInfo(addon()!), wasmSimd: wasmSimdActive() };
  return { name: 'js', version: jsVersion, simd: 'none', simdAvailable: [], threads: 1, hugePages: false, wasmSimd: wasmSimdActive() };
}

/** The kernels of one backend, without changing the selection (parity tests, benchmarks). */
export function kernelsFor(name: 'native' | 'js'): Kernels {
  return name === 'native' ? nativeOrThrow() : jsKernels;
}

/** The backends that can run here. */
export function availableBackends(): ('native' | 'js')[] {
  return addon() ? ['native', 'js'] : ['js'];
}

/** Bound the threads native kernels may use (the TypeScript kernels are single-threaded). */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new ConfigError(`setThreads(n): n must be an integer in [1, 256], got ${describe(n)}`);
  addon()?.setThreads(n);
}

/** The raw addon, for the binding's own robustness tests. Null when it did not load. */
export function rawAddon(): Addon | null {
  return addon();
}

const jsVersion = '0.1.0';
