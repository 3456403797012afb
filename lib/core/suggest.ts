/**
 * "Did you mean" for every name chosen from a list (options, strategies, architectures, task
 * names, losses...): the closest known name by edit distance (Levenshtein, case-insensitive),
 * offered only when it is close enough to be a likely typo, and one message format for an
 * unknown name, so every such error reads the same.
 */
import { describe } from './matrix.js';

/** The known name closest to `word`, if within max(2, |word|/3) edits; else undefined. */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(word.length / 3)) + 1;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best;
}

/** " (did you mean 'x'?)" when a known name is close to `value`, else "". */
export function didYouMean(value: unknown, candidates: readonly string[]): string {
  if (typeof value !== 'string') return '';
  const hint = closestName(value, candidates);
  return hint !== undefined && hint !== value ? ` (did you mean '${hint}'?)` : '';
}

/** A value as it appears in a message: a string in quotes, anything else described. */
export function quoteName(value: unknown): string {
  return typeof value === 'string' ? `'${value.length > 60 ? value.slice(0, 60) + '...' : value}'` : describe(value);
}

/** Known names as a message lists them: 'a', 'b', 'c'; past 12, the first 10 and the count. */
export function listKnown(names: readonly string[]): string {
  const q = names.map((n) => `'${n}'`);
  return q.length > 12 ? `${q.slice(0, 10).join(', ')}, ... (${q.length} in all)` : q.join(', ');
}

/**
 * The message for a name not in a list:
 *   "<where>: unknown <what> 'pcgard' (did you mean 'pcgrad'?); known <what>s: 'equal', ..."
 * `plural` overrides the plural of `what` (default what + 's').
 */
export function unknownName(where: string, what: string, value: unknown, known: readonly string[], plural = `${what}s`): string {
  return `${where}: unknown ${what} ${quoteName(value)}${didYouMean(value, known)}; known ${plural}: ${listKnown(known)}`;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}
