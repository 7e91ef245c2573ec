/**
 * Portcullis's public programmatic API.
 *
 * ```ts
 * import { createGateway, respond } from 'portcullis'
 * const gw = await createGateway('./portcullis.yaml', { hooks: { onRequest: (s) => … } })
 * await gw.listen()
 * ```
 */
export type { GatewayConfig, GatewayConfigInput } from './config/schema.ts'
export { configSchema } from './config/schema.ts'
export type { ErrorCode, ErrorSource } from './core/errors.ts'
export { ERROR_KINDS, GatewayError } from './core/errors.ts'
export { HeaderList } from './core/header-list.ts'
export type {
  ConnectionInfo,
  GatewayHooks,
  GatewayResponse,
  HookResult,
  HookReturn,
  ResponseHeadView,
  TargetInfo,
  UpstreamRequest,
  WebSocketMessage,
  WebSocketMessageResult,
} from './core/hooks.ts'
export { CONTINUE, DROP_MESSAGE, respond } from './core/hooks.ts'
export type { RouteInfo, SessionTimings } from './core/session.ts'
export { Session } from './core/session.ts'
export type { BoundAddress, Gateway, GatewayOptions, GatewayStats } from './server/gateway.ts'
export { createGateway } from './server/gateway.ts'
// The forward proxy: the whole-body hooks for interceptors (any session's onResponse; onRequest, onUpstreamRequest).
export {
  rewriteBody,
  rewriteRequestBody,
  type WholeBodyOptions,
  type WholeBodyRewrite,
} from './forward/whole-body.ts'
// The streaming request body transform (onRequestHead, onRequest; any session).
export { type RequestTransformOptions, transformRequestBody } from './forward/stream-body.ts'
export { HarRecorder, type HarOptions } from './forward/har.ts'
export type { Destination, SessionSource } from './core/session.ts'
// Policies (src/modules): configured per route; these help from TypeScript.
export { hashPassword } from './config/password-hash.ts'
export { rateLimitFailureChannel, type RateLimitFailureMessage } from './modules/rate-limit/index.ts'
export { jwksErrorChannel, type JwksErrorMessage } from './modules/jwt/jwks.ts'
