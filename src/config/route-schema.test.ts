import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatProblems, parseConfigText } from './load.ts'

/** problems validates a YAML file whose `routes:` section is `routes` and returns `check`'s lines. */
function problems(routes: string): string {
  const text = `upstreams:\n  api: { targets: [{ url: http://127.0.0.1:1 }] }\nroutes:\n${routes}`
  const r = parseConfigText(text, 'gw.yaml', {})
  return r.ok ? '' : formatProblems(r.problems)
}

describe('route schema', () => {
  it('accepts every matcher, action and transform together', () => {
    const out = problems(
      [
        '  - match:',
        '      host: ["*.example.com", api.example.org]',
        '      pattern: /users/:id',
        '      methods: [get]',
        '      headers: { x-canary: "yes", authorization: { present: true }, user-agent: { regex: "^curl" } }',
        '      query: { debug: 1, lang: { regex: "^(en|fr)$" } }',
        '      clients: [10.0.0.0/8, "::1"]',
        '    upstream: api',
        '    rewrite: { path: "/v2/users/{params.id}", host: "{request.hostname}" }',
        '    headers:',
        '      request: { set: { x-user: "{params.id}" }, add: { x-via: gw }, remove: [cookie] }',
        '      response: { set: { x-request-id: "{request.id}" } }',
        '  - match: { regex: "^/old/(?<rest>.*)" }',
        '    redirect: { status: 308, to: "/new/{params.rest}" }',
        '  - match: { exact: /health }',
        '    respond: { body: ok }',
      ].join('\n'),
    )
    assert.equal(out, '')
  })

  it('points at an invalid regex and an invalid pattern', () => {
    const out = problems(
      [
        '  - match: { regex: "^/(a" }',
        '    upstream: api',
        '  - match: { pattern: /a/*/b }',
        '    upstream: api',
      ].join('\n'),
    )
    assert.match(
      out,
      /^gw\.yaml:4:21 routes\.0\.match\.regex: invalid regular expression: .*Unterminated group/m,
    )
    assert.match(
      out,
      /^gw\.yaml:6:23 routes\.1\.match\.pattern: '\*': a \* wildcard may only be the last segment/m,
    )
  })

  it('refuses unknown placeholders and parameters the path does not capture', () => {
    const out = problems(
      [
        '  - match: { pattern: /u/:id }',
        '    upstream: api',
        '    headers: { request: { set: { x-a: "{client.addr}", x-b: "{params.user}" } } }',
      ].join('\n'),
    )
    assert.match(out, /routes\.0\.headers\.request\.set\.x-a: unknown placeholder \{client\.addr\} at 0/)
    assert.match(
      out,
      /routes\.0\.headers\.request\.set\.x-b: \{params\.user\} at 0: the route's path does not capture 'user' \(captured: \{params\.id\}\)/,
    )
  })

  it('leaves {…} placeholders to request time and $-references to the environment', () => {
    const text = 'routes:\n  - redirect: { to: "https://${HOST}{request.path}" }\n'
    const r = parseConfigText(text, 'gw.yaml', { HOST: 'new.example.com' })
    assert.ok(r.ok)
    assert.equal(r.config.routes[0]!.redirect!.to, 'https://new.example.com{request.path}')
  })

  it('needs exactly one action and one path matcher', () => {
    const out = problems(
      ['  - match: { path: /a, exact: /a }', '    upstream: api', '    redirect: { to: /b }'].join('\n'),
    )
    assert.match(out, /routes\.0\.match: use one of path, exact, pattern or regex/)
    const two = problems('  - upstream: api\n    redirect: { to: /b }')
    assert.match(two, /routes\.0: needs exactly one action: upstream, respond, redirect or static/)
  })

  it('refuses transforms on routes that do not proxy, and unsafe header names', () => {
    const out = problems(
      [
        '  - respond: {}',
        '    rewrite: { stripPrefix: /a }',
        '  - upstream: api',
        '    rewrite: { stripPrefix: true }',
        '    headers: { request: { set: { content-length: "1", host: x } } }',
      ].join('\n'),
    )
    assert.match(
      out,
      /routes\.0\.rewrite: rewrite changes proxied requests and responses; this route's action is respond/,
    )
    assert.match(
      out,
      /routes\.1\.headers\.request\.set\.content-length: invalid name 'content-length': framing and hop-by-hop/,
    )
  })

  it('checks redirect statuses, targets, wildcard hosts and regex replacement groups', () => {
    const out = problems(
      [
        '  - redirect: { status: 305, to: "new" }',
        '  - match: { host: "api.*.com" }',
        '    upstream: api',
        '  - upstream: api',
        '    rewrite: { regex: { pattern: "^/a/(.*)", replace: "/b/$2" } }',
      ].join('\n'),
    )
    assert.match(out, /routes\.0\.redirect\.status: must be 301, 302, 303, 307 or 308/)
    assert.match(out, /routes\.0\.redirect\.to: must be a path \(\/new\) or an http\(s\):\/\/ URL/)
    assert.match(out, /routes\.1\.match\.host: a wildcard host is written \*\.example\.com/)
    assert.match(out, /routes\.2\.rewrite\.regex\.replace: \$2: the pattern has no such group/)
  })
})
