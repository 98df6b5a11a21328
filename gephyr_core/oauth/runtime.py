"""OAuth state a process holds: the flow manager, the refresher and the relay's token helper."""

from __future__ import annotations

from collections.abc import Callable

from gephyr_core.config import Settings
from gephyr_core.oauth.flows import FlowManager
from gephyr_core.oauth.link import Linker
from gephyr_core.oauth.relay import RelayTokens
from gephyr_core.oauth.tokens import TokenRefresher
from gephyr_core.pool.egress import Send
from gephyr_core.secrets import SecretBox
from gephyr_core.store import Store


class OAuthRuntime:
    """One per server (or per CLI login run): flows, linking and token refresh share it."""

    def __init__(self, store: Store, box: SecretBox, settings: Callable[[], Settings]) -> None:
        self.refresher = TokenRefresher(store, box, settings)
        # linking calls take the pool's no-account route through the refresher's egress, which a
        # server replaces with its own pool's (server/app.py)
        self.linker = Linker(store, box, settings, send=self._no_account)
        self.flows = FlowManager(settings, lambda cfg, tokens, who: self.linker.save(cfg, tokens, who))
        self.flows.send = self._no_account
        self.relay = RelayTokens(self.refresher)

    def _no_account(self) -> Send:
        return self.refresher.egress.sender(None)

    def close(self) -> None:
        self.flows.close()
