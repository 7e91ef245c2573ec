/**
 * @fastify/http-proxy as a contestant, with its default undici pool
 * (128 connections, no pipelining) and logging off.
 *
 * Usage: node bench/servers/fastify-proxy.ts PORT ORIGIN_PORT
 */
import proxy from '@fastify/http-proxy'
import Fastify from 'fastify'

const [port, originPort] = process.argv.slice(2).map(Number)
const app = Fastify({ logger: false, keepAliveTimeout: 120_000 })
await app.register(proxy, { upstream: `http://127.0.0.1:${originPort}` })
await app.listen({ port: port!, host: '127.0.0.1', backlog: 4096 })
process.on('SIGTERM', () => process.exit(0))
