"""Security layers of the relay (security.md): client IP, admin lockout, user tokens, IP filter,
CORS, service status and the public guard.

Pure decision logic lives in small modules (`clientip`, `lockout`, `tokens`, `ipfilter`);
`state.SecurityState` holds their in-memory copies for a running server and `writer`
batches the writes they cause, so the request path never touches the disk (Rule 4). The
ASGI layers (`cors`, `guard`) wrap the Starlette app in the order of security.md §1.
"""
