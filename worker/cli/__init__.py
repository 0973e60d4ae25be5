"""The `autorec` command line: argument parsing, the sub-commands, `autorec status`."""
