/**
 * A plain TCP pass-through in Node: each client socket is piped to a new
 * origin socket and back. It does no HTTP work at all, so it is the ceiling
 * for any proxy written in Node on this machine.
 *
 * Usage: node bench/servers/l4.ts PORT ORIGIN_PORT
 */
import net from 'node:net'

const [port, originPort] = process.argv.slice(2).map(Number)

function pass(client: net.Socket): void {
  const origin = net.connect({ port: originPort!, host: '127.0.0.1', noDelay: true })
  client.pipe(origin).pipe(client)
  client.on('error', () => origin.destroy())
  origin.on('error', () => client.destroy())
  client.on('close', () => origin.destroy())
  origin.on('close', () => client.destroy())
}

net.createServer({ noDelay: true }, pass).listen({ port, host: '127.0.0.1', backlog: 4096 })
process.on('SIGTERM', () => process.exit(0))
