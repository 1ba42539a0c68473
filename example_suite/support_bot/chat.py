"""The support bot as a chat: it answers turn by turn and remembers the order you named.

The app receives the whole conversation (``{"messages": [...]}``, its own earlier answers
included). A question about an order without an order id ("Which carrier has it?") is about
the last order named earlier in the conversation; policy questions go to the support bot
(``bot.py``), order questions to the order system of the order agent. Deterministic, no model.
"""

from __future__ import annotations

import re
from typing import Any

from order_agent.agent import ORDERS

from .bot import answer

ORDER_ID = re.compile(r"\bA-\d{4}\b")
POLICY_WORDS = frozenset(("return", "returns", "refund", "refunds", "shipping", "express"))
FOLLOW_UP_WORDS = frozenset(("it", "order", "carrier", "arrive", "where", "when", "status"))


def _order_answer(order_id: str) -> str:
    order = ORDERS.get(order_id)
    if order is None:
        return f"I could not find order {order_id}."
    text = f"Order {order_id} is {order['status']}"
    if "carrier" in order:
        text += f" with {order['carrier']}"
    return text + f"; expected {order['eta']}."


def reply(request: dict[str, Any]) -> str:
    """The app under test: the conversation so far in, the next answer out."""
    messages = request["messages"]
    question = str(messages[-1]["content"])
    words = set(re.findall(r"[a-z]+", question.lower()))
    named = ORDER_ID.findall(question)
    if named and not words & POLICY_WORDS:
        return " ".join(_order_answer(order_id) for order_id in named)
    earlier = [
        order_id
        for message in messages[:-1]
        if message["role"] == "user"
        for order_id in ORDER_ID.findall(str(message["content"]))
    ]
    if earlier and words & FOLLOW_UP_WORDS and not words & POLICY_WORDS:
        return _order_answer(earlier[-1])
    text: str = answer(request)["choices"][0]["message"]["content"]
    return text
