/**
 * What can be checked of examples/deploy/ on a machine with no init system
 * running, no container engine daemon and no cluster: the systemd unit
 * passes `systemd-analyze verify` (skipped without it) and maps stop and
 * reload to the signals; the gateway configuration they all run validates;
 * the Kubernetes manifests parse, hold the kinds, probes and drain they
 * should, and agree with each other; the Containerfile passes a small lint
 * (pinned base, non-root USER, HEALTHCHECK on /healthz); the compose file
 * runs two gateways on one Redis. Not exercised here: building or running
 * the image, applying the manifests, starting the unit (docs/operations.md
 * says so too).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { parse, parseAllDocuments } from 'yaml'
import { loadConfig } from '../../src/config/load.ts'

const run = promisify(execFile)
const DEPLOY = join(import.meta.dirname, '..', '..', 'examples', 'deploy')
const ENV = { ADMIN_TOKEN: 'a'.repeat(32), REDIS_URL: 'redis://redis:6379', APP_ORIGIN: 'http://app:3000' }
const read = (name: string) => readFileSync(join(DEPLOY, name), 'utf8')

type Obj = Record<string, any>

/** unitSettings reads KEY=VALUE lines of a unit file (repeated keys kept in order). */
function unitSettings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line)
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!])
  }
  return out
}

describe('examples/deploy', () => {
  it('the gateway configuration they run is valid', async () => {
    const r = await loadConfig(join(DEPLOY, 'portcullis.yaml'), ENV)
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems))
    assert.equal(r.config.admin?.address.host, '0.0.0.0')
    assert.equal(r.config.stores.redis?.url, ENV.REDIS_URL)
    // Beyond loopback the admin listener needs its token: without one the file is refused.
    const { ADMIN_TOKEN: _, ...noToken } = ENV
    const refused = await loadConfig(join(DEPLOY, 'portcullis.yaml'), noToken)
    assert.equal(refused.ok, false)
  })

  const unit = read('portcullis.service')
  it(
    'the systemd unit passes systemd-analyze verify',
    { skip: !existsSync('/usr/bin/systemd-analyze') && 'needs systemd-analyze (package systemd)' },
    async () => {
      const { stderr } = await run('systemd-analyze', ['verify', join(DEPLOY, 'portcullis.service')])
      assert.equal(stderr.trim(), '')
    },
  )

  it('the unit maps stop to SIGTERM with time to drain, reload to SIGHUP, and is hardened', async () => {
    const s = unitSettings(unit)
    assert.deepEqual(s.get('KillSignal'), ['SIGTERM'])
    assert.match(s.get('ExecReload')![0]!, /kill -HUP \$MAINPID/)
    assert.match(s.get('ExecStart')![0]!, / start --config \/etc\/portcullis\/portcullis\.yaml$/)
    assert.match(s.get('ExecStartPre')![0]!, / check --config /)
    const r = await loadConfig(join(DEPLOY, 'portcullis.yaml'), ENV)
    assert.ok(r.ok)
    assert.ok(
      parseInt(s.get('TimeoutStopSec')![0]!, 10) * 1000 > r.config.timeouts.drain,
      'stop waits for the drain',
    )
    for (const key of ['NoNewPrivileges', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'DynamicUser'])
      assert.ok(s.has(key), key)
    assert.ok(!s.has('MemoryDenyWriteExecute'), 'V8 needs W+X pages')
  })

  it('the Kubernetes manifests hold the kinds, probes and drain they should', async () => {
    const docs = parseAllDocuments(read('kubernetes/portcullis.yaml')).map((d) => d.toJS() as Obj)
    const kind = (k: string) => docs.find((d) => d.kind === k)!
    assert.deepEqual(docs.map((d) => d.kind).sort(), [
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
    ])
    const deployment = kind('Deployment')
    const pod = deployment.spec.template
    const c = pod.spec.containers[0]
    const port = (name: string) => c.ports.find((p: Obj) => p.name === name).containerPort
    assert.equal(port('admin'), 9901)
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'admin' })
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'admin' })
    assert.deepEqual(c.lifecycle.preStop.exec.command, ['sleep', '10'])
    assert.equal(pod.spec.securityContext.runAsNonRoot, true)
    assert.equal(c.securityContext.allowPrivilegeEscalation, false)
    assert.deepEqual(deployment.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 })
    // The PDB and the Service select the Deployment's pods.
    const labels = pod.metadata.labels
    assert.deepEqual(kind('PodDisruptionBudget').spec.selector.matchLabels, labels)
    assert.deepEqual(kind('Service').spec.selector, labels)
    assert.deepEqual(deployment.spec.selector.matchLabels, labels)
    // The ConfigMap is examples/deploy/portcullis.yaml, mounted where the args read it.
    const config = kind('ConfigMap')
    assert.equal(config.data['portcullis.yaml'], read('portcullis.yaml'))
    assert.equal(pod.spec.volumes[0].configMap.name, config.metadata.name)
    assert.equal(c.volumeMounts[0].mountPath, '/etc/portcullis')
    assert.deepEqual(c.args, ['start', '--config', '/etc/portcullis/portcullis.yaml'])
    // Every variable the file names is set; the grace period covers preStop and the drain.
    for (const name of Object.keys(ENV))
      assert.ok(
        c.env.some((e: Obj) => e.name === name),
        name,
      )
    const r = await loadConfig(join(DEPLOY, 'portcullis.yaml'), ENV)
    assert.ok(r.ok)
    assert.ok(pod.spec.terminationGracePeriodSeconds * 1000 > 10_000 + r.config.timeouts.drain)
    assert.equal(port('http'), r.config.listen[0]!.address.port)
  })

  it('the Containerfile: pinned base, non-root user, health check on /healthz', () => {
    const lines = read('Containerfile')
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'))
    const from = lines.filter((l) => l.startsWith('FROM '))
    assert.ok(from.length > 0)
    for (const f of from) {
      const image = f.split(/\s+/)[1]!
      assert.match(image, /:[\w.-]+$/, `${image} names a tag`)
      assert.doesNotMatch(image, /:latest$/, `${image} is not :latest`)
    }
    const lastFrom = lines.lastIndexOf(from.at(-1)!)
    const user = lines.slice(lastFrom).filter((l) => l.startsWith('USER '))
    assert.equal(user.length, 1, 'the final stage sets USER')
    assert.doesNotMatch(user[0]!, /^USER (root|0)(:|$)/)
    const health = lines.find((l) => l.startsWith('HEALTHCHECK '))
    assert.ok(health?.includes('/healthz'), 'HEALTHCHECK asks /healthz')
    assert.ok(!lines.some((l) => /^ADD\s+https?:/.test(l)), 'no remote ADD')
    assert.ok(lines.some((l) => l === 'STOPSIGNAL SIGTERM'))
  })

  it('the compose file runs two gateways on one Redis', () => {
    const compose = parse(read('compose.yaml'), { merge: true }) as Obj
    const gateways = Object.entries(compose.services as Obj).filter(([, s]) => s.image === 'portcullis:0.1.0')
    assert.equal(gateways.length, 2)
    for (const [, s] of gateways) {
      assert.equal(s.environment.REDIS_URL, 'redis://redis:6379')
      assert.ok(
        s.ports.some((p: string) => p.startsWith('127.0.0.1:') && p.endsWith(':9901')),
        'admin on loopback',
      )
    }
    assert.match(compose.services.redis.image, /^redis:\d/)
  })
})
