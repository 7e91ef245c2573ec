'use strict'
/*
 * The dashboard's live state: reads /dashboard/api/events with fetch (so it
 * can send the admin token; EventSource cannot), keeps the last five minutes
 * of points and the last requests, and redraws. Every value from the server
 * goes into the page as text (textContent), never as HTML: hosts, paths and
 * header values are whatever clients sent.
 */
const KEEP_REQUESTS = 500
const SHOWN_REQUESTS = 200
const state = { points: [], requests: [], targets: new Map(), upstreams: [], workers: [], tick: null }
const $ = (id) => document.getElementById(id)

function authHeaders() {
  const token = sessionStorage.getItem('portcullis-admin-token')
  return token ? { authorization: 'Bearer ' + token } : {}
}

function setStatus(text, on) {
  const el = $('status')
  el.textContent = text
  el.className = 'pill ' + (on ? 'on' : 'off')
}

async function connect() {
  try {
    const res = await fetch('/dashboard/api/events', { headers: authHeaders(), cache: 'no-store' })
    if (res.status === 401) {
      $('token-form').hidden = false
      setStatus('token needed', false)
      return
    }
    if (!res.ok || !res.body) throw new Error('HTTP ' + res.status)
    $('token-form').hidden = true
    setStatus('live', true)
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      let end
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        onEvent(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
      }
    }
  } catch {
    // reconnect below
  }
  setStatus('reconnecting…', false)
  setTimeout(connect, 2000)
}

function onEvent(block) {
  let event = 'message'
  let data = ''
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7)
    else if (line.startsWith('data: ')) data += line.slice(6)
  }
  const body = JSON.parse(data)
  if (event === 'history') {
    state.points = body.points
    state.requests = body.requests.reverse()
  } else if (event === 'tick') {
    if (body.point) state.points.push(body.point)
    while (state.points.length > 0 && state.points[0].t < Date.now() - 300_000) state.points.shift()
    state.upstreams = body.upstreams
    state.workers = body.workers
    state.tick = body
    for (const t of body.targets) {
      const key = t.upstream + ' ' + t.target
      const h = state.targets.get(key) ?? []
      h.push(t)
      if (h.length > 60) h.shift()
      state.targets.set(key, h)
    }
    if (!$('paused').checked) {
      for (const r of body.requests) state.requests.unshift(r)
      state.requests.length = Math.min(state.requests.length, KEEP_REQUESTS)
    }
  }
  render()
}

function fmtMs(v) {
  if (v === null || v === undefined) return '–'
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
}

function fmtBytes(n) {
  if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + ' GB'
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + ' MB'
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + ' kB'
  return n + ' B'
}

function render() {
  const p = state.points
  const last = p[p.length - 1]
  const times = p.map((q) => q.t)
  const color = (v) => cssVar(v)
  drawChart(
    $('chart-rps'),
    times,
    [
      { values: p.map((q) => q.classes[2]), color: color('--ok'), label: '2xx' },
      { values: p.map((q) => q.classes[3]), color: color('--redirect'), label: '3xx' },
      { values: p.map((q) => q.classes[4]), color: color('--client'), label: '4xx' },
      {
        values: p.map((q) => q.classes[5] + q.classes[0] + q.classes[1]),
        color: color('--server'),
        label: '5xx / none',
      },
    ],
    { stacked: true },
  )
  drawChart(
    $('chart-latency'),
    times,
    [
      { values: p.map((q) => q.p50), color: color('--p50') },
      { values: p.map((q) => q.p95), color: color('--p95') },
      { values: p.map((q) => q.p99), color: color('--p99') },
    ],
    { log: true, min: 0.01 },
  )
  drawChart($('chart-errors'), times, [
    { values: p.map((q) => (q.rps > 0 ? (100 * q.errors) / q.rps : null)), color: color('--server') },
  ])
  drawChart($('chart-connections'), times, [
    { values: p.map((q) => q.connections), color: color('--redirect') },
    { values: p.map((q) => q.loopP99), color: color('--client') },
  ])
  legend('legend-rps', [
    ['2xx', '--ok'],
    ['3xx', '--redirect'],
    ['4xx', '--client'],
    ['5xx / no answer', '--server'],
  ])
  legend('legend-latency', [
    ['p50', '--p50'],
    ['p95', '--p95'],
    ['p99', '--p99'],
  ])
  legend('legend-conn', [
    ['connections', '--redirect'],
    ['loop delay p99', '--client'],
  ])
  if (last) {
    $('tile-rps').textContent = last.rps.toFixed(last.rps >= 100 ? 0 : 1)
    const rate = last.rps > 0 ? (100 * last.errors) / last.rps : 0
    $('tile-errors').textContent = rate.toFixed(rate >= 10 ? 0 : 1) + ' %'
    $('tile-errors').classList.toggle('bad', rate >= 1)
    $('tile-latency').textContent = fmtMs(last.p50) + ' / ' + fmtMs(last.p95) + ' / ' + fmtMs(last.p99)
    $('tile-connections').textContent = String(last.connections)
    $('tile-memory').textContent = fmtBytes(last.rss)
    $('tile-loop').textContent = fmtMs(last.loopP99) + ' ms'
  }
  $('tile-workers').textContent = String(state.workers.length)
  renderTargets()
  renderWorkers()
  renderRequests()
}

