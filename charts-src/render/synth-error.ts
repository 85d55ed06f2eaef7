/** Input synth refuses as a whole, before it writes anything (also raised by a render thread, render-pool.ts). */
export class SynthError extends Error {}
