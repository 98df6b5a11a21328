"""OAuth account linking (oauth.md): authorization code + PKCE, identity, refresh, revoke.

`provider` reads the configured identity provider; `client` talks to it over HTTP
(token exchange, refresh, userinfo, JWKS, revocation); `identity` turns a token response
into a verified identity; `tracker` keeps the phases, the 20-event ring and the counters;
`flows` is the one-flow-at-a-time state machine (local listener or web flow) and its
consumer; `listener` is the loopback callback server; `tokens` refreshes stored
accounts (one refresh in flight per account) and is what the relay asks for a Bearer token.
"""
