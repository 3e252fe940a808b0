"""Test suites for assistants: cases and assertions, runs across versions, replayed conversations, and
promptfoo's test files. Import the modules themselves (`studio.suites.runner`, ...): the store imports the
model from here, so this package's top imports nothing of the store."""
