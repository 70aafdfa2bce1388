"""One module per CLI subcommand; each imports the library inside its callback."""

__all__: list[str] = []
