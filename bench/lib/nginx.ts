/**
 * nginx, written to a temporary directory and run in the foreground: the
 * benchmark's origin and one of its contestants. Nothing is read from or
 * written to system paths (pid, logs, temp files all live in `dir`).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hardFileLimit, type Managed, spawnManaged, waitForHttp } from './processes.ts'

/** Body of GET /small, also served by the stream origin. */
export const SMALL_BODY = 'Hello, world\n'
/** Size of GET /64k. */
export const LARGE_SIZE = 64 * 1024
/** Size of the POST /post request bodies. */
export const POST_SIZE = 16 * 1024

/**
 * nginxMain wraps an `http { … }` body into a whole configuration: one worker
 * (one core), enough connections for the idle scenario, and every path
 * inside `dir`.
 */
function nginxMain(dir: string, name: string, http: string): string {
  const tmp = join(dir, `${name}-temp`)
  const files = Math.min(65536, hardFileLimit())
  return `daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile ${files};
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}-error.log`)} warn;
events { worker_connections ${files}; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
${http}
}
`
}

/** writeOriginFiles creates the document root of the origin (the 64 KiB file). */
export function writeOriginFiles(dir: string): void {
  mkdirSync(join(dir, 'www'), { recursive: true })
  writeFileSync(join(dir, 'www', '64k'), Buffer.alloc(LARGE_SIZE, 'x'))
}

/**
 * originConfig: GET /small answers 13 bytes, GET /64k a cached 64 KiB file
 * (sendfile), POST /post reads and discards the body (nginx discards the
 * request body before a `return` response) and answers "ok".
 */
export function originConfig(dir: string, name: string, port: number): string {
  return nginxMain(
    dir,
    name,
    `  sendfile on;
  tcp_nopush on;
  open_file_cache max=16 inactive=60s;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${join(dir, 'www')};
    location = /small { return 200 ${JSON.stringify(SMALL_BODY)}; }
    location = /64k { default_type application/octet-stream; }
    location = /post { client_max_body_size 1m; return 200 "ok\\n"; }
  }`,
  )
}

/**
 * proxyConfig is nginx's documented tuning for reverse proxying: upstream
 * keep-alive (`keepalive` + HTTP/1.1 + empty Connection), request bodies
 * buffered in memory, streamed uploads on /upload, never a temp file for
 * responses.
 */
export function proxyConfig(dir: string, name: string, port: number, originPort: number): string {
  const pass = `proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";`
  return nginxMain(
    dir,
    name,
    `  client_max_body_size 0;
  client_body_buffer_size 64k;
  proxy_max_temp_file_size 0;
  upstream origin {
    server 127.0.0.1:${originPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { ${pass} }
    location /upload { ${pass} proxy_request_buffering off; }
  }`,
  )
}

/** startNginx writes `config` and runs nginx on it, resolving once GET /small answers. */
export async function startNginx(
  dir: string,
  name: string,
  config: string,
  port: number,
  cpu: number | undefined,
): Promise<Managed> {
  const file = join(dir, `${name}.conf`)
  writeFileSync(file, config)
  mkdirSync(join(dir, `${name}-temp`), { recursive: true })
  const p = spawnManaged(name, 'nginx', ['-p', dir, '-e', join(dir, `${name}-error.log`), '-c', file], {
    cpu,
    nofile: 65536,
  })
  await waitForHttp(port, '/small', p)
  return p
}