function legend(id, items) {
  const el = $(id)
  if (el.childElementCount > 0) return
  for (const [label, v] of items) {
    const span = document.createElement('span')
    const i = document.createElement('i')
    i.style.background = cssVar(v)
    span.append(i, label)
    el.append(span)
  }
}

function row(cells, tbody) {
  const tr = document.createElement('tr')
  for (const c of cells) {
    const td = document.createElement('td')
    if (c instanceof Node) td.append(c)
    else td.textContent = c === undefined || c === null ? '' : String(c)
    tr.append(td)
  }
  tbody.append(tr)
  return tr
}

function badge(text, kind) {
  const b = document.createElement('span')
  b.className = 'badge ' + kind
  b.textContent = text
  return b
}

function renderTargets() {
  const tbody = $('targets').tBodies[0]
  tbody.replaceChildren()
  for (const u of state.upstreams) {
    for (const t of u.targets) {
      const h = state.targets.get(u.name + ' ' + t.origin) ?? []
      const now = h[h.length - 1]
      const recent = h.slice(-10).filter((x) => x.meanMs !== null)
      const mean = recent.length
        ? recent.reduce((a, x) => a + x.meanMs * x.tries, 0) /
          Math.max(
            recent.reduce((a, x) => a + x.tries, 0),
            1e-9,
          )
        : null
      const stateBadge = t.drained
        ? badge('drained', 'drained')
        : t.available
          ? badge('up', 'up')
          : badge('down', 'down')
      const spark = document.createElement('canvas')
      row(
        [
          u.name,
          t.url,
          stateBadge,
          t.weight,
          t.inflight,
          now ? now.tries.toFixed(1) : '0',
          now ? now.failures.toFixed(1) : '0',
          fmtMs(mean),
          spark,
        ],
        tbody,
      )
      sparkline(
        spark,
        h.map((x) => x.meanMs),
        cssVar('--p50'),
      )
    }
  }
}

function renderWorkers() {
  const tbody = $('workers').tBodies[0]
  tbody.replaceChildren()
  for (const w of state.workers)
    row(
      [
        w.id,
        w.pid,
        w.state,
        fmtBytes(w.rss),
        fmtBytes(w.heapUsed),
        fmtMs(w.loopP99) + ' ms',
        fmtMs(w.loopMax) + ' ms',
      ],
      tbody,
    )
}

function matches(r, words, source, errorsOnly) {
  if (source && r.source !== source) return false
  if (errorsOnly && !(r.status >= 500 || r.error)) return false
  const hay = [
    r.method,
    r.host,
    r.path,
    r.status,
    r.route,
    r.target,
    r.error,
    r.requestId,
    r.traceId,
    r.client,
  ]
    .join(' ')
    .toLowerCase()
  return words.every((w) => hay.includes(w))
}

function renderRequests() {
  const words = $('filter').value.toLowerCase().split(/\s+/).filter(Boolean)
  const source = $('source').value
  const errorsOnly = $('errors-only').checked
  const shown = state.requests.filter((r) => matches(r, words, source, errorsOnly)).slice(0, SHOWN_REQUESTS)
  $('recent-count').textContent = shown.length + ' of ' + state.requests.length + ' kept'
  const tbody = $('requests').tBodies[0]
  tbody.replaceChildren()
  for (const r of shown) {
    const status = document.createElement('span')
    status.className = 's' + Math.floor(r.status / 100)
    status.textContent = r.status === 0 ? (r.error ?? '–') : String(r.status)
    const tr = row(
      [
        new Date(r.time).toLocaleTimeString(),
        r.source,
        r.method,
        r.host,
        r.path,
        status,
        fmtMs(r.ms),
        fmtBytes(r.bytesOut),
        (r.route ?? '') + (r.target ? ' → ' + r.target : ''),
      ],
      tbody,
    )
    tr.dataset.key = r.key
    tr.addEventListener('click', () => openDetail(r))
  }
}

async function openDetail(listed) {
  const res = await fetch('/dashboard/api/requests/' + encodeURIComponent(listed.key), { headers: authHeaders() })
  // The gateway keeps the details of its last requests only: an older row shows what the list has.
  const r = res.ok ? await res.json() : { ...listed, headers: ['(headers)', 'no longer kept by the gateway'] }
  $('detail-title').textContent = r.method + ' ' + r.host + r.path + ' → ' + (r.status || r.error)
  const fields = $('detail-fields')
  fields.replaceChildren()
  const f = document.createElement('tbody')
  for (const [k, v] of [
    ['request id', r.requestId],
    ['trace id', r.traceId],
    ['time', new Date(r.time).toISOString()],
    ['door', r.source],
    ['client', r.client],
    ['route', r.route],
    ['target', r.target],
    ['status', r.status],
    ['error code', r.error],
    ['duration', fmtMs(r.ms) + ' ms'],
    ['bytes in / out', r.bytesIn + ' / ' + r.bytesOut],
  ])
    if (v !== undefined && v !== null && v !== '') row([k, v], f)
  fields.append(f)
  const headers = $('detail-headers')
  headers.replaceChildren()
  const hb = document.createElement('tbody')
  for (let i = 0; i < r.headers.length; i += 2) row([r.headers[i], r.headers[i + 1]], hb)
  headers.append(hb)
  $('detail').showModal()
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault()
  sessionStorage.setItem('portcullis-admin-token', $('token').value.trim())
  connect()
})
for (const id of ['filter', 'source', 'errors-only']) $(id).addEventListener('input', renderRequests)
window.addEventListener('resize', render)
connect()
