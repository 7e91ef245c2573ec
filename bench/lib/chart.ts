/**
 * latest.svg: one panel per metric, one bar per contestant showing its
 * relative performance against nginx (the dashed line at 1.0). Longer is
 * better for every metric. Hand-written SVG, no chart library.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MetricSummary, Row } from './summary.ts'
import { REFERENCE } from './summary.ts'

const WIDTH = 900
const LABEL_W = 170
const PLOT_W = 560
const BAR_H = 14
const BAR_GAP = 4
const PANEL_PAD = 34
/** Bars longer than this are clipped and marked with their value. */
const SCALE_MAX = 2

const COLORS: Record<string, string> = {
  portcullis: '#d62728',
  direct: '#9e9e9e',
  haproxy: '#1f77b4',
  'http-proxy': '#2ca02c',
  fastify: '#9467bd',
  l4: '#ff7f0e',
}

export interface ChartInfo {
  date: string
  subtitle: string
}

export function writeChart(dir: string, summaries: readonly MetricSummary[], info: ChartInfo): string {
  const file = join(dir, 'latest.svg')
  writeFileSync(file, renderChart(summaries, info))
  return file
}

export function renderChart(summaries: readonly MetricSummary[], info: ChartInfo): string {
  const panels = summaries.filter((s) => s.metric.ratios)
  const parts: string[] = []
  let y = 70
  for (const s of panels) {
    const rows = s.rows.filter((r) => r.id !== REFERENCE)
    parts.push(panel(s, rows, y))
    y += PANEL_PAD + rows.length * (BAR_H + BAR_GAP) + 10
  }
  const height = y + 10
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="16" y="26" font-size="17" font-weight="bold">Portcullis bench: performance relative to nginx (dashed line = 1.0, longer is better)</text>
<text x="16" y="46" fill="#555">${esc(info.date)} · ${esc(info.subtitle)}</text>
${parts.join('\n')}
</svg>
`
}

function panel(s: MetricSummary, rows: readonly Row[], top: number): string {
  const x0 = LABEL_W
  const scale = PLOT_W / SCALE_MAX
  const out = [
    `<text x="16" y="${top + 14}" font-weight="bold">${esc(s.metric.title)} (${esc(s.metric.unit)}, ${s.metric.better} is better)</text>`,
  ]
  const barsTop = top + 24
  const bottom = barsTop + rows.length * (BAR_H + BAR_GAP)
  for (const tick of [0, 0.5, 1, 1.5, 2]) {
    const x = x0 + tick * scale
    if (tick !== 1)
      out.push(`<line x1="${x}" y1="${barsTop - 4}" x2="${x}" y2="${bottom}" stroke="#e5e5e5"/>`)
    out.push(
      `<text x="${x}" y="${bottom + 11}" font-size="10" fill="#777" text-anchor="middle">${tick}</text>`,
    )
  }
  rows.forEach((r, i) => {
    const y = barsTop + i * (BAR_H + BAR_GAP)
    const color = COLORS[r.id] ?? '#444'
    const weight = r.id === 'portcullis' ? ' font-weight="bold"' : ''
    out.push(`<text x="${x0 - 8}" y="${y + BAR_H - 3}" text-anchor="end"${weight}>${esc(r.label)}</text>`)
    if (r.vsNginx === null) {
      out.push(`<text x="${x0 + 4}" y="${y + BAR_H - 3}" fill="#999">no result</text>`)
      return
    }
    const clipped = r.vsNginx > SCALE_MAX
    const w = Math.max(1, Math.min(r.vsNginx, SCALE_MAX) * scale)
    out.push(`<rect x="${x0}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${color}"/>`)
    const label = `${r.vsNginx.toFixed(2)}×${clipped ? ' →' : ''}  (${formatValue(r.median)} ${s.metric.unit})`
    out.push(`<text x="${x0 + w + 6}" y="${y + BAR_H - 3}" font-size="11">${esc(label)}</text>`)
  })
  // The nginx line goes over the bars, so a bar's end reads against it.
  const one = x0 + scale
  out.push(
    `<line x1="${one}" y1="${barsTop - 4}" x2="${one}" y2="${bottom}" stroke="#333" stroke-dasharray="4 3"/>`,
  )
  return out.join('\n')
}

function formatValue(v: number | null): string {
  if (v === null) return '—'
  if (v >= 100) return Math.round(v).toLocaleString('en-US')
  return v.toPrecision(3)
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
