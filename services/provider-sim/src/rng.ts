/**
 * Seedable pseudo-random numbers. The simulator draws every random decision
 * (latency, unsolvable outcome, tokens, injected faults) from its own named stream,
 * each derived from the one seed, so that turning a fault on does not shift the
 * latency sequence and a fixed `SIM_SEED` replays the same run.
 */

/** A source of uniformly distributed numbers in [0, 1). */
export type Random = () => number;

/** FNV-1a over the UTF-16 code units of `text`, as an unsigned 32-bit integer. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: small, fast, good enough for simulation (not for secrets). */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The random stream called `name` for the simulator seeded with `seed`. */
export function stream(seed: string, name: string): Random {
  return mulberry32(hash32(`${seed}/${name}`));
}

/** An integer in [min, max] (both inclusive). */
export function intBetween(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/**
 * `length` characters drawn from `alphabet`. Built with `join`, not `+=`: a string
 * grown by `+=` stays a rope of `length` nodes (~30 bytes each) in V8, which made
 * every stored token cost tens of kilobytes.
 */
export function randomString(random: Random, alphabet: string, length: number): string {
  const chars = new Array<string>(length);
  for (let i = 0; i < length; i++) chars[i] = alphabet[Math.floor(random() * alphabet.length)]!;
  return chars.join('');
}
