'use strict'
/*
 * Small canvas charts for the dashboard: time on x (the last WINDOW seconds,
 * ending now), one or more series on y, stacked areas or lines, linear or
 * log scale. Each chart records what it drew on the canvas element
 * (data-points, data-max) so tests and people can check it has data.
 */
const WINDOW_MS = 300_000

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim()
}

function niceMax(v) {
  if (!(v > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}

function formatNumber(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M'
  if (v >= 1e4) return (v / 1e3).toFixed(0) + 'k'
  if (v >= 1e3) return (v / 1e3).toFixed(1) + 'k'
  if (v >= 10 || v === 0) return v.toFixed(0)
  if (v >= 1) return v.toFixed(1)
  return v.toPrecision(2)
}

/**
 * drawChart draws `series` ([{ values, color, label }]) against `times`
 * (epoch ms, one per value). options: stacked (areas summed bottom-up),
 * log (log10 y axis, for latencies), min (log axis floor).
 */
function drawChart(canvas, times, series, options = {}) {
  const dpr = window.devicePixelRatio || 1
  const w = canvas.clientWidth
  const h = canvas.clientHeight
  if (canvas.width !== w * dpr || canvas.height !== h * dpr) {
    canvas.width = w * dpr
    canvas.height = h * dpr
  }
  const ctx = canvas.getContext('2d')
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
  ctx.clearRect(0, 0, w, h)
  const left = 44
  const right = w - 8
  const top = 6
  const bottom = h - 18
  const end = times.length > 0 ? times[times.length - 1] : Date.now()
  const x = (t) => right - ((end - t) / WINDOW_MS) * (right - left)

  // Stacked series are drawn as cumulative sums.
  const drawn = series.map((s) => s.values.slice())
  if (options.stacked)
    for (let k = 1; k < drawn.length; k++)
      for (let i = 0; i < times.length; i++) drawn[k][i] = (drawn[k][i] ?? 0) + (drawn[k - 1][i] ?? 0)
  let max = 0
  let points = 0
  for (const vs of drawn)
    for (const v of vs)
      if (v !== null && Number.isFinite(v)) {
        max = Math.max(max, v)
        points++
      }
  canvas.dataset.points = String(points)
  canvas.dataset.max = String(max)

  let y
  let ticks
  if (options.log) {
    const lo = Math.log10(options.min ?? 0.01)
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(max, 1e-9))))
    y = (v) => bottom - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (bottom - top)
    ticks = []
    for (let e = Math.ceil(lo); e <= hi; e++) ticks.push(10 ** e)
  } else {
    const top_ = niceMax(max)
    y = (v) => bottom - (v / top_) * (bottom - top)
    ticks = [0, top_ / 4, top_ / 2, (3 * top_) / 4, top_]
  }

  ctx.strokeStyle = cssVar('--line')
  ctx.fillStyle = cssVar('--dim')
  ctx.font = '11px system-ui, sans-serif'
  ctx.lineWidth = 1
  ctx.textAlign = 'right'
  ctx.textBaseline = 'middle'
  for (const t of ticks) {
    const ty = Math.round(y(t)) + 0.5
    ctx.beginPath()
    ctx.moveTo(left, ty)
    ctx.lineTo(right, ty)
    ctx.stroke()
    ctx.fillText(formatNumber(t), left - 6, ty)
  }
  ctx.textAlign = 'center'
  ctx.textBaseline = 'top'
  for (let m = 0; m <= 5; m++) {
    ctx.textAlign = m === 0 ? 'right' : 'center'
    ctx.fillText(m === 0 ? 'now' : '-' + m + 'm', x(end - m * 60_000), bottom + 4)
  }

  for (let k = 0; k < drawn.length; k++) {
    const color = series[k].color
    for (const [a, b] of segments(times, drawn[k])) {
      ctx.beginPath()
      for (let i = a; i <= b; i++) ctx[i === a ? 'moveTo' : 'lineTo'](x(times[i]), y(drawn[k][i]))
      ctx.strokeStyle = color
      ctx.lineWidth = 1.5
      ctx.stroke()
      if (!options.stacked) continue
      // The band between this series and the one under it.
      for (let i = b; i >= a; i--) ctx.lineTo(x(times[i]), k === 0 ? bottom : y(drawn[k - 1][i] ?? 0))
      ctx.closePath()
      ctx.globalAlpha = 0.3
      ctx.fillStyle = color
      ctx.fill()
      ctx.globalAlpha = 1
    }
  }
}

/**
 * segments returns [first, last] index pairs of runs of finite values; a
 * gap of more than 3 s between points (the page was closed, a read was
 * skipped) ends a run.
 */
function segments(times, values) {
  const out = []
  let first = -1
  for (let i = 0; i <= times.length; i++) {
    const v = values[i]
    const ok = i < times.length && v !== null && v !== undefined && Number.isFinite(v)
    const gap = ok && first !== -1 && times[i] - times[i - 1] > 3000
    if (first !== -1 && (!ok || gap)) {
      out.push([first, i - 1])
      first = -1
    }
    if (ok && first === -1) first = i
  }
  return out
}

/** sparkline draws one small line (a target's latency) in a canvas cell. */
function sparkline(canvas, values, color) {
  const dpr = window.devicePixelRatio || 1
  const w = 100
  const h = 22
  canvas.width = w * dpr
  canvas.height = h * dpr
  canvas.style.width = w + 'px'
  canvas.style.height = h + 'px'
  const ctx = canvas.getContext('2d')
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
  const vs = values.filter((v) => v !== null)
  const max = Math.max(...vs, 0.001)
  ctx.strokeStyle = color
  ctx.lineWidth = 1.2
  ctx.beginPath()
  let started = false
  values.forEach((v, i) => {
    if (v === null) return
    const px = (i / Math.max(values.length - 1, 1)) * (w - 2) + 1
    const py = h - 2 - (v / max) * (h - 4)
    if (started) ctx.lineTo(px, py)
    else ctx.moveTo(px, py)
    started = true
  })
  ctx.stroke()
}
