/**
 * The Node/V8 flags Portcullis runs with: bin/portcullis.ts's shebang, the
 * npm scripts and the benchmark use the same list.
 *
 * --max-semi-space-size=2 (MB): a small young generation. Every socket read
 * allocates a Buffer whose memory lives outside the JS heap; it is freed when
 * a scavenge finds the Buffer dead. With V8's default (the young generation
 * grows to 16 MB under our allocation rate) scavenges come seldom, dead read
 * buffers pile up, and V8 falls back to full mark-compacts for "external
 * memory pressure". Measured (A/B, same run, 64 KiB responses): 96 → 58 µs CPU
 * per request, req/s +60%; small responses unchanged. docs/discoveries.md.
 */
export const PORTCULLIS_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2']
