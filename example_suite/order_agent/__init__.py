"""A small tool-using agent for the example evaluation suite (genai_order_agent.yaml)."""
