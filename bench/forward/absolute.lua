-- wrk through a forward proxy: the request line carries the absolute-form
-- target (RFC 9112 §3.2.2). ORIGIN is read from the environment.
local origin = os.getenv("ORIGIN") or "http://127.0.0.1:3001"
wrk.path = origin .. "/small"
