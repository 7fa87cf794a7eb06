"""crossway: one local endpoint for every LLM client and every upstream dialect."""

__version__ = "0.1.0"
