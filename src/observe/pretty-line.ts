/**
 * The human-readable form of an error log line, for a terminal:
 *
 *   12:03:04.512 ERROR upstream connect refused  target=http://127.0.0.1:3001 requestId=…
 *
 * Local time of day, the level, the message, then the other fields as
 * key=value (quoted when they hold spaces). A multi-line field (a reload's
 * configuration problems, a stack) follows on its own indented lines.
 */

const LEVEL_COLOURS: Record<string, string> = {
  fatal: '\x1b[41;97m',
  error: '\x1b[31m',
  warn: '\x1b[33m',
  info: '\x1b[32m',
  debug: '\x1b[2m',
  trace: '\x1b[2m',
}

/** prettyLine turns one JSON log line (as pino writes it) into a human-readable one. */
export function prettyLine(json: string, colour: boolean): string {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json
  }
  const { time, level, msg, ...fields } = record
  const label = String(level ?? 'info')
  const shown = label.toUpperCase().padEnd(5)
  const head = `${clock(time)} ${colour ? `${LEVEL_COLOURS[label] ?? ''}${shown}\x1b[0m` : shown} ${msg ?? ''}`
  const pairs: string[] = []
  const blocks: string[] = []
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue
    const text = typeof value === 'string' ? value : JSON.stringify(value)
    if (text.includes('\n')) blocks.push(`  ${key}:\n${text.replace(/^/gm, '    ')}`)
    else pairs.push(`${key}=${/[\s"=]/.test(text) || text === '' ? JSON.stringify(text) : text}`)
  }
  const line = pairs.length > 0 ? `${head}  ${pairs.join(' ')}` : head
  return blocks.length > 0 ? `${line}\n${blocks.join('\n')}\n` : `${line}\n`
}

/** clock renders an ISO time as the local time of day, `HH:MM:SS.mmm`. */
function clock(time: unknown): string {
  const d = typeof time === 'string' ? new Date(time) : new Date()
  const two = (n: number) => String(n).padStart(2, '0')
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`
}
