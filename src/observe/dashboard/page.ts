/**
 * The dashboard page: one HTML document with its style and scripts inlined
 * (page/index.html, style.css, charts.js, app.js), read once and served as
 * is. Nothing is fetched from elsewhere: the admin listener may run where no
 * CDN is reachable, and a page that loads foreign code could read the API.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

let page: string | undefined

/** dashboardPage returns the page's HTML. */
export function dashboardPage(): string {
  if (page !== undefined) return page
  const dir = join(import.meta.dirname, 'page')
  const read = (name: string) => readFileSync(join(dir, name), 'utf8')
  page = read('index.html')
    .replace('/*STYLE*/', () => read('style.css'))
    .replace('/*SCRIPT*/', () => read('charts.js') + '\n' + read('app.js'))
  return page
}
