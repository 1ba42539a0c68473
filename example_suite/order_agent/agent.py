"""The order agent: looks orders up and searches the help center, then answers.

It is deterministic on purpose (no model), so the example suite runs anywhere, and it returns
what an OpenAI tool-calling agent returns: the chat message list, with the assistant's
``tool_calls``, the ``tool`` messages holding their results, and the final answer.

It has three bugs, which genai_order_agent.yaml catches without a judge:

* routing: a question with a policy word ("shipped", "return", ...) goes to ``search_docs``,
  even when it names an order (the wrong tool);
* arguments: an order id typed in lower case is passed as typed (``a-1003``), and the order
  system only knows upper-case ids;
* retries: a delayed order is looked up a second time, with the same arguments (an extra call).
"""

from __future__ import annotations

import json
import re
from typing import Any

ORDERS: dict[str, dict[str, str]] = {
    "A-1001": {"status": "shipped", "carrier": "UPS", "eta": "3 June"},
    "A-1002": {"status": "processing", "eta": "6 June"},
    "A-1003": {"status": "delivered", "eta": "28 May"},
    "A-1004": {"status": "delayed", "carrier": "DHL", "eta": "9 June"},
}
DOCS: dict[str, str] = {
    "shipping": "Standard shipping takes 3-5 business days; express shipping takes 1 day.",
    "returns": "Items can be returned within 30 days of delivery.",
    "refunds": "Refunds are issued within 5 business days after the return is received.",
}
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up an order's status by its id (e.g. A-1001).",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_docs",
            "description": "Search the help center for a policy (shipping, returns, refunds).",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        },
    },
]
ORDER_ID = re.compile(r"\b[A-Za-z]-\d{4}\b")
TOPICS = {
    "ship": "shipping",
    "shipped": "shipping",
    "shipping": "shipping",
    "return": "returns",
    "returns": "returns",
    "refund": "refunds",
    "refunds": "refunds",
}


def lookup_order(order_id: str) -> dict[str, str]:
    return ORDERS.get(order_id, {"error": f"no order {order_id}"})


def search_docs(query: str) -> dict[str, str]:
    return {"topic": query, "text": DOCS.get(query, "No article found.")}


class _Transcript:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = list(messages)

    def call(self, name: str, **arguments: str) -> dict[str, str]:
        call_id = f"call_{sum(1 for m in self.messages if m['role'] == 'tool') + 1}"
        self.messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(arguments)},
                    }
                ],
            }
        )
        result = lookup_order(**arguments) if name == "lookup_order" else search_docs(**arguments)
        self.messages.append(
            {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)}
        )
        return result

    def answer(self, text: str) -> list[dict[str, Any]]:
        self.messages.append({"role": "assistant", "content": text})
        return self.messages


def _order_text(order_id: str, order: dict[str, str]) -> str:
    if "error" in order:
        return f"I could not find order {order_id}."
    text = f"Order {order_id} is {order['status']}"
    if "carrier" in order:
        text += f" with {order['carrier']}"
    return text + f"; expected {order['eta']}."


def run(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The app under test: receives ``{"messages": [...]}``, returns the chat message list."""
    messages = request["messages"]
    question = str(messages[-1]["content"])
    transcript = _Transcript(messages)
    words = re.findall(r"[a-z]+", question.lower())
    topic = next((TOPICS[w] for w in words if w in TOPICS), None)
    if topic is not None:  # the routing bug: a policy word wins over an order id
        doc = transcript.call("search_docs", query=topic)
        return transcript.answer(doc["text"])
    order_ids = ORDER_ID.findall(question)  # the argument bug: ids are passed as typed
    if not order_ids:
        return transcript.answer(
            "Hi! I can look up your orders and answer shipping, return and refund questions."
        )
    answers = []
    for order_id in order_ids:
        order = transcript.call("lookup_order", order_id=order_id)
        if order.get("status") == "delayed":  # the retry bug: the same call again
            order = transcript.call("lookup_order", order_id=order_id)
        answers.append(_order_text(order_id, order))
    return transcript.answer(" ".join(answers))
