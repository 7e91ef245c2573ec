/**
 * wallTime returns the wall-clock time (Date.now()) for a performance.now()
 * reading the caller already has, asking the system at most once per
 * monotonic millisecond: a busy gateway starts many requests per
 * millisecond, and each would otherwise pay for its own Date.now(). The
 * value is the wall clock read during that millisecond, so it never drifts
 * from it the way performance.timeOrigin + now does over a long uptime.
 */
let lastMono = -1
let lastWall = 0

export function wallTime(perfNow: number): number {
  const mono = Math.floor(perfNow)
  if (mono !== lastMono) {
    lastMono = mono
    lastWall = Date.now()
  }
  return lastWall
}
