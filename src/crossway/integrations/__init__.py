"""Client integrations: config generators for OpenCode, Claude Code and Codex, the model list
they share with GET /v1/models, and `crossway doctor`."""
