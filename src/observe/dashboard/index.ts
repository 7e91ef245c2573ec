/**
 * The live dashboard (docs/operations.md, "Dashboard"): a page on the admin
 * listener, fed by server-sent events. Importing this module registers:
 *
 * - a serving extension: in every serving process (the one process, or each
 *   worker) a LiveStats collector, reported under the topic `dashboard`;
 * - admin routes: `GET /dashboard` (the page: no data in it, so public),
 *   `GET /dashboard/api/events` (the event stream) and
 *   `GET /dashboard/api/requests/:key` (one request's headers), both behind
 *   the admin token like the rest of the API.
 *
 * A browser cannot put a bearer token on a page load or an EventSource, so
 * the page reads the stream with fetch() and sends the token the operator
 * typed (kept in the tab's sessionStorage), or none on a loopback listener
 * without tokens.
 */
import type { AdminInstance } from '../admin/instance.ts'
import { registerServingExtension } from '../admin/extensions.ts'
import { AdminError, json, registerAdminRoute, text } from '../admin/routes.ts'
import { DashboardFeed } from './feed.ts'
import { LiveStats } from './live-stats.ts'
import { dashboardPage } from './page.ts'

/** The topic each serving process reports its LiveStats under. */
export const DASHBOARD_TOPIC = 'dashboard'

// Started by the first read of an open page and stopped a minute after the
// last: with no page open, requests pay nothing for the dashboard
// (always on, `admin:` cost 1.24x a small GET's CPU; on demand 1.05x).
registerServingExtension({
  name: DASHBOARD_TOPIC,
  onDemand: { topics: [DASHBOARD_TOPIC] },
  start(gateway) {
    const stats = new LiveStats(gateway)
    return { topics: { [DASHBOARD_TOPIC]: () => stats.report() }, stop: () => stats.stop() }
  },
})

const feeds = new WeakMap<AdminInstance, DashboardFeed>()

function feedOf(instance: AdminInstance): DashboardFeed {
  let feed = feeds.get(instance)
  if (feed === undefined) {
    feed = new DashboardFeed(instance)
    feeds.set(instance, feed)
  }
  return feed
}

registerAdminRoute({
  method: 'GET',
  path: '/dashboard',
  public: true,
  handle(_req, res) {
    res.setHeader(
      'content-security-policy',
      "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:",
    )
    res.setHeader('x-frame-options', 'DENY')
    text(res, 200, dashboardPage(), 'text/html; charset=utf-8')
  },
})

registerAdminRoute({
  method: 'GET',
  path: '/dashboard/api/events',
  handle(req, res) {
    feedOf(req.instance).open(res)
  },
})

registerAdminRoute({
  method: 'GET',
  path: '/dashboard/api/requests/:key',
  handle(req, res) {
    const found = feedOf(req.instance).request(req.params.key!)
    if (found === undefined) throw new AdminError(404, 'NOT_FOUND', 'that request is no longer kept')
    json(res, 200, found)
  },
})
