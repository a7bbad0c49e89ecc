"""Developer tooling (local invoke, emulator set-up); never shipped to Lambda."""
