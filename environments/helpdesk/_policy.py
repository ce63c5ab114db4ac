"""The store's written support policy. Its numbers (refund window, escalation threshold) vary
per task, so an agent has to read it rather than remember it."""

from __future__ import annotations

from ._world import money


def policy_text(store: str, window_days: int, threshold_cents: int) -> str:
    limit = money(threshold_cents)
    return f"""{store}: customer-support policy
1. Identity. Before changing anything, verify the customer: the email the ticket came from must belong
   to a customer account (find_customer), and every order the customer asks about must belong to that
   same account. If it does not, change nothing and tell the customer you could not verify that the
   order belongs to their account.
2. Refunds. Only for delivered items, and only within {window_days} days of the order's delivery date.
   Outside the {window_days}-day window, refuse politely and say that the return window has passed.
3. Refund limit. If the refund a ticket asks for totals more than {limit}, do not refund it yourself:
   escalate the ticket to a supervisor (escalate) and tell the customer it has been escalated.
4. Exchanges. Only for a delivered item, only for another variant (size or color) of the same
   product, and only if that variant is in stock. Otherwise refuse and say why.
5. Address changes. Only while the order is pending or processing. Once it has shipped, refuse.
6. Cancellations. Only while the order is pending or processing. Cancelling refunds the whole order
   automatically (the refund limit does not apply to cancellations). Once it has shipped, refuse.
7. Do only what the customer asked for, and always reply on the ticket (reply): say what you did
   (refund amounts written like $12.34, the new shipping address, the new variant) or why you could not."""
