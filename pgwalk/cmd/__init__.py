"""One module per CLI subcommand; each imports the library inside its callback."""
