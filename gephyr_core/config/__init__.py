"""Settings: `config.toml` (round-tripped with tomlkit) + env overlays + validation.

The commented template shipped in `gephyr_core/data/config_template.toml` is both the file
written on first use and the source of every default, so defaults live in data, not code.
A `Settings` object is an immutable snapshot handed to the server and the operations;
`config.document.ConfigStore` reads and writes the file.
"""

from gephyr_core.config.settings import Settings, build_settings, defaults

__all__ = ["Settings", "build_settings", "defaults"]
