/**
 * The Node/V8 flags Portcullis runs with: the shebangs of bin/portcullis.ts
 * and bin/portcullis.js (the published bin), the npm scripts and the
 * benchmark use the same list.
 *
 * --max-semi-space-size=2 (MB): a small young generation. Every socket read
 * allocates a Buffer whose memory lives outside the JS heap; it is freed when
 * a scavenge finds the Buffer dead. With V8's default (the young generation
 * grows to 16 MB under our allocation rate) scavenges come seldom, dead read
 * buffers pile up, and V8 falls back to full mark-compacts for "external
 * memory pressure". Measured (A/B, same run, 64 KiB responses): 96 → 58 µs CPU
 * per request, req/s +60%; small responses unchanged. docs/discoveries.md.
 *
 * --max-inlined-bytecode-size=1500, --max-inlined-bytecode-size-cumulative=3000
 * (V8's defaults: 460 and 920): TurboFan may inline more of a request's many
 * small functions into the read callbacks that run them. Measured (same-time
 * A/B, `B_FLAGS` in bench/ab-cpu.sh): 0.986× and 0.987× CPU per small GET,
 * 0.983× per 16 KiB POST, 64 KiB responses unchanged. Larger budgets
 * (2000/8000) gained as much on small GETs but cost 4 % on POSTs.
 *
 * The bin's shebang and `npm start` spell the list out; node-flags.test.ts
 * checks they agree with it.
 */
export const PORTCULLIS_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=2',
  '--max-inlined-bytecode-size=1500',
  '--max-inlined-bytecode-size-cumulative=3000',
]
