/**
 * routeKey names a route for the store keys of its own policies (a route's
 * rate limit, its concurrency slots): its `name`, or a stable hash of its
 * match, so every worker and instance with the same config agrees on it.
 */
import { createHash } from 'node:crypto'
import type { RouteConfig } from '../config/schema.ts'

export function routeKey(route: RouteConfig): string {
  return (
    route.name ??
    `route-${createHash('sha256').update(JSON.stringify(route.match)).digest('hex').slice(0, 8)}`
  )
}
